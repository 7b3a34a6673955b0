# Sourced by every script: creates or reuses .venv, installs what is missing, sets the environment.
# It leaves the working directory alone, so that paths given to a stage are relative to the caller's.
# Extra packages to install can be named in RLNAS_EXTRA_PACKAGES (the test script adds its own).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
if [ ! -x "$VENV/bin/python" ]; then
    echo "creating $VENV" >&2
    "${PYTHON:-python3}" -m venv "$VENV" || { echo "error: cannot create $VENV (python3 -m venv failed)" >&2; exit 2; }
fi
# Install only what no earlier successful install recorded: the requirements file (by checksum) and
# each extra package, one stamp line each, so any script after any other installs nothing it has.
stamp="$VENV/.rlnas-installed"
wanted_lines() {
    printf 'requirements %s\n' "$(cksum < "$ROOT/requirements.txt")"
    for package in ${RLNAS_EXTRA_PACKAGES:-}; do printf 'package %s\n' "$package"; done
}
missing="$(wanted_lines | { if [ -f "$stamp" ]; then grep -vxF -f "$stamp" || true; else cat; fi; })"
if [ -n "$missing" ]; then
    echo "installing requirements into $VENV (torch comes from the local wheel cache when present)" >&2
    "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2 || true
    # shellcheck disable=SC2086
    "$VENV/bin/python" -m pip install --quiet -r "$ROOT/requirements.txt" ${RLNAS_EXTRA_PACKAGES:-} >&2 \
        || { echo "error: pip install failed (see above)" >&2; exit 2; }
    wanted_lines >> "$stamp"
fi
export PATH="$VENV/bin:$PATH"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
# Offline data beside the project (../shared/data), unless the user points elsewhere.
if [ -z "${RLNAS_DATA:-}" ] && [ -d "$ROOT/../shared/data" ]; then
    RLNAS_DATA="$(cd "$ROOT/../shared/data" && pwd)"
    export RLNAS_DATA
fi

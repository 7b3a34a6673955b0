# Sourced by every script: creates or reuses .venv, installs what is missing, sets the environment.
# It leaves the working directory alone, so that paths given to a stage are relative to the caller's.
# Extra packages to install can be named in RLNAS_EXTRA_PACKAGES (the test script adds its own).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
if [ ! -x "$VENV/bin/python" ]; then
    echo "creating $VENV" >&2
    "${PYTHON:-python3}" -m venv "$VENV" || { echo "error: cannot create $VENV (python3 -m venv failed)" >&2; exit 2; }
fi
# Reinstall only when the wanted package list changed since the last successful install.
wanted="$(cat "$ROOT/requirements.txt"; echo "${RLNAS_EXTRA_PACKAGES:-}")"
stamp="$VENV/.rlnas-installed"
if [ ! -f "$stamp" ] || ! grep -qxF -- "$(printf '%s' "$wanted" | cksum)" "$stamp"; then
    echo "installing requirements into $VENV (torch comes from the local wheel cache when present)" >&2
    "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2 || true
    # shellcheck disable=SC2086
    "$VENV/bin/python" -m pip install --quiet -r "$ROOT/requirements.txt" ${RLNAS_EXTRA_PACKAGES:-} >&2 \
        || { echo "error: pip install failed (see above)" >&2; exit 2; }
    printf '%s' "$wanted" | cksum >> "$stamp"
    # the requirements alone are installed too: a plain stage script after the tests needs no install
    printf '%s' "$(cat "$ROOT/requirements.txt"; echo)" | cksum >> "$stamp"
fi
export PATH="$VENV/bin:$PATH"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
# Offline data beside the project (../shared/data), unless the user points elsewhere.
if [ -z "${RLNAS_DATA:-}" ] && [ -d "$ROOT/../shared/data" ]; then
    RLNAS_DATA="$(cd "$ROOT/../shared/data" && pwd)"
    export RLNAS_DATA
fi

#!/usr/bin/env bash
# The test command: installs what is missing, then runs the whole suite (pytest arguments pass through).
set -euo pipefail
export RLNAS_EXTRA_PACKAGES="pytest>=7 nas-bench-201"
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
exec python -m pytest "$@"

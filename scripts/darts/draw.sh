#!/usr/bin/env bash
# python -m darts_search_space.draw --arch NAME_OR_TEXT --out cells.png
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
exec python -m darts_search_space.draw "$@"

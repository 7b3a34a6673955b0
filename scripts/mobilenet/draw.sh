#!/usr/bin/env bash
# python -m mobilenet_search_space.draw --arch "2 0 -1 ..." --out FILE.png
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
exec python -m mobilenet_search_space.draw "$@"

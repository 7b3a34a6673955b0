#!/usr/bin/env bash
# python -m darts_search_space.train_supernet --config CONFIG [--set key=value ...] [--run-dir DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
exec python -m darts_search_space.train_supernet "$@"

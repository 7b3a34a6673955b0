#!/usr/bin/env bash
# python -m nas_bench_201.search --config CONFIG [--set key=value ...] [--run-dir DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
exec python -m nas_bench_201.search "$@"

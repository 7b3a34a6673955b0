#!/usr/bin/env bash
# python -m nas_bench_201.angles --init CKPT0 --trained CKPT --out FILE.csv
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
exec python -m nas_bench_201.angles "$@"

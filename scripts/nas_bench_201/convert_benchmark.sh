#!/usr/bin/env bash
# python -m nas_bench_201.convert_benchmark --pth NAS-Bench-201-v1_1-096897.pth --out nb201_accuracies.csv
set -euo pipefail
export RLNAS_EXTRA_PACKAGES="nas-bench-201"
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
exec python -m nas_bench_201.convert_benchmark "$@"

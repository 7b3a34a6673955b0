#!/usr/bin/env bash
# Paper Tables 1 and 2 on NAS-Bench-201 (methods A-D), plus the transfer view and tau during training.
#   bash scripts/reproduce/nb201_table12.sh --preset cpu|paper [--set key=value ...] [--runs DIR] [--out DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
exec python -m nas_bench_201.reproduce table12 "$@"

#!/usr/bin/env bash
# Paper Table 7 on NAS-Bench-201: training-free angle, random search and RLNAS.
#   bash scripts/reproduce/nb201_table7.sh --preset cpu|paper [--set key=value ...] [--runs DIR] [--out DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
exec python -m nas_bench_201.reproduce table7 "$@"

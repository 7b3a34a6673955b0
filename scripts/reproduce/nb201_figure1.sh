#!/usr/bin/env bash
# Paper Figure 1 on NAS-Bench-201: test accuracy and Kendall tau against the number of random classes.
#   bash scripts/reproduce/nb201_figure1.sh --preset cpu|paper [--set key=value ...] [--runs DIR] [--out DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
exec python -m nas_bench_201.reproduce figure1 "$@"

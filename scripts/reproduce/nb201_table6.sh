#!/usr/bin/env bash
# Paper Table 6 on NAS-Bench-201: the four random-label generation modes.
#   bash scripts/reproduce/nb201_table6.sh --preset cpu|paper [--set key=value ...] [--runs DIR] [--out DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
exec python -m nas_bench_201.reproduce table6 "$@"

#!/usr/bin/env bash
# EPS (evolving proxy search space) beside SPOS and RLNAS on NAS-Bench-201.
#   bash scripts/reproduce/nb201_eps.sh --preset cpu|paper [--set key=value ...] [--runs DIR] [--out DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
exec python -m nas_bench_201.reproduce eps "$@"

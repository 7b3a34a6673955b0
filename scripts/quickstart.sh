#!/usr/bin/env bash
# RLNAS end to end on the embedded synthetic dataset: trains a tiny supernet with random labels,
# ranks all 15,625 NAS-Bench-201 architectures by angle, runs the evolution search and prints the
# top architectures, their true accuracies and Kendall tau (from the NAS-Bench-201 table shipped in
# nas_bench_201/). Needs no data folder; writes runs/nas_bench_201/quickstart/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
exec python -m nas_bench_201.pipeline --config configs/nas_bench_201/quickstart.yaml "$@"

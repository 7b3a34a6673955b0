#!/usr/bin/env bash
# python -m nas_bench_201.retrain --config CONFIG [--arch ARCH|INDEX|search:RUN_DIR] [--set key=value ...] [--run-dir DIR]
# Several GPUs: NPROC=8 scripts/nas_bench_201/retrain.sh ... runs it under torchrun (DDP, batch_size is the global batch).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
if [ "${NPROC:-1}" -gt 1 ]; then
    exec torchrun --standalone --nproc_per_node="$NPROC" -m nas_bench_201.retrain "$@"
fi
exec python -m nas_bench_201.retrain "$@"

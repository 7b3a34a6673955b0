#!/usr/bin/env bash
# python -m darts_search_space.retrain --config CONFIG [--arch NAME_OR_TEXT|search:RUN_DIR] [--init-channels C]
#                                      [--set key=value ...] [--run-dir DIR]
# Several GPUs: NPROC=8 scripts/darts/retrain.sh ... runs it under torchrun (DDP, batch_size is the global batch).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
if [ "${NPROC:-1}" -gt 1 ]; then
    exec torchrun --standalone --nproc_per_node="$NPROC" -m darts_search_space.retrain "$@"
fi
exec python -m darts_search_space.retrain "$@"

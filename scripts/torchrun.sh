#!/usr/bin/env bash
# Shared by the scripts/<space>/*_ddp.sh wrappers:  torchrun.sh MODULE NPROC CONFIG [args ...]
# runs  torchrun --standalone --nproc_per_node=NPROC -m MODULE --config CONFIG [args ...]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
module="$1"
shift
if [ $# -lt 2 ] || ! [[ "$1" =~ ^[1-9][0-9]*$ ]]; then
    echo "error: expected NPROC CONFIG [--set key=value ...] [--run-dir DIR] (NPROC a positive number of processes; runs $module under torchrun)" >&2
    exit 2
fi
nproc="$1"
config="$2"
shift 2
if [ ! -f "$config" ]; then
    echo "error: config file not found: $config" >&2
    exit 2
fi
exec torchrun --standalone --nproc_per_node="$nproc" -m "$module" --config "$config" "$@"

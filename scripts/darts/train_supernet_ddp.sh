#!/usr/bin/env bash
# Supernet training on several GPUs (or CPU processes) of this machine with DDP:
#   scripts/darts/train_supernet_ddp.sh NPROC CONFIG [--set key=value ...] [--run-dir DIR] [--stop-after-epoch E]
# runs  torchrun --standalone --nproc_per_node=NPROC -m darts_search_space.train_supernet --config CONFIG ...
# train.batch_size is the global batch (split over the NPROC processes); only rank 0 writes.
# Several machines: call torchrun yourself with --nnodes/--rdzv-endpoint and the same module.
exec bash "$(dirname "${BASH_SOURCE[0]}")/../torchrun.sh" darts_search_space.train_supernet "$@"

#!/usr/bin/env bash
# python -m darts_search_space.flops --arch NAME_OR_TEXT [--dataset imagenet|cifar10] [--init-channels C]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
exec python -m darts_search_space.flops "$@"

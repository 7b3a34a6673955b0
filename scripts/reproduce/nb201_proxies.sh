#!/usr/bin/env bash
# Zero-cost proxies (synflow, snip, grad_norm, jacov, naswot, params, flops) beside the angle on NAS-Bench-201.
#   bash scripts/reproduce/nb201_proxies.sh --preset cpu|paper [--set key=value ...] [--runs DIR] [--out DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
exec python -m nas_bench_201.reproduce proxies "$@"

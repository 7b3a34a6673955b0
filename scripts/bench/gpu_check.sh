#!/usr/bin/env bash
# One-shot GPU readiness check (correctness and throughput on one CUDA GPU, <= 8 minutes):
#   scripts/bench/gpu_check.sh OUT.json [--workers N]
# Writes OUT.json and prints a summary; exit 0 when every check passed, 1 otherwise, 2 without CUDA.
set -euo pipefail
if [[ $# -lt 1 ]]; then
  echo "usage: scripts/bench/gpu_check.sh OUT.json [--workers N]" >&2
  exit 2
fi
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
exec python "$ROOT/scripts/bench/gpu_check.py" "$@"

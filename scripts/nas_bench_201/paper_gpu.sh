#!/usr/bin/env bash
# NAS-Bench-201 Table 2 at the paper's settings on one GPU, one supernet per call (a short GPU slot):
#   bash scripts/nas_bench_201/paper_gpu.sh D_released|B|D_drop [--set key=value ...] [--out DIR]
# D_released: D as released, with C scoring its supernet by val_acc; B: true labels, with A; D_drop:
# D with PyTorch 2's dropped gradients and dead ends skipped. The CIFAR-10 training images come from $RLNAS_DATA/cifar10/train, else from the
# pack $RLNAS_PACK (default data/packed/cifar10_train.npz; scripts/data/file_pack.py makes it),
# unpacked into $RLNAS_UNPACKED (default data)/cifar10/train. Each call adds its supernet to the
# report in --out (default reports/nb201_paper_gpu; the earlier calls' supernets are kept).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
case "${1:-}" in
  D_released) order="[D_released,C]" ;;
  B) order="[B,A]" ;;
  D_drop) order="[D_drop]" ;;
  *) echo "error: bad arguments: the first names the run (D_released, B or D_drop), got '${1:-}'" >&2; exit 2 ;;
esac
shift
pack="${RLNAS_PACK:-$ROOT/data/packed/cifar10_train.npz}"
unpacked="${RLNAS_UNPACKED:-$ROOT/data}"
if [ -z "${RLNAS_DATA:-}" ] || [ ! -d "$RLNAS_DATA/cifar10/train" ]; then
  if [ ! -f "$pack" ]; then
    echo "error: no CIFAR-10 image folder (\$RLNAS_DATA/cifar10/train) and no pack $pack" >&2
    exit 2
  fi
  python "$ROOT/scripts/data/file_pack.py" unpack "$pack" "$unpacked/cifar10/train"
  export RLNAS_DATA="$unpacked"
fi
out="$ROOT/reports/nb201_paper_gpu"
previous=""
for arg in "$@"; do  # the last --out given wins, as in the study's own arguments
  if [ "$previous" = "--out" ]; then out="$arg"; fi
  previous="$arg"
done
keep=()
if [ -f "$out/results.json" ]; then keep=(--keep "$out/results.json"); fi
exec python -m nas_bench_201.reproduce table12 --config "$ROOT/nas_bench_201/reproduce/experiments/table12_paper_gpu.yaml" \
  --out "$out" --set "run_order=$order" "${keep[@]}" "$@"

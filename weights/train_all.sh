#!/usr/bin/env bash
# How every shipped weights file was made: run from the repository root with ../shared beside it.
# Usage: weights/train_all.sh QUEUE   (QUEUE = a: espcn then fsrcnn; b: srcnn; the two
# queues ran side by side, one CPU thread each, on the 2-core development machine).
# Each ×2/×4 run starts from the ×3 weights (--init), as the FSRCNN paper fine-tunes across
# scales. Set14 is never seen: validation, and so the choice of the kept weights, is on Set5.
set -euo pipefail
DATA="../shared/data"
TRAIN=("$DATA/T91" "$DATA/BSD200")
VAL="$DATA/Set5"
export OMP_NUM_THREADS=1
mkdir -p runs

run() {  # model scale steps [extra args]
  local model=$1 scale=$2 steps=$3; shift 3
  local out="runs/${model}_x${scale}.safetensors"
  if [ -f "$out" ]; then return; fi
  local resume=()
  [ -f "$out.ckpt.safetensors" ] && resume=(--resume)
  srup train "${TRAIN[@]}" -m "$model" -s "$scale" -o "$out" --val "$VAL" \
    --max-steps "$steps" --workers 0 "${resume[@]}" "$@"
}

case "${1:-}" in
  a)
    run espcn 3 6000
    run espcn 2 3000 --init runs/espcn_x3.safetensors --lr 5e-4
    run espcn 4 3000 --init runs/espcn_x3.safetensors --lr 5e-4
    run fsrcnn 3 6000
    run fsrcnn 2 3000 --init runs/fsrcnn_x3.safetensors --lr 5e-4
    run fsrcnn 4 3000 --init runs/fsrcnn_x3.safetensors --lr 5e-4
    ;;
  b)
    run srcnn 3 5000 --batch-size 16 --patch-size 16
    run srcnn 2 2500 --batch-size 16 --patch-size 16 --init runs/srcnn_x3.safetensors --lr 5e-4
    run srcnn 4 2500 --batch-size 16 --patch-size 16 --init runs/srcnn_x3.safetensors --lr 5e-4
    ;;
  *) echo "usage: $0 a|b" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# The exact commands that made every shipped clean SRCNN, FSRCNN and ESPCN file (the
# real-photo variants: train_real.sh; ESPCN-7, trained on a GPU: train_espcn7.sh), run
# from the repository root with ../shared beside it, one CPU thread per queue on the 2-core
# development machine.
# Usage: weights/train_all.sh QUEUE   (a: espcn, fsrcnn ×3, srcnn; b: fsrcnn ×2/×4;
# c: ESPCN second stages; d–g: the second session's further stages, f after d and g after
# e — queues ran side by side; h and i: the third session's, side by side, j and then k
# after h, l and m side by side at the end)
# Each ×2/×4 run starts from the ×3 weights (--init), as the FSRCNN paper fine-tunes across
# scales. Set14 is never seen: validation, and so the choice of the kept weights, is on Set5.
# A stopped run continues where it stopped (--resume from runs/*.ckpt.safetensors).
set -euo pipefail
DATA="../shared/data"
TRAIN=("$DATA/T91" "$DATA/BSD200")
VAL="$DATA/Set5"
export OMP_NUM_THREADS=1
mkdir -p runs

run() {  # model scale steps [extra args]  (RUN_SUFFIX names a further stage)
  local model=$1 scale=$2 steps=$3; shift 3
  local out="runs/${model}_x${scale}${RUN_SUFFIX:-}.safetensors"
  if [ -f "$out" ]; then return; fi
  local resume=()
  [ -f "$out.ckpt.safetensors" ] && resume=(--resume)
  srup train "${TRAIN[@]}" -m "$model" -s "$scale" -o "$out" --val "$VAL" \
    --max-steps "$steps" --workers 0 "${resume[@]}" "$@"
}

case "${1:-}" in
  a)
    run espcn 3 12000
    run espcn 2 5000 --init runs/espcn_x3.safetensors --lr 5e-4
    run espcn 4 5000 --init runs/espcn_x3.safetensors --lr 5e-4
    run fsrcnn 3 12000
    # ESPCN ×3 sat near 31.4 dB at lr 1e-3 for half its run: a second, gentler stage.
    RUN_SUFFIX=_ft run espcn 3 6000 --init runs/espcn_x3.safetensors --lr 2e-4
    run srcnn 3 1500 --batch-size 16 --patch-size 16 --lr 3e-4
    run srcnn 2 600 --batch-size 16 --patch-size 16 --init runs/srcnn_x3.safetensors --lr 1.5e-4
    run srcnn 4 600 --batch-size 16 --patch-size 16 --init runs/srcnn_x3.safetensors --lr 1.5e-4
    # Left-over session time: second stages, each from the file above it.
    RUN_SUFFIX=_ft run srcnn 3 3000 --batch-size 16 --patch-size 16 --init runs/srcnn_x3.safetensors --lr 2e-4
    ;;
  c)
    RUN_SUFFIX=_ft run espcn 4 4000 --init runs/espcn_x4.safetensors --lr 2e-4
    RUN_SUFFIX=_ft run espcn 2 4000 --init runs/espcn_x2.safetensors --lr 2e-4
    ;;
  b)
    run fsrcnn 2 1500 --init runs/fsrcnn_x3.safetensors --lr 5e-4
    run fsrcnn 4 1500 --init runs/fsrcnn_x3.safetensors --lr 5e-4
    ;;
  d)
    # Second session: SRCNN ×3 a third stage, then ×2/×4 fine-tuned from it for longer.
    RUN_SUFFIX=_ft2 run srcnn 3 6000 --batch-size 16 --patch-size 16 --init runs/srcnn_x3_ft.safetensors --lr 1e-4
    RUN_SUFFIX=_ft2 run srcnn 2 6000 --batch-size 16 --patch-size 16 --init runs/srcnn_x3_ft2.safetensors --lr 2e-4
    RUN_SUFFIX=_ft2 run srcnn 4 4000 --batch-size 16 --patch-size 16 --init runs/srcnn_x3_ft2.safetensors --lr 2e-4
    ;;
  e)
    # Second session: ESPCN ×3 a long third stage; FSRCNN ×3 a gentler second stage, then
    # ×2/×4 fine-tuned from it for longer than the first session's 1,500 steps.
    RUN_SUFFIX=_ft2 run espcn 3 15000 --init runs/espcn_x3_ft.safetensors --lr 2e-4
    RUN_SUFFIX=_ft run fsrcnn 3 8000 --init runs/fsrcnn_x3.safetensors --lr 2e-4
    RUN_SUFFIX=_ft run fsrcnn 2 4000 --init runs/fsrcnn_x3_ft.safetensors --lr 3e-4
    RUN_SUFFIX=_ft run fsrcnn 4 4000 --init runs/fsrcnn_x3_ft.safetensors --lr 3e-4
    ;;
  f)
    # Second session, after queue d: ESPCN ×2/×4 a third stage, each from its own scale.
    RUN_SUFFIX=_ft2 run espcn 2 6000 --init runs/espcn_x2_ft.safetensors --lr 2e-4
    RUN_SUFFIX=_ft2 run espcn 4 6000 --init runs/espcn_x4_ft.safetensors --lr 2e-4
    ;;
  g)
    # Second session, after queue e: SRCNN ×2 a gentler fourth stage.
    RUN_SUFFIX=_ft3 run srcnn 2 4000 --batch-size 16 --patch-size 16 --init runs/srcnn_x2_ft2.safetensors --lr 1e-4
    ;;
  h)
    # Third session: FSRCNN last stages with an MSE loss (PSNR is an MSE measure; the L1
    # stages had flattened out), each from its own scale's best file.
    RUN_SUFFIX=_ft2 run fsrcnn 2 10000 --loss mse --init runs/fsrcnn_x2_ft.safetensors --lr 1e-4
    RUN_SUFFIX=_ft2 run fsrcnn 4 8000 --loss mse --init runs/fsrcnn_x4_ft.safetensors --lr 1e-4
    RUN_SUFFIX=_ft2 run fsrcnn 3 8000 --loss mse --init runs/fsrcnn_x3_ft.safetensors --lr 1e-4
    ;;
  i)
    # Third session: SRCNN last stages with an MSE loss, as queue h.
    RUN_SUFFIX=_ft4 run srcnn 2 6000 --batch-size 16 --patch-size 16 --loss mse --init runs/srcnn_x2_ft3.safetensors --lr 1e-4
    RUN_SUFFIX=_ft3 run srcnn 4 6000 --batch-size 16 --patch-size 16 --loss mse --init runs/srcnn_x4_ft2.safetensors --lr 1e-4
    RUN_SUFFIX=_ft3 run srcnn 3 6000 --batch-size 16 --patch-size 16 --loss mse --init runs/srcnn_x3_ft2.safetensors --lr 1e-4
    ;;
  j)
    # Third session, after queue h: FSRCNN ×2 sat at 36.95 ± 0.03 dB in its MSE stage; a
    # last, quieter one (4× the batch, a third of the learning rate).
    RUN_SUFFIX=_ft3 run fsrcnn 2 3000 --batch-size 128 --loss mse --init runs/fsrcnn_x2_ft2.safetensors --lr 3e-5
    ;;
  k)
    # Third session, after queue j: SRCNN ×2 likewise sat at 36.59 ± 0.01 dB in its MSE stage.
    RUN_SUFFIX=_ft5 run srcnn 2 3000 --batch-size 64 --patch-size 16 --loss mse --init runs/srcnn_x2_ft4.safetensors --lr 3e-5
    ;;
  l)
    # Third session, last: SRCNN ×3 was still rising at the end of its MSE stage (queue i).
    RUN_SUFFIX=_ft4 run srcnn 3 4000 --batch-size 32 --patch-size 16 --loss mse --init runs/srcnn_x3_ft3.safetensors --lr 5e-5
    ;;
  m)
    # Third session, last, beside l: FSRCNN ×4, a quieter MSE stage (as queue j for ×2).
    RUN_SUFFIX=_ft3 run fsrcnn 4 4000 --batch-size 64 --loss mse --init runs/fsrcnn_x4_ft2.safetensors --lr 5e-5
    ;;
  *) echo "usage: $0 a|b|c|d|e|f|g|h|i|j|k|l|m" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# The real-photo variants (fourth session), run from the repository root with ../shared beside
# it: two queues side by side (fsrcnn, espcn), one CPU thread each, on the 2-core machine.
# Usage: weights/train_real.sh fsrcnn|espcn
# --degradation real: per patch, blur (isotropic or not), a downscale by MATLAB bicubic, area
# or bilinear, Gaussian or Poisson-like noise, JPEG at quality 30–95 and now and then a second
# round (srup.degrade); a quarter of the patches come from boards of text rendered by
# srup.boards. Each run is fine-tuned from the clean weights of its own scale and validated
# on Set5 degraded the same way (one fixed draw per image). Set14 is never seen.
# A stopped run continues where it stopped (--resume from runs/*.ckpt.safetensors).
set -euo pipefail
DATA="../shared/data"
TRAIN=("$DATA/T91" "$DATA/BSD200")
export OMP_NUM_THREADS=1
mkdir -p runs
model=${1:?usage: $0 fsrcnn|espcn}

run() {  # scale steps [extra args]
  local scale=$1 steps=$2; shift 2
  local out="runs/${model}-real_x${scale}${RUN_SUFFIX:-}.safetensors"
  if [ -f "$out" ]; then return; fi
  local resume=()
  [ -f "$out.ckpt.safetensors" ] && resume=(--resume)
  srup train "${TRAIN[@]}" -m "$model" -s "$scale" -o "$out" --val "$DATA/Set5" \
    --max-steps "$steps" --degradation real --synthetic-text 0.25 --workers 1 \
    "${resume[@]}" "$@"
}

run 3 10000 --lr 3e-4 --init "weights/${model}_x3.safetensors"
run 2 4000 --lr 3e-4 --init "weights/${model}_x2.safetensors"
run 4 4000 --lr 3e-4 --init "weights/${model}_x4.safetensors"

#!/usr/bin/env bash
# ESPCN-7 (the quality tier) on one GPU, an H100 lent for one session, runs side by side,
# clean batches cut on the GPU (--sampler device). The data travelled as lossless WebP
# copies of ../shared (the device machine's tree is capped at 64 MiB): DATA=.gpudata there.
# Every run is stopped by SIGTERM after SECONDS (leaving its checkpoint) and resumed by the
# next call of the same stage, so a run longer than one device call spans two.
# Usage: weights/train_espcn7.sh STAGE SECONDS
#   a: ×2, ×3, ×4 from scratch, 50,000 steps each (two device calls). ×2 never left
#      bicubic (Set5 33.68 dB at 31,000 steps: its ReLUs died early at lr 1e-3); ×3 and ×4
#      trained normally.
#   b: ×3 and ×4 finish stage a; ×2 again, from the ×3 weights at 31,000 steps (as the
#      FSRCNN paper fine-tunes across scales) at half the rate; the real-photo ×3, from the
#      same ×3 weights, as weights/train_real.sh trains the others (host batches: JPEG has
#      no device form). It ran 2,404 steps there (8 steps/s: the JPEG and noise of its
#      patches are host work, and the host sampler's threads were all busy) and finished
#      on the 2-core development CPU at the same 8 steps/s (REAL=0 skips it here).
set -uo pipefail
DATA="${DATA:-../shared/data}"
TRAIN=("$DATA/T91" "$DATA/BSD200")
STAGE=$1 LEFT=$2
export OMP_NUM_THREADS=2
mkdir -p runs

run() {  # name scale steps [extra args]
  local name=$1 scale=$2 steps=$3; shift 3
  local out="runs/${name}_x${scale}.safetensors"
  [ -f "$out" ] && return
  local resume=()
  [ -f "$out.ckpt.safetensors" ] && resume=(--resume)
  timeout -s TERM "$LEFT" python3 -m srup train "${TRAIN[@]}" -m espcn7 -s "$scale" -o "$out" \
    --val "$DATA/Set5" --max-steps "$steps" --checkpoint-minutes 2 -q "${resume[@]}" "$@" \
    > "runs/${name}_x${scale}.log" 2>&1
}

clean=(--batch-size 64 --patch-size 32 --sampler device)
case "$STAGE" in
  a|b)
    run espcn7 3 50000 "${clean[@]}" --lr 1e-3 &
    run espcn7 4 50000 "${clean[@]}" --lr 1e-3 &
    if [ "$STAGE" = a ]; then
      run espcn7_scratch 2 50000 "${clean[@]}" --lr 1e-3 &
    else
      run espcn7 2 20000 "${clean[@]}" --lr 5e-4 --init runs/espcn7_x3_31k.safetensors &
      [ "${REAL:-1}" = 1 ] && run espcn7-real 3 8000 --lr 3e-4 --init runs/espcn7_x3_31k.safetensors \
        --degradation real --val-degradation phone --synthetic-text 0.25 --loss mse \
        --workers 8 --sampler host &
    fi
    wait
    ;;
  *) echo "usage: $0 a|b SECONDS" >&2; exit 2 ;;
esac

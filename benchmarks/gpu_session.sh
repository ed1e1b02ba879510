#!/usr/bin/env bash
# What a session lent a GPU should measure first for the CUDA path (#13), in one call of
# under eight minutes, so that a short loan is spent measuring rather than setting up.
#
# Run from the repository root on the GPU machine, with the data sets carried in the
# git-ignored .gpudata/ (made here first by `python benchmarks/gpudata.py`: the device's
# tree is capped at 64 MiB and cannot reach ../shared) and $OUT set to the folder that
# comes back:
#
#     OUT=/tmp/out bash benchmarks/gpu_session.sh
#
# Writes to $OUT: the GPU, the CUDA tests, benchmarks/gpu.py's rows for the targets (ESPCN
# and FSRCNN ×3: speed, time split, copy floor, 108 MP memory, training steps/s) with a
# kernel profile, the step counts of benchmarks/train_overhead.py, and every test. Each
# part has its own time limit, so one that hangs still leaves the others' results. The
# whole table (every model and scale) is a second call: python3 benchmarks/gpu.py.
set -u
OUT=${OUT:?set OUT to the folder for the results}
DATA=${DATA:-.gpudata}
PY=${PYTHON:-python3}
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1 SRUP_SHARED_DATA=$PWD/$DATA
mkdir -p "$OUT"

{ nvidia-smi; $PY -c "import torch; print(torch.__version__, torch.cuda.get_device_name())"; } \
    > "$OUT/device.txt" 2>&1
cat "$OUT/device.txt"

timeout 90 $PY -m pytest -q -p no:cacheprovider -m cuda tests > "$OUT/pytest_cuda.log" 2>&1
echo "CUDA tests: rc $?; $(tail -1 "$OUT/pytest_cuda.log")"

timeout 150 $PY benchmarks/gpu.py --models espcn,fsrcnn --scales 3 --train --data "$DATA" \
    --profile "$OUT/profile.txt" --json "$OUT/gpu.json" > "$OUT/gpu.md" 2>&1
echo "gpu.py: rc $?"
tail -25 "$OUT/gpu.md"

(cd benchmarks && timeout 30 "$PY" train_overhead.py > "$OUT/train_overhead.md" 2>&1)

timeout 200 $PY -m pytest -q -p no:cacheprovider tests > "$OUT/pytest_all.log" 2>&1
echo "all tests: rc $?; $(tail -1 "$OUT/pytest_all.log")"

"""--max-memory bounds memory: batch's estimate of a picture's peak is at least the peak RSS
measured on the CPU, on every route (plain ×4, a resize to a size no network makes, alpha
flattened into JPEG), each measured in its own process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

MEASURE = r"""
import gc, json, resource, sys
from pathlib import Path
import numpy as np
from PIL import Image
from srup import batch
from srup.engine import Engine
from srup.sizing import Sizing

w, h, channels, width, fmt, folder = sys.argv[1:]
w, h, channels, folder = int(w), int(h), int(channels), Path(folder)
rng = np.random.default_rng(0)
px = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)  # partial alpha when 4
Image.fromarray(px).save(folder / "in.png")
Image.fromarray(px[:16, :16]).save(folder / "small.png")
suffix = {"PNG": ".png", "JPEG": ".jpg"}[fmt]
options = dict(model="espcn", weights=None, device="cpu", tile="auto", precision="fp32")
warm = Engine(Sizing(4.0, None, None, "contain"), **options)
batch.run_job(warm, batch.Job(folder / "small.png", folder / f"small{suffix}", fmt))
sizing = Sizing(4.0, None, None, "contain")
if width != "0":
    sizing = Sizing(None, int(width), None, "contain")
up = Engine(sizing, **options)
gc.collect()
base = int(open("/proc/self/statm").read().split()[1]) * 4096
res = batch.run_job(up, batch.Job(folder / "in.png", folder / f"out{suffix}", fmt))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
est = batch.estimate_memory(up, w, h, channels, 1, fmt in batch.FLATTENED_FORMATS)
print(json.dumps({"status": res.status, "delta": peak - base, "estimate": est.total}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
@pytest.mark.parametrize(
    "channels,width,fmt",
    [(3, 0, "PNG"), (4, 0, "PNG"), (3, 2760, "PNG"), (4, 2760, "PNG"), (4, 0, "JPEG")],
    ids=["rgb-x4", "rgba-x4", "rgb-resize", "rgba-resize", "rgba-flatten"],
)
def test_the_memory_estimate_is_at_least_the_measured_peak(tmp_path, channels, width, fmt):
    args = [sys.executable, "-c", MEASURE, "700", "500", str(channels), str(width), fmt]
    run = subprocess.run([*args, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["status"] == "done"
    assert got["estimate"] >= got["delta"], got

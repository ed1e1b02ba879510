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
from srup.runtime.auto import Engine
from srup.imaging.sizing import Sizing

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
try:  # the peak from here on: what came before (imports, warm-up) is not the job's
    Path("/proc/self/clear_refs").write_text("5")
    reset = True
except OSError:
    reset = False
res = batch.run_job(up, batch.Job(folder / "in.png", folder / f"out{suffix}", fmt))
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")]
if reset and hwm:
    peak = int(hwm[0].split()[1]) * 1024
else:
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


LOSSY = r"""
import gc, json, resource, sys
from pathlib import Path
import numpy as np
from PIL import Image
from srup import batch
from srup.media import pictures as imageio
from srup.runtime.auto import Engine
from srup.imaging.sizing import Sizing

w, h, folder = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
rng = np.random.default_rng(0)
px = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
Image.fromarray(px).save(folder / "in.jpg", quality=70)
Image.fromarray(px[:16, :16]).save(folder / "small.jpg", quality=70)
options = dict(device="cpu", tile="auto", precision="fp32")
warm = Engine(Sizing(2.0, None, None, "contain"), **options)
batch.run_job(warm, batch.Job(folder / "small.jpg", folder / "small.png", "PNG"))
up = Engine(Sizing(2.0, None, None, "contain"), **options)
assert up.estimates
gc.collect()
base = int(open("/proc/self/statm").read().split()[1]) * 4096
try:  # the peak from here on: what came before (imports, warm-up) is not the job's
    Path("/proc/self/clear_refs").write_text("5")
    reset = True
except OSError:
    reset = False
res = batch.run_job(up, batch.Job(folder / "in.jpg", folder / "out.png", "PNG"))
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")]
if reset and hwm:
    peak = int(hwm[0].split()[1]) * 1024
else:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
probe = imageio.probe(folder / "in.jpg")
est = batch.estimate_memory(up, w, h, 3, 1, False, probe.lossy)
plain = batch.estimate_memory(up, w, h, 3, 1, False, False)
got = {"status": res.status, "delta": peak - base, "estimate": est.total}
got |= {"plain": plain.total, "lossy": probe.lossy, "estimated": res.estimate is not None}
print(json.dumps(got))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_a_lossy_picture_under_auto_counts_its_estimate(tmp_path):
    run = subprocess.run(
        [sys.executable, "-c", LOSSY, "900", "700", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["status"] == "done" and got["lossy"] and got["estimated"]
    assert got["estimate"] >= got["delta"], got
    assert got["estimate"] > got["plain"]  # the estimate's memory is in it


ESTIMATE_ALONE = r"""
import json, re, sys
import numpy as np
from srup.imaging.estimate import BYTES_PER_PIXEL, MAX_PIXELS, _lattice_tables, estimate

def hwm():
    return int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read())[1]) * 1024

def rss():
    return int(re.search(r"VmRSS:\s+(\d+)", open("/proc/self/status").read())[1]) * 1024

h, w, depth = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
a = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
if depth == "16":
    a = a.astype(np.uint16) * 257
_lattice_tables()
estimate(a[:64, :64])
open("/proc/self/clear_refs", "w").write("5")  # the high-water mark from here
before = rss()
estimate(a, {0: [10] * 64})
print(json.dumps({"extra": hwm() - before, "bound": BYTES_PER_PIXEL * min(h * w, MAX_PIXELS)}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.parametrize("h,w,depth", [(1000, 2000, "8"), (2500, 2000, "8"), (1000, 2000, "16")])
def test_the_estimate_alone_stays_within_its_bound(h, w, depth):
    """srup.imaging.estimate reads at most MAX_PIXELS (its centre): its peak beyond the picture is
    at most BYTES_PER_PIXEL per pixel read, however big the picture (5 MP here)."""
    args = [sys.executable, "-c", ESTIMATE_ALONE, str(h), str(w), depth]
    run = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["extra"] <= got["bound"], got

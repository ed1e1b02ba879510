"""The GPU benchmark is run on the CPU here, small, so that a scarce GPU loan is never the
first place to find out that the script no longer fits the code it measures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import REPO, photo


def test_gpu_benchmark_runs_every_part_on_the_cpu(tmp_path: Path) -> None:
    t91 = tmp_path / "data" / "T91"
    t91.mkdir(parents=True)
    for i in range(4):
        Image.fromarray(photo(128, 112, seed=i)).save(t91 / f"{i}.png")
    out = tmp_path / "gpu.json"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    args = ["--device", "cpu", "--quick", "--models", "espcn", "--scales", "3", "--train"]
    args += ["--data", str(tmp_path / "data"), "--profile", str(tmp_path / "p.txt")]
    done = subprocess.run(
        [sys.executable, "gpu.py", *args, "--json", str(out)],
        cwd=REPO / "benchmarks",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["device"] == "cpu"
    (row,) = result["rows"]
    assert (row["model"], row["scale"], row["precision"]) == ("espcn", 3, "fp32")
    for part in ("total", "upload", "compute", "copy"):
        assert row[part] > 0, part
    assert row["bands"] >= 1
    assert np.isclose(row["mp_per_s"], 640 * 360 / 1e6 / row["total"])
    assert result["memory"]["peak_gib"] is None  # measured on CUDA only
    assert np.isclose(result["memory"]["output_mp"], 1200 * 900 / 1e6)
    rates = result["train_steps_per_s"]
    assert set(rates) == {"cpu, device sampler", "cpu (1 threads), host sampler, 1 threads"}
    assert all(v > 0 for v in rates.values())
    assert "conv" in (tmp_path / "p.txt").read_text()
    assert "| espcn | 3 | 360p | fp32 |" in done.stdout


def test_gpu_benchmark_names_a_missing_device_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        # A device this machine lacks: MPS off Apple hardware, a CUDA device on a Mac.
        [sys.executable, "gpu.py", "--device", "mps" if sys.platform != "darwin" else "cuda"],
        cwd=REPO / "benchmarks",
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "is available" in done.stderr or "not available" in done.stderr

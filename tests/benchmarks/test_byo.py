"""benchmarks/byo.py --quick on three of its archs (a shallow and a deep convolutional
network, and windowed attention): every section measured, the JSON complete, exact tiling
exact, and the docs left alone. Skipped without spandrel (srup's ``models`` extra)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("spandrel") is None,
    reason="spandrel is not installed (pip install 'srup[models]')",
)

ARCHS = ("compact", "esrgan", "hat")


def test_byo_quick_measures_every_section(tmp_path: Path) -> None:
    page = REPO / "docs" / "models.md"
    before = page.read_text()
    out = tmp_path / "byo.json"
    table = tmp_path / "table.md"
    args = ["--quick", "--archs", ",".join(ARCHS), "--json", str(out), "--markdown", str(table)]
    done = subprocess.run(
        [sys.executable, "byo.py", *args],
        cwd=REPO / "benchmarks",
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["quick"] is True and result["size"] == [96, 64]
    assert [row["arch"] for row in result["archs"]] == list(ARCHS)
    for row in result["archs"]:
        name = row["arch"]
        assert "failed" not in row, row
        assert row["parameters"] > 0 and row["describe_s"] > 0
        t = row["time"]
        assert t["input"] == [96, 64] and t["shrunk"] is None
        assert t["srup_s"] > 0 and t["plain_s"] > 0 and t["rounds"] >= 1
        assert t["srup_over_plain"] == pytest.approx(t["srup_s"] / t["plain_s"])
        assert t["tiles"] >= 1 and t["overlap"] >= 0
        assert 0 <= t["max_diff_vs_plain"] <= 255
        tiling = row["tiling"]
        assert tiling["guarantee"] in ("exact", "bounded"), name
        assert tiling["overlap"] == t["overlap"] and "fp32" in tiling["precisions"]
        assert tiling["picture"] == [64, 48] and tiling["tiles"] > 1
        assert 0 <= tiling["differing"] <= 1
        if tiling["guarantee"] == "exact":  # to float32 rounding (docs/models.md)
            assert tiling["max_diff"] <= 1 and tiling["differing"] <= 1e-4, name
    by_name = {row["arch"]: row for row in result["archs"]}
    assert by_name["compact"]["tiling"]["guarantee"] == "exact"
    assert by_name["hat"]["tiling"]["guarantee"] == "bounded"
    memory = by_name["esrgan"]["memory"]
    assert memory["size"] == [1600, 1200]
    assert memory["tiles_run"] == 2 and memory["tiles"] > 2  # stopped after two tiles
    assert memory["tile"] >= 64 and memory["peak_mb"] >= memory["setup_mb"] > 0
    assert memory["working_mb"] is None or memory["working_mb"] >= 0
    assert memory["estimate_mb"] > 0
    assert "memory" not in by_name["compact"]  # quick: esrgan's alone
    assert result["memory_baseline"]["peak_mb"] > 0
    text = table.read_text()
    assert all(f"| {name} |" in text for name in ARCHS)
    assert page.read_text() == before  # no --update-readme: the page stays as it was
    assert "<!-- byo:start -->" in before

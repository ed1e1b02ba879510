"""benchmarks/opencv_superres.py without OpenCV's models (or without cv2.dnn_superres, as in
CI): every row is skipped with its reason, it exits 0, and nothing is written to the docs or
the results file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_opencv_superres_skips_every_row_visibly_without_models(tmp_path: Path) -> None:
    empty = tmp_path / "models"
    empty.mkdir()
    page = REPO / "docs" / "performance.md"
    before = page.read_text()
    out = tmp_path / "opencv_superres.json"
    table = tmp_path / "table.md"
    args = ["--models-dir", str(empty), "--json", str(out), "--markdown", str(table)]
    done = subprocess.run(
        [sys.executable, "opencv_superres.py", *args],
        cwd=REPO / "benchmarks",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and "×" in line]
    assert len(rows) == 12  # ESPCN, FSRCNN, FSRCNN-small ×2/×3/×4, LapSRN ×2/×4/×8
    for row in rows:
        assert "skipped: " in row, row
        reason = row.split("skipped: ", 1)[1]
        assert "dnn_superres" in reason or (".pb in " in reason), row
    assert "| LapSRN | ×8 |" in done.stdout
    assert not out.exists()  # nothing measured: an earlier results file stays as it was
    assert table.read_text().count("skipped: ") == 12  # --markdown still gets the table
    assert page.read_text() == before
    assert "<!-- opencv_superres:start -->" in before

"""Batch running: overlapped decoding/encoding gives the same results, in order."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

import srup
from srup import batch
from tests.conftest import photo


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    for i in range(5):
        Image.fromarray(photo(30 + i, 20, seed=i)).save(src / f"{i}.png")
    (src / "2b.png").write_bytes(b"broken")  # sorts between 2 and 3
    return src


def run(folder: Path, out: Path, overlap: bool, fmt: str | None = None) -> list[batch.Result]:
    the_plan = batch.plan([folder], out, 2, fmt)
    jobs, refused = the_plan.jobs, the_plan.refused
    assert not refused
    up = srup.load("fsrcnn", 2, device="cpu", precision="fp32")
    return list(batch.run_jobs(up, jobs, overlap=overlap))


# PNG is encoded in the foreground (on every core), JPEG on the background writer thread.
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_overlapped_batch_matches_the_sequential_one_file_for_file(folder, tmp_path, fmt):
    seq = run(folder, tmp_path / "seq", overlap=False, fmt=fmt)
    ovl = run(folder, tmp_path / "ovl", overlap=True, fmt=fmt)
    names = ["0.png", "1.png", "2.png", "2b.png", "3.png", "4.png"]
    assert [Path(r.input).name for r in ovl] == names
    assert [r.status for r in ovl] == [r.status for r in seq]
    assert ovl[3].status == "failed" and "2b.png" in ovl[3].error
    for r in seq:
        if r.status == "done":
            name = Path(r.output).name
            assert (tmp_path / "ovl" / name).read_bytes() == (tmp_path / "seq" / name).read_bytes()


def test_overlapped_batch_skips_and_refuses_like_the_sequential_one(folder, tmp_path):
    out = tmp_path / "out"
    run(folder, out, overlap=True)
    jobs = batch.plan([folder], out, 2).jobs
    up = srup.load("fsrcnn", 2, device="cpu", precision="fp32")
    again = list(batch.run_jobs(up, jobs, skip_existing=True))
    assert [r.status for r in again] == ["skipped"] * 3 + ["failed"] + ["skipped"] * 2
    refused = list(batch.run_jobs(up, jobs))
    assert all(r.status == "failed" for r in refused)
    assert all("--overwrite" in r.error for r in refused if "2b" not in r.input)


@pytest.mark.parametrize(
    "size,scale,fmt,refused",
    [
        ((21_900, 2), 3, "JPEG", True),  # 65,700 wide: over JPEG's 65,500
        ((2, 16_400), 4, "JPEG", True),  # 65,600 tall
        ((5_500, 2), 3, "WEBP", True),  # 16,500: over WebP's 16,383
        ((21_800, 2), 3, "JPEG", False),  # 65,400: fits
        ((21_900, 2), 3, "PNG", False),  # PNG has no such limit
    ],
)
def test_an_output_the_format_cannot_hold_fails_before_the_upscale(
    tmp_path, monkeypatch, size, scale, fmt, refused
):
    """The output size is checked against the format's largest side once the input is
    read, before any upscaling (it used to fail only when written, after the network)."""
    from srup.imaging.sizing import Sizing
    from srup.runtime.auto import Engine

    w, h = size
    src = tmp_path / "in.png"
    Image.fromarray(photo(w, h)).save(src)
    engine = Engine(Sizing(scale), "fsrcnn", device="cpu", precision="fp32")
    ran = []
    monkeypatch.setattr(Engine, "process", lambda self, *a, **k: ran.append(1) or 1 / 0)
    suffix = {"JPEG": ".jpg", "WEBP": ".webp", "PNG": ".png"}[fmt]
    res = batch.run_job(engine, batch.Job(src, tmp_path / f"out{suffix}", fmt))
    if refused:
        assert res.status == "failed" and not ran
        assert f"is too large for {fmt}" in res.error and "\n" not in res.error
        assert str(tmp_path / f"out{suffix}") in res.error
    else:
        assert ran  # went on to the upscale (stubbed here)

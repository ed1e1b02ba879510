"""A batch is the sum of its files: one video that cannot be written as asked fails alone,
files this run writes are not its inputs, a picture named as a video stays a picture, and
every JSON record has the same keys, refused inputs' too."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from PIL import Image

from srup.cli import cli
from srup.errors import EXIT_OK, EXIT_PARTIAL, EXIT_STDOUT_CLOSED, EXIT_USAGE
from srup.media.video import is_video
from tests.conftest import photo


def records(stdout: str) -> dict[str, dict]:
    return {Path(r["input"]).name: r for r in map(json.loads, stdout.splitlines())}


def pictures(folder: Path, names=("a", "b", "c"), size=(9, 7)) -> Path:
    folder.mkdir(exist_ok=True)
    for i, name in enumerate(names):
        Image.fromarray(photo(*size, seed=i)).save(folder / f"{name}.png")
    return folder


# ---------------------------------------------------- one video's pre-check fails it alone


@pytest.fixture
def mixed(tmp_path) -> Path:
    pytest.importorskip("av", reason="the video extra is absent")
    from tests.conftest import make_clip

    folder = pictures(tmp_path / "mix")
    make_clip(folder / "clip.mp4", frames=3, audio=False)
    return folder


@pytest.mark.parametrize("option", [["--width", "101"], ["-s", "2", "--codec", "vp8"]])
def test_a_video_that_cannot_be_written_as_asked_fails_alone_in_a_batch(
    runner, mixed, tmp_path, option
):
    out = tmp_path / "o"
    res = runner.invoke(
        cli, ["upscale", str(mixed), "-o", f"{out}/", "-m", "espcn", *option, "--json", "-q"]
    )
    assert res.exit_code == EXIT_PARTIAL, res.output
    got = records(res.stdout)
    assert [got[n]["status"] for n in ("a.png", "b.png", "c.png")] == ["done"] * 3
    assert got["clip.mp4"]["status"] == "failed" and "clip.mp4" in got["clip.mp4"]["error"]
    assert len(got["clip.mp4"]["error"].splitlines()) == 1


def test_the_same_video_alone_is_a_usage_error(runner, mixed, tmp_path):
    out = tmp_path / "clip_w101.mp4"
    res = runner.invoke(cli, ["upscale", str(mixed / "clip.mp4"), "-o", str(out), "--width", "101"])
    assert res.exit_code == EXIT_USAGE, res.output
    assert not out.exists()


# ------------------------------------------------------ this run's outputs are not inputs


def test_a_rerun_into_the_input_folder_with_a_format_change_resumes(runner, tmp_path):
    pics = pictures(tmp_path / "pics")
    args = [
        "upscale",
        str(pics),
        "-o",
        f"{pics}/",
        "-s",
        "2",
        "-m",
        "espcn",
        "--format",
        "jpeg",
        "--json",
        "-q",
    ]
    first = runner.invoke(cli, args)
    assert first.exit_code == EXIT_OK, first.output
    rerun = runner.invoke(cli, [*args, "--skip-existing"])
    assert rerun.exit_code == EXIT_OK, rerun.output
    got = records(rerun.stdout)
    assert [got[f"{n}.png"]["status"] for n in "abc"] == ["skipped"] * 3
    assert got["a.jpg"]["status"] == "left_out"
    assert got["a.jpg"]["notes"] == ["left out: an output of this run's a.png"]


# ------------------------------------------------------ pictures named as videos


def save_as(fmt: str, path: Path) -> Path:
    Image.fromarray(photo(9, 7)).save(path, format=fmt)
    return path


@pytest.mark.parametrize(
    "fmt,name,suffix",
    [
        ("TIFF", "t.webm", ".tif"),
        ("WEBP", "w.mkv", ".webp"),
        ("JPEG", "j.mov", ".jpg"),
        ("PNG", "p.mp4", ".png"),
        ("BMP", "b.avi", ".bmp"),
        ("GIF", "g.m4v", ".png"),
    ],
)
def test_a_picture_named_as_a_video_is_a_picture_written_with_its_real_suffix(
    runner, tmp_path, fmt, name, suffix
):
    folder = tmp_path / "in"
    folder.mkdir()
    src = save_as(fmt, folder / name)
    assert not is_video(src)
    out = tmp_path / "out"
    res = runner.invoke(
        cli, ["upscale", str(folder), "-o", f"{out}/", "-s", "2", "-m", "espcn", "--json", "-q"]
    )
    assert res.exit_code == EXIT_OK, res.output
    rec = records(res.stdout)[name]
    dst = out / (Path(name).stem + suffix)
    assert rec["status"] == "done" and rec["output"] == str(dst) and dst.is_file()
    assert any("named" in n and suffix in n for n in rec["notes"]), rec["notes"]
    with Image.open(dst) as img:
        assert img.size == (18, 14)


def test_a_picture_named_as_a_video_alone_gets_its_real_suffix(runner, tmp_path):
    src = save_as("TIFF", tmp_path / "t.webm")
    res = runner.invoke(cli, ["upscale", str(src), "-s", "2", "-m", "espcn", "--json", "-q"])
    assert res.exit_code == EXIT_OK, res.output
    assert (tmp_path / "t_x2.tif").is_file()


# ------------------------------------------------------ records have the same keys


def test_refused_inputs_have_the_keys_of_every_other_record(runner, tmp_path):
    pics = pictures(tmp_path / "pics", names=("a",))
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    args = [
        "upscale",
        str(pics / "a.png"),
        str(tmp_path / "missing.png"),
        str(fifo),
        "-o",
        f"{tmp_path / 'o'}/",
        "-s",
        "2",
        "-m",
        "espcn",
        "--json",
        "-q",
    ]
    res = runner.invoke(cli, args)
    assert res.exit_code == EXIT_PARTIAL, res.output
    got = records(res.stdout)
    keys = set(got["a.png"])
    assert set(got["missing.png"]) == set(got["pipe.png"]) == keys
    assert got["missing.png"]["device"] == got["a.png"]["device"] == "cpu"
    # Nothing to run: the same keys, null where no engine was loaded.
    res = runner.invoke(cli, [*args[:1], str(tmp_path / "missing.png"), *args[4:]])
    rec = records(res.stdout)["missing.png"]
    assert set(rec) == keys and rec["device"] is None and rec["scale"] == 2


# ------------------------------------------------------ stdout closed before the start


def test_json_with_stdout_closed_at_the_start_stops_before_any_work(tmp_path, monkeypatch):
    from srup.cli import cli as group

    pics = pictures(tmp_path / "pics", names=("a",))
    out = tmp_path / "o"
    monkeypatch.setattr("sys.stdout", None)
    monkeypatch.setattr("sys.stderr", io.StringIO())
    with pytest.raises(SystemExit) as caught:
        group.main(["upscale", str(pics), "-o", f"{out}/", "-s", "2", "--json"])
    assert caught.value.code == EXIT_STDOUT_CLOSED
    assert not out.exists()

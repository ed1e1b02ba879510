"""``--frames-to`` (issue 24, item 9): the pictures' rules for existing outputs (not
replaced without --overwrite, kept with --skip-existing), frames upright as players show
them, and no check of the video file it does not write."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from srup.cli import cli
from tests.media.video.conftest import write_clip

av = pytest.importorskip("av", reason="the video extra (pip install 'srup[video]') is absent")


def frames_to(runner, src, folder, *extra):
    args = ["upscale", str(src), "-s", "2", "-m", "fsrcnn", "--frames-to", str(folder)]
    res = runner.invoke(cli, [*args, "--json", "-q", *extra])
    lines = res.stdout.strip().splitlines()
    return res.exit_code, (json.loads(lines[-1]) if lines else None), res.output


@pytest.fixture
def clip(tmp_path):
    return write_clip(tmp_path / "clip.mp4", tuple(range(4)), Fraction(1, 12))


def test_an_existing_video_output_does_not_stop_frames_to(runner, clip, tmp_path):
    (tmp_path / "clip_x2.mp4").write_bytes(b"another run's video")  # the default -o name
    code, obj, output = frames_to(runner, clip, tmp_path / "f")
    assert code == 0 and obj["status"] == "done", output
    assert len(list((tmp_path / "f" / "clip").glob("frame_*.png"))) == 4
    assert (tmp_path / "clip_x2.mp4").read_bytes() == b"another run's video"


def test_existing_frames_are_kept_unless_overwrite(runner, clip, tmp_path):
    folder = tmp_path / "f" / "clip"
    folder.mkdir(parents=True)
    mine = folder / "frame_000002.png"
    Image.new("RGB", (8, 8), "red").save(mine)
    before = mine.read_bytes()

    code, obj, output = frames_to(runner, clip, tmp_path / "f")
    assert code == 3 and obj["status"] == "failed", output
    assert "--overwrite" in obj["error"] and "--skip-existing" in obj["error"]
    assert mine.read_bytes() == before and sorted(folder.iterdir()) == [mine]

    code, obj, output = frames_to(runner, clip, tmp_path / "f", "--skip-existing")
    assert code == 0 and obj["status"] == "done", output
    assert obj["frames"] == 3 and any("1 frame(s) already in" in n for n in obj["notes"])
    assert mine.read_bytes() == before and len(list(folder.glob("frame_*.png"))) == 4

    code, obj, output = frames_to(runner, clip, tmp_path / "f", "--skip-existing")
    assert code == 0 and obj["status"] == "skipped", output  # every frame was there

    code, obj, output = frames_to(runner, clip, tmp_path / "f", "--overwrite")
    assert code == 0 and obj["frames"] == 4, output
    assert Image.open(mine).size == (128, 96)


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_frames_come_out_upright(runner, tmp_path, rotation):
    """Stored 64×48 with a display matrix: the PNG is the picture as players show it."""
    src = write_clip(tmp_path / "phone.mp4", (0, 1), Fraction(1, 10), rotation=rotation)
    code, _, output = frames_to(runner, src, tmp_path / "f")
    assert code == 0, output
    png = np.asarray(Image.open(tmp_path / "f" / "phone" / "frame_000001.png"))
    with av.open(str(src)) as c:
        stored = next(c.decode(video=0)).to_ndarray(format="rgb24").astype(float)
    turns = {90: 1, -90: 3, 180: 2}[rotation]  # counterclockwise, as FFmpeg's matrix says
    expected = np.rot90(stored, turns)
    assert png.shape[:2] == (expected.shape[0] * 2, expected.shape[1] * 2)
    small = np.asarray(Image.fromarray(png).resize(expected.shape[1::-1], Image.BOX), float)
    wrong = np.rot90(stored, (turns + 2) % 4)
    if wrong.shape == expected.shape:  # 180° apart: the same size, so compare content
        assert np.abs(small - expected).mean() < np.abs(small - wrong).mean() / 2
    assert np.abs(small - expected).mean() < 12


def test_json_sizes_of_a_rotated_clip_are_upright_as_the_pngs(runner, tmp_path):
    """Stored 64×48, shown turned a quarter: both sizes as the PNGs are, 48×64 and 96×128."""
    src = write_clip(tmp_path / "phone.mp4", (0, 1), Fraction(1, 10), rotation=90)
    code, obj, output = frames_to(runner, src, tmp_path / "f")
    assert code == 0, output
    assert obj["size"] == [48, 64] and obj["output_size"] == [96, 128]
    assert Image.open(tmp_path / "f" / "phone" / "frame_000001.png").size == (96, 128)

"""Truncated and damaged clips (issue 24, item 8): what decodes is written, a note says what
is missing ("container declares 30 frames, 18 decoded"), the file's status is partial and
the run exits 3 (EXIT_PARTIAL); a complete clip is done, without a note."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from srup.errors import EXIT_OK, EXIT_PARTIAL
from tests.media.video.conftest import frame_times, upscale, write_clip

av = pytest.importorskip("av", reason="the video extra (pip install 'srup[video]') is absent")


def noisy_clip(path, frames=30, options=None):
    """Frames of noise: every one costs as many bytes, so a cut at 60 % loses ~40 % of them."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", container_options=options or {}) as out:
        v = out.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            img = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
    return path


def cut(path, fraction):
    data = path.read_bytes()
    short = path.with_name(f"cut{path.suffix}")
    short.write_bytes(data[: int(len(data) * fraction)])
    return short


def test_an_mp4_cut_to_60_percent_is_partial(runner, tmp_path):
    # moov first (faststart), as phones and web uploads write it: the index survives the cut
    src = cut(noisy_clip(tmp_path / "clip.mp4", options={"movflags": "faststart"}), 0.6)
    dst = tmp_path / "out.mp4"
    code, obj, output = upscale(runner, str(src), "-s", "2", "-o", str(dst))
    assert code == EXIT_PARTIAL, output
    assert obj["status"] == "partial" and 10 <= obj["frames"] < 30
    assert f"container declares 30 frames, {obj['frames']} decoded" in obj["notes"]
    assert len(frame_times(dst)) == obj["frames"]  # what decoded is written


def test_a_truncated_matroska_file_is_partial(runner, tmp_path):
    src = cut(noisy_clip(tmp_path / "clip.mkv"), 0.6)
    dst = tmp_path / "out.mkv"
    code, obj, output = upscale(runner, str(src), "-s", "2", "-o", str(dst))
    assert code == EXIT_PARTIAL, output
    assert obj["status"] == "partial"
    (note,) = obj["notes"]
    assert note.startswith("container declares 3.00 s of video, ") and "s decoded" in note


def test_a_complete_clip_with_a_longer_sound_track_is_done(runner, tmp_path):
    """AAC's priming and padding make the sound a little longer than the pictures."""
    src = write_clip(
        tmp_path / "clip.mkv",
        tuple(range(12)),
        Fraction(1, 12),
        audio=(("eng", "English", av.stream.Disposition.default),),
    )
    code, obj, output = upscale(runner, str(src), "-s", "2", "-o", str(tmp_path / "o.mkv"))
    assert code == EXIT_OK, output
    assert obj["status"] == "done" and obj["notes"] == []


def test_the_summary_counts_partial_files_and_the_batch_exits_3(runner, tmp_path):
    from srup.cli import cli

    folder = tmp_path / "in"
    folder.mkdir()
    noisy_clip(folder / "whole.mp4", frames=6)
    cut(noisy_clip(tmp_path / "c.mkv"), 0.6).rename(folder / "short.mkv")
    res = runner.invoke(
        cli, ["upscale", str(folder), "-s", "2", "-m", "fsrcnn", "-o", str(tmp_path / "out")]
    )
    assert res.exit_code == EXIT_PARTIAL, res.output
    assert "1 done (by 1 fsrcnn), 1 partial, 0 skipped, 0 failed" in res.output
    assert (tmp_path / "out" / "short.mkv").is_file()


def test_damaged_frames_are_counted_by_the_jump_in_time(runner, tmp_path):
    """Bytes flipped mid-file: the note counts the frames the timestamps skip, not the one
    packet the decoder refused."""
    from tests.media.video.conftest import upscale, write_clip

    src = write_clip(
        tmp_path / "c.mkv", tuple(range(30)), Fraction(1, 25), codec="mjpeg", pix_fmt="yuvj420p"
    )
    data = bytearray(src.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 3000] = bytes(3000)
    src.write_bytes(bytes(data))
    _, obj, output = upscale(runner, str(src), "-s", "2", "-o", str(tmp_path / "o.mkv"))
    assert obj is not None and obj["status"] == "partial", output
    lost = 30 - obj["frames"]
    assert lost > 1
    assert any(f"about {lost} frame(s) lost" in n for n in obj["notes"]), obj["notes"]

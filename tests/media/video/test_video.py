"""Videos through PyAV: clips made here (moving shapes and a tone), no data files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from srup.cli import cli
from tests.conftest import make_clip

av = pytest.importorskip("av", reason="the video extra (pip install 'srup[video]') is absent")


def probe(path: Path) -> dict:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = sum(1 for _ in c.decode(v))
    with av.open(str(path)) as c:
        audio = [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size] if c.streams.audio else []
        v = c.streams.video[0]
        return {
            "frames": frames,
            "size": (v.codec_context.width, v.codec_context.height),
            "rate": v.average_rate,
            "audio": audio,
        }


@pytest.fixture
def clip(tmp_path) -> Path:
    return make_clip(tmp_path / "clip.mp4")


def test_a_clip_is_upscaled_frame_for_frame_with_its_audio_copied(runner, clip, tmp_path):
    out = tmp_path / "clip_x2.mp4"
    res = runner.invoke(cli, ["upscale", str(clip), "-s", "2", "-o", str(out), "--json", "-q"])
    assert res.exit_code == 0, res.output
    src, dst = probe(clip), probe(out)
    assert dst["size"] == (128, 96) and dst["frames"] == src["frames"] == 12
    assert dst["rate"] == src["rate"]
    assert dst["audio"] == src["audio"] and src["audio"]  # byte for byte, not re-encoded
    obj = json.loads(res.stdout.strip().splitlines()[-1])
    assert obj["frames"] == 12 and obj["fps"] > 0 and obj["model"].startswith("fsrcnn")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


def test_auto_gives_video_frames_the_real_photo_model_when_shipped(runner, clip, tmp_path):
    from srup.models.shipped import default_model

    res = runner.invoke(
        cli, ["upscale", str(clip), "-s", "2", "-o", str(tmp_path / "o.mp4"), "--json", "-q"]
    )
    assert json.loads(res.stdout.strip().splitlines()[-1])["model"] == default_model(2, True)


def test_part_of_a_clip_and_frames_to_png(runner, clip, tmp_path):
    out = tmp_path / "frames"
    res = runner.invoke(
        cli, ["upscale", str(clip), "-s", "2", "--frames", "5", "--frames-to", str(out), "-q"]
    )
    assert res.exit_code == 0, res.output
    pngs = sorted((out / "clip").glob("frame_*.png"))
    assert [p.name for p in pngs] == [f"frame_{i:06d}.png" for i in range(1, 6)]
    part = tmp_path / "part.mp4"
    res = runner.invoke(
        cli, ["upscale", str(clip), "-s", "2", "-o", str(part), "--start", "0.25", "--end", "0.75"]
    )
    assert res.exit_code == 0, res.output
    assert probe(part)["frames"] == 6  # frames at 0.25 … 0.667 s at 12 fps


def test_a_damaged_clip_is_one_clear_error(runner, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200)
    res = runner.invoke(cli, ["upscale", str(bad), "-s", "2", "-o", str(tmp_path / "o.mp4")])
    assert res.exit_code == 3 and "Traceback" not in res.output  # that input failed
    assert "bad.mp4" in res.output
    assert not (tmp_path / "o.mp4").exists()


def test_a_truncated_clip_keeps_what_it_can_read(runner, tmp_path):
    clip = make_clip(tmp_path / "long.mkv", frames=24, audio=False)
    data = clip.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 2 // 3])
    out = tmp_path / "cut_x2.mkv"
    res = runner.invoke(cli, ["upscale", str(cut), "-s", "2", "-o", str(out), "--json", "-q"])
    assert res.exit_code == 3, res.output  # written, and said to be partial (issue 24, item 8)
    obj = json.loads(res.stdout.strip().splitlines()[-1])
    assert obj["status"] == "partial" and "decoded" in obj["notes"][-1]
    assert 0 < obj["frames"] < 24 and probe(out)["frames"] == obj["frames"]


def test_a_video_into_an_image_name_is_a_usage_error(runner, clip, tmp_path):
    res = runner.invoke(cli, ["upscale", str(clip), "-s", "2", "-o", str(tmp_path / "x.png")])
    assert res.exit_code == 2 and "--frames-to" in res.output


def test_videos_are_found_by_content_and_in_folder_scans(runner, tmp_path):
    from srup.media.video import is_video

    folder = tmp_path / "in"
    folder.mkdir()
    clip = make_clip(folder / "a.mp4", frames=3, audio=False)
    renamed = clip.rename(folder / "noext")
    assert is_video(renamed) and not is_video(Path(__file__))
    make_clip(folder / "b.webm.mkv", frames=3, audio=False)
    res = runner.invoke(cli, ["upscale", str(folder), "-s", "2", "-o", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / "b.webm.mkv").is_file()


def test_missing_pyav_names_the_extra(runner, clip, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_av(name, *args, **kwargs):
        if name == "av":
            raise ImportError("no av")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_av)
    res = runner.invoke(cli, ["upscale", str(clip), "-s", "2", "-o", str(tmp_path / "o.mp4")])
    assert res.exit_code == 3 and "srup[video]" in res.output  # that input failed


def test_rotation_is_kept(runner, tmp_path):
    src = tmp_path / "rot.mp4"
    with av.open(str(src), "w") as out:
        v = out.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        v.set_display_rotation(90)
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            frame.pts = i
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
    dst = tmp_path / "rot_x2.mp4"
    res = runner.invoke(cli, ["upscale", str(src), "-s", "2", "-o", str(dst)])
    assert res.exit_code == 0, res.output
    with av.open(str(dst)) as c:
        frame = next(c.decode(video=0))
        assert frame.rotation == 90 and (frame.width, frame.height) == (128, 96)


def test_ctrl_c_during_a_clip_leaves_no_partial_file(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    clip = make_clip(tmp_path / "long.mp4", frames=120, size=(160, 120), audio=True)
    out = tmp_path / "out"
    out.mkdir()
    cmd = [sys.executable, "-m", "srup", "upscale", str(clip), "-s", "4", "-m", "srcnn"]
    proc = subprocess.Popen(
        [*cmd, "-o", str(out / "long_x4.mp4")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not any(out.iterdir()) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)  # some frames encoded into the temporary file
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "--skip-existing" in stderr
    assert list(out.iterdir()) == []

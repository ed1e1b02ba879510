"""Video time as data (issue 24, items 1 and 7): every frame keeps its own timestamp in
MP4, MKV, MOV and WebM, variable frame rate included, and an excerpt starts at zero with its
sound and subtitles cut and moved by the same offset. Clips are made here with PyAV."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from tests.media.video.conftest import MS, frame_times, packets, upscale, write_clip

av = pytest.importorskip("av", reason="the video extra (pip install 'srup[video]') is absent")

# 25 frames at 25 fps, then 10 at 5 fps: a phone clip that slowed down (issue 24, item 1).
VFR_PTS = [i * 40 for i in range(25)] + [1000 + i * 200 for i in range(10)]


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".mov", ".webm"])
def test_variable_frame_rate_keeps_every_timestamp(runner, tmp_path, suffix):
    src = write_clip(tmp_path / f"vfr{suffix}", VFR_PTS, MS)
    dst = tmp_path / f"out{suffix}"
    code, obj, output = upscale(runner, str(src), "-s", "2", "-o", str(dst))
    assert code == 0, output
    assert obj["frames"] == 35 and obj["status"] == "done"
    assert frame_times(dst) == frame_times(src) == [p * MS for p in VFR_PTS]
    with av.open(str(src)) as a, av.open(str(dst)) as b:
        assert abs(a.duration - b.duration) <= 40_000  # µs: within one frame (of the fast part)
        vin, vout = a.streams.video[0], b.streams.video[0]
        assert vout.time_base == vin.time_base  # 1/1000 here, MP4 and MOV included
        dts = [p.dts for p in b.demux(vout) if p.dts is not None]
    assert dts == sorted(set(dts))  # increasing DTS, B-frames and all


def test_frame_timestamps_stay_when_the_time_base_is_fine(runner, tmp_path):
    """A 1/90000 time base (MPEG's) and frames 1/3 of a tick of a 1/25 rate apart."""
    pts = [0, 1200, 2400, 3600, 9000, 12000, 12600]
    src = write_clip(tmp_path / "fine.mp4", pts, Fraction(1, 90000))
    code, _, output = upscale(runner, str(src), "-s", "2", "-o", str(tmp_path / "o.mp4"))
    assert code == 0, output
    assert frame_times(tmp_path / "o.mp4") == [p * Fraction(1, 90000) for p in pts]


def test_an_excerpt_starts_at_zero_with_sound_and_subtitles_moved_alike(runner, tmp_path):
    src = write_clip(
        tmp_path / "long.mkv",
        tuple(range(30)),
        Fraction(1, 10),
        audio=(("eng", "English", av.stream.Disposition.default),),
        subtitles=(("spa", 0, [(0.5, 0.3, "uno"), (1.2, 0.3, "dos"), (2.5, 0.3, "tres")]),),
        chapters=((0, 1.5, "A"), (1.5, 3.0, "B")),
    )
    dst = tmp_path / "part.mkv"
    code, _, output = upscale(
        runner, str(src), "-s", "2", "-o", str(dst), "--start", "1", "--end", "2"
    )
    assert code == 0, output
    assert frame_times(dst) == [Fraction(i, 10) for i in range(10)]  # 1.0 … 1.9 s, at zero
    before, after = packets(src), packets(dst)
    # Sound: the packets of [1 s, 2 s), byte for byte, one second earlier.
    expected = [(t - 1, data) for t, data in before[1] if 1 <= t < 2]
    assert after[1] == expected and expected
    assert after[2] == [(Fraction(2, 10), b"dos")]  # the one cue inside, moved alike
    with av.open(str(dst)) as c:
        chapters = [
            (ch["start"] * ch["time_base"], ch["end"] * ch["time_base"], ch["metadata"]["title"])
            for ch in c.chapters()
        ]
        assert c.duration < 1_200_000  # not a 2-s file whose first second is empty (µs)
    assert chapters == [(0, Fraction(1, 2), "A"), (Fraction(1, 2), 1, "B")]


def test_frames_n_keeps_the_sound_of_those_frames(runner, tmp_path):
    src = write_clip(
        tmp_path / "c.mp4",
        tuple(range(24)),
        Fraction(1, 12),
        audio=(("eng", "English", av.stream.Disposition.default),),
    )
    dst = tmp_path / "o.mp4"
    code, obj, output = upscale(runner, str(src), "-s", "2", "-o", str(dst), "--frames", "6")
    assert code == 0, output
    assert obj["frames"] == 6 and obj["status"] == "done"  # cut on purpose: not partial
    sound = [t for t, _ in packets(dst)[1]]
    assert sound and max(sound) < Fraction(1, 2) <= max(sound) + Fraction(1024, 16000) * 2


def test_avi_output_keeps_one_frame_per_period_with_aac_sound(runner, tmp_path):
    """AAC's priming packet starts before zero: in an AVI it must not push the frames after
    the first one period late (0, 2, 3, … instead of 0, 1, 2, …)."""
    src = write_clip(
        tmp_path / "c.mp4",
        tuple(range(10)),
        Fraction(1, 25),
        audio=(("eng", "English", av.stream.Disposition.default),),
    )
    dst = tmp_path / "o.avi"
    code, obj, output = upscale(runner, str(src), "-s", "2", "-o", str(dst), "--frames", "5")
    assert code == 0, output
    with av.open(str(dst)) as c:
        stored = [(p.pts, p.dts) for p in c.demux(video=0) if p.size]
    assert [dts for _, dts in stored] == [0, 1, 2, 3, 4]
    assert not any("moved" in n for n in obj["notes"])


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--start", "5"), "--start 5 is past the end of the video (2.00 s)"),
        (("--end", "0"), "--end 0 is at or before the first frame (0.00 s)"),
    ],
)
def test_an_excerpt_outside_the_video_says_so(runner, tmp_path, args, says):
    src = write_clip(tmp_path / "c.mkv", tuple(range(20)), Fraction(1, 10))
    code, _, output = upscale(runner, str(src), "-s", "2", "-o", str(tmp_path / "o.mkv"), *args)
    assert code == 2, output
    assert says in output and "damaged" not in output
    frames = tmp_path / "fr"
    code, _, output = upscale(runner, str(src), "-s", "2", "--frames-to", str(frames), *args)
    assert code != 0 and says in output and "damaged" not in output, output


def _mjpeg_muxed_out_of_order(path: Path, pts: list[int]) -> Path:
    """Intra-only MJPEG in Matroska whose frames are stored out of presentation order
    (Matroska keeps only the presentation times: a decoding time, nondecreasing, for the
    muxer's check, the least one still to come)."""
    made = write_clip(
        path.with_name("straight.mkv"),
        tuple(range(len(pts))),
        MS,
        codec="mjpeg",
        pix_fmt="yuvj420p",
    )
    with av.open(str(made)) as inp, av.open(str(path), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        for i, (packet, p) in enumerate(
            zip((q for q in inp.demux(vin) if q.size), pts, strict=True)
        ):
            packet.stream, packet.time_base = vout, MS
            packet.pts, packet.dts = p, min(pts[i:])
            out.mux(packet)
    return path


def test_frames_out_of_order_are_written_in_presentation_order(runner, tmp_path):
    pts = [0, 80, 40, 120, 200, 160, 240, 280]
    src = _mjpeg_muxed_out_of_order(tmp_path / "nonmono.mkv", pts)
    dst = tmp_path / "o.mkv"
    code, obj, output = upscale(runner, str(src), "-s", "2", "-o", str(dst))
    assert code == 0, output
    assert obj["frames"] == 8 and not obj["notes"], obj["notes"]
    with av.open(str(dst)) as c:
        assert [p.pts for p in c.demux(video=0) if p.size] == sorted(pts)

"""Video time as data (issue 24, items 1 and 7): every frame keeps its own timestamp in
MP4, MKV, MOV and WebM, variable frame rate included, and an excerpt starts at zero with its
sound and subtitles cut and moved by the same offset. Clips are made here with PyAV."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from srup.cli import cli

av = pytest.importorskip("av", reason="the video extra (pip install 'srup[video]') is absent")

MS = Fraction(1, 1000)
# 25 frames at 25 fps, then 10 at 5 fps: a phone clip that slowed down (issue 24, item 1).
VFR_PTS = [i * 40 for i in range(25)] + [1000 + i * 200 for i in range(10)]


def write_clip(
    path: Path,
    pts=tuple(range(12)),
    time_base: Fraction = Fraction(1, 12),
    *,
    size: tuple[int, int] = (64, 48),
    codec: str | None = None,
    pix_fmt: str = "yuv420p",
    audio: tuple = (),
    subtitles: tuple = (),
    audio_first: bool = False,
    rotation: int = 0,
    title: str | None = None,
    chapters: tuple = (),
    video_title: str | None = None,
    options: dict | None = None,
    picture=None,
    colour: tuple[int, int, int, int] | None = None,
    video_options: dict | None = None,
) -> Path:
    """A clip whose frames are at ``pts`` (in ``time_base``), each different (a bar that
    moves, a level that climbs). ``audio``: (language, title, disposition) per AAC track
    (a tone as long as the video, each its own pitch); ``subtitles``: (language,
    disposition, [(start s, duration s, text), …]) per SubRip track (Matroska);
    ``audio_first``: the first audio track before the video; ``chapters``: (start s, end s,
    title); ``options``: the muxer's (e.g. ``{"movflags": "faststart"}``); ``picture``: frame
    ``i`` as a VideoFrame in ``pix_fmt`` (instead of the moving bar); ``colour``: (matrix,
    range, primaries, transfer) tags, FFmpeg's enum values; ``video_options``: the
    encoder's (e.g. ``{"qp": "0"}``: lossless). Audio is AAC (Opus in WebM),
    subtitles SubRip (MP4/MOV: timed text, WebM: WebVTT)."""
    w, h = size
    codec = codec or ("libvpx-vp9" if path.suffix == ".webm" else "libx264")
    fmt_options = dict(options or {})
    if path.suffix in (".mp4", ".mov"):  # the time base asked for, not the muxer's 1/16000
        fmt_options.setdefault("video_track_timescale", str(time_base.denominator))
    last = pts[-1] - pts[-2] if len(pts) > 1 else 1
    seconds = (pts[-1] + last) * time_base
    rate = (len(pts) / seconds).limit_denominator(1000)
    webm = path.suffix == ".webm"
    audio_codec, audio_rate = ("libopus", 48000) if webm else ("aac", 16000)
    sample_format = "flt" if webm else "fltp"  # what each encoder takes
    sub_codec = {".mp4": "mov_text", ".mov": "mov_text", ".webm": "webvtt"}.get(path.suffix)
    with av.open(str(path), "w", container_options=fmt_options) as out:
        made: list = []

        def add_audio(spec):
            lang, name, disposition = spec
            a = out.add_stream(audio_codec, rate=audio_rate, layout="mono")
            a.metadata["language"], a.metadata["title"] = lang, name
            a.disposition = disposition
            made.append(a)

        if audio_first and audio:
            add_audio(audio[0])
        v = out.add_stream(codec, rate=rate)
        v.width, v.height, v.pix_fmt = w, h, pix_fmt
        v.codec_context.time_base = time_base
        v.time_base = time_base
        if video_options:
            v.options = dict(video_options)
        if colour:
            cc = v.codec_context
            cc.colorspace, cc.color_range, cc.color_primaries, cc.color_trc = colour
        if video_title:
            v.metadata["title"] = video_title
        if rotation:
            v.set_display_rotation(rotation)
        for spec in audio[1:] if audio_first else audio:
            add_audio(spec)
        subs = []
        for lang, disposition, cues in subtitles:
            s = out.add_mux_stream(sub_codec or "subrip")
            s.metadata["language"] = lang
            s.disposition = disposition
            subs.append((s, cues))
        if title:
            out.metadata["title"] = title
        if chapters:
            out.set_chapters(
                [
                    {
                        "id": i + 1,
                        "start": round(a * 1000),
                        "end": round(b * 1000),
                        "time_base": MS,
                        "metadata": {"title": name},
                    }
                    for i, (a, b, name) in enumerate(chapters)
                ]
            )
        yy, xx = np.mgrid[0:h, 0:w]
        for i, p in enumerate(pts):
            if picture is not None:
                frame = picture(i)
            else:
                img = np.stack([xx * 255 // w, yy * 255 // h, np.full_like(xx, (i * 7) % 256)], 2)
                img[:, (3 * i) % w] = 255
                frame = av.VideoFrame.from_ndarray(img.astype(np.uint8), format="rgb24")
            if colour:
                frame.colorspace, frame.color_range = colour[:2]
                frame.color_primaries, frame.color_trc = colour[2:]
            frame.pts, frame.time_base = p, time_base
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
        for k, a in enumerate(made):
            n = int(audio_rate * seconds)
            t = np.arange(n) / audio_rate
            tone = (0.3 * np.sin(2 * np.pi * (440 + 220 * k) * t)).astype(np.float32)[None]
            for start in range(0, n, 1024):
                af = av.AudioFrame.from_ndarray(
                    tone[:, start : start + 1024], format=sample_format, layout="mono"
                )
                af.sample_rate, af.pts = audio_rate, start
                out.mux(a.encode(af))
            out.mux(a.encode(None))
        for s, cues in subs:
            for start, duration, text in cues:
                data = text.encode()
                if sub_codec == "mov_text":  # a 16-bit length before the text
                    data = len(data).to_bytes(2, "big") + data
                packet = av.Packet(data)
                packet.stream, packet.time_base = s, MS
                packet.pts = packet.dts = round(start * 1000)
                packet.duration = round(duration * 1000)
                out.mux(packet)
    return path


def frame_times(path: Path) -> list[Fraction]:
    """Each decoded frame's timestamp in seconds, exact."""
    with av.open(str(path)) as c:
        return [f.pts * f.time_base for f in c.decode(video=0)]


def packets(path: Path) -> dict[int, list]:
    """(pts in seconds, bytes) of every packet, by stream index."""
    found: dict[int, list] = {}
    with av.open(str(path)) as c:
        for p in c.demux():
            if p.size:
                found.setdefault(p.stream.index, []).append((p.pts * p.time_base, bytes(p)))
    return found


def upscale(runner, *args: str) -> tuple[int, dict | None, str]:
    res = runner.invoke(cli, ["upscale", *args, "-m", "fsrcnn", "--json", "-q"])
    lines = res.stdout.strip().splitlines()
    return res.exit_code, (json.loads(lines[-1]) if lines else None), res.output


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

"""Helpers the video tests share: clips made with PyAV, what a player reads back."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from srup.cli import cli
from srup.media import video_colour

MS = Fraction(1, 1000)

KR_KB = {1: (0.2126, 0.0722), 5: (0.299, 0.114), 6: (0.299, 0.114), 9: (0.2627, 0.0593)}


def is_hd(w: int, h: int) -> bool:
    return w >= 1280 or h > 576


def decode_yuv(codes: np.ndarray, matrix: int, full: bool, bits: int) -> np.ndarray:
    """The inverse of :func:`encode_yuv`: codes → R'G'B' 0–255 (float, clipped)."""
    kr, kb = KR_KB[matrix]
    c = np.asarray(codes, np.float64)
    m, top = 2 ** (bits - 8), 2**bits - 1
    if full:
        y, cb, cr = c[..., 0] / top, (c[..., 1] - 128 * m) / top, (c[..., 2] - 128 * m) / top
    else:
        y, cb, cr = (
            (c[..., 0] / m - 16) / 219,
            (c[..., 1] / m - 128) / 224,
            (c[..., 2] / m - 128) / 224,
        )
    r, b = y + 2 * (1 - kr) * cr, y + 2 * (1 - kb) * cb
    g = (y - kr * r - kb * b) / (1 - kr - kb)
    return np.clip(np.stack([r, g, b], -1) * 255, 0, 255)


def planes_of(frame) -> list[np.ndarray]:
    """The frame's Y, Cb, Cr planes as 2-D integer arrays (their own sizes)."""
    dtype = np.uint16 if video_colour.depth(frame.format.name) > 8 else np.uint8
    out = []
    for p in frame.planes[:3]:
        a = np.frombuffer(p, dtype).reshape(p.height, -1)
        out.append(a[:, : p.width])
    return out


av = pytest.importorskip("av", reason="the video extra (pip install 'srup[video]') is absent")


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


# SMPTE-like 75 % bars (R'G'B', 0–255): white, yellow, cyan, green, magenta, red, blue, black.
BARS = np.array(
    [
        [191, 191, 191],
        [191, 191, 0],
        [0, 191, 191],
        [0, 191, 0],
        [191, 0, 191],
        [191, 0, 0],
        [0, 0, 191],
        [0, 0, 0],
    ],
    np.float64,
)


def encode_yuv(rgb: np.ndarray, matrix: int, full: bool, bits: int) -> np.ndarray:
    """(…, 3) R'G'B' 0–255 → (…, 3) Y'CbCr codes (float) at ``bits``, BT.601/709/2020."""
    kr, kb = KR_KB[matrix]
    e = rgb / 255.0
    y = kr * e[..., 0] + (1 - kr - kb) * e[..., 1] + kb * e[..., 2]
    cb, cr = (e[..., 2] - y) / (2 * (1 - kb)), (e[..., 0] - y) / (2 * (1 - kr))
    m, top = 2 ** (bits - 8), 2**bits - 1
    if full:
        return np.stack([y * top, cb * top + 128 * m, cr * top + 128 * m], -1)
    return np.stack([(16 + 219 * y) * m, (128 + 224 * cb) * m, (128 + 224 * cr) * m], -1)


def make_frame(codes: np.ndarray, pix_fmt: str):
    """A VideoFrame in ``pix_fmt`` holding ``codes`` ((H, W, 3) Y'CbCr codes), chroma
    averaged over each subsampled block."""
    h, w = codes.shape[:2]
    frame = av.VideoFrame(w, h, pix_fmt)
    dtype = np.uint16 if video_colour.depth(pix_fmt) > 8 else np.uint8
    for i, p in enumerate(frame.planes[:3]):
        fy, fx = h // p.height, w // p.width
        plane = codes[..., i].reshape(p.height, fy, p.width, fx).mean((1, 3))
        buf = np.zeros((p.height, p.line_size // np.dtype(dtype).itemsize), dtype)
        buf[:, : p.width] = np.clip(np.rint(plane), 0, 2 ** video_colour.depth(pix_fmt) - 1)
        p.update(buf.tobytes())
    return frame


def stream_tags(path: Path) -> dict:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frame = next(c.decode(v))
        cc = v.codec_context
        return {
            "matrix": frame.colorspace,
            "range": frame.color_range,
            "primaries": frame.color_primaries,
            "transfer": frame.color_trc,
            "pix_fmt": frame.format.name,
            "profile": cc.profile,
            "stream": (cc.colorspace, cc.color_range, cc.color_primaries, cc.color_trc),
            "size": (frame.width, frame.height),
            "planes": planes_of(frame),
        }


def player_rgb(info: dict) -> tuple[np.ndarray, int, bool]:
    """What a player shows for the first frame: R'G'B' (H, W, 3) 0–255 from its codes with
    its tags, untagged matrix by size (BT.709 for HD), range limited unless yuvj/tagged."""
    w, h = info["size"]
    matrix = info["matrix"] if info["matrix"] in KR_KB else (1 if is_hd(w, h) else 6)
    full = info["range"] == 2 or info["pix_fmt"].startswith("yuvj")
    bits = video_colour.depth(info["pix_fmt"])
    y, cb, cr = info["planes"]
    fy, fx = h // cb.shape[0], w // cb.shape[1]
    cb, cr = cb.repeat(fy, 0).repeat(fx, 1), cr.repeat(fy, 0).repeat(fx, 1)
    return decode_yuv(np.stack([y, cb, cr], -1), matrix, full, bits), matrix, full


def streams(path) -> list[tuple]:
    """(type, language, title, handler name, disposition) of each stream, in order."""
    with av.open(str(path)) as c:
        rows = []
        for s in c.streams:
            m = {k.lower(): v for k, v in s.metadata.items()}
            title = m.get("title", m.get("name"))  # MP4 reads a track's title as "name"
            rows.append((s.type, m.get("language"), title, m.get("handler_name"), s.disposition))
        return rows

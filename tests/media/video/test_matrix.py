"""The video matrix of issue 24: {MP4, MKV, MOV, WebM} × {CFR, VFR} × {yuv420p, yuv420p10le,
yuv444p, yuvj420p} × {BT.601, BT.709, untagged} × {rotation 0, 90} × {0, 1, 2 audio tracks
(with a subtitle track)} × {even, odd target size}: each combination is a clip made here,
upscaled by the CLI (ESPCN), and checked as it went in.

The default run takes a pairwise covering of the factors (every pair of values of two
factors in at least one combination: :func:`pairwise`); ``-m slow`` adds a seeded sample of
the rest, and ``SRUP_VIDEO_MATRIX=all`` makes that sample the whole cross product.

Colour is checked as a player shows it: the first frame of the input and of the output are
each decoded from their Y'CbCr codes by :func:`tests.test_video_colour.player_rgb` (NumPy,
the textbook formulas, each file's own tags, else the size's default), and the middle of
every flat patch is compared. Flat patches 16 × 20 pixels, far larger than the network's
reach (ESPCN sees ±4 pixels) and than the 4:2:0 chroma blur at their edges, come out of any
upscaler at the colour they went in, whatever the network does at the edges: so a change
of matrix, range or depth shows (tens of levels for BT.601 against BT.709, ~16 for a range
mistake) while the network's own work does not (under a level). The inputs are lossless and
the outputs are written at ``--crf 4`` (:data:`CRF`), so the encoder's rate control on
these tiny frames is not what is measured: at the default CRF, x264 moves a flat patch of a
99 × 75 frame by up to 6 levels; at 4, srup's output matches the input exactly there.

Each combination also checks: every frame's timestamp (exact, in seconds) and the video's
length (within one frame); the size (odd sizes of subsampled formats rounded down to even,
with a note, and no other note); the rotation; the pixel format and the tags (the assumed
BT.601 written for untagged input); a 10-bit ramp's levels; the stream order, languages,
titles and dispositions; audio and subtitle packets byte for byte. What no encoder here can
write is one line and exit 2 (:func:`test_what_no_encoder_can_write_is_one_line_and_exit_2`).
"""

from __future__ import annotations

import functools
import io
import itertools
import json
import os
import random
from fractions import Fraction

import numpy as np
import pytest

from srup.cli import cli
from tests.media.video.conftest import (
    BARS,
    encode_yuv,
    frame_times,
    make_frame,
    packets,
    player_rgb,
    stream_tags,
    streams,
    write_clip,
)

av = pytest.importorskip("av", reason="the video extra (pip install 'srup[video]') is absent")

FACTORS = {
    "container": (".mp4", ".mkv", ".mov", ".webm"),
    "rate": ("cfr", "vfr"),
    "pix_fmt": ("yuv420p", "yuv420p10le", "yuv444p", "yuvj420p"),
    "tags": ("bt601", "bt709", "untagged"),
    "rotation": (0, 90),
    "tracks": (0, 1, 2),
    "size": ("even", "odd"),
}
SIZE = (66, 50)  # × 1.5 = 99 × 75: odd both ways
SCALE = {"even": "2", "odd": "1.5"}
PTS = {  # (pts, time base): 10 frames
    "cfr": (tuple(range(10)), Fraction(1, 25)),
    "vfr": ((0, 40, 80, 120, 160, 200, 400, 600, 800, 1000), Fraction(1, 1000)),
}
TAGS = {"bt601": (6, 6, 6), "bt709": (1, 1, 1), "untagged": (2, 2, 2)}  # matrix, prim., trc
# Near-transparent in every encoder here: what is measured is srup's colour path, not the
# encoder's rate control (x264 at its default CRF 23 moves a flat patch of a 99 × 75 frame by
# up to 6 levels; at 4, by none: measured).
CRF = "4"
SD_DEFAULT = (6, 6, 6)  # what an untagged 66 × 50 clip is taken to be: BT.601 (525 lines)
D = av.stream.Disposition if av else None


def pairwise(factors: dict[str, tuple]) -> list[tuple]:
    """Combinations (one value per factor, in ``factors``' order) such that every pair of
    values of two factors appears in at least one: greedy, deterministic. Each new
    combination starts from the first pair not yet covered and takes, factor by factor,
    the value that covers the most new pairs (the first such value on a tie)."""
    values = list(factors.values())
    n = len(values)

    def pairs_of(row: dict[int, object]) -> set:
        return {((i, row[i]), (j, row[j])) for i, j in itertools.combinations(sorted(row), 2)}

    todo = {
        ((i, a), (j, b))
        for i, j in itertools.combinations(range(n), 2)
        for a in values[i]
        for b in values[j]
    }
    order = {v: k for k, v in enumerate(sorted(todo, key=repr))}  # a fixed order to start from
    rows = []
    while todo:
        (i, a), (j, b) = min(todo, key=order.__getitem__)
        row = {i: a, j: b}
        for k in range(n):
            if k in row:
                continue
            row[k] = max(
                values[k], key=lambda v, k=k: len(pairs_of({**row, k: v}) & todo)
            )  # max() keeps the first of equals
        todo -= pairs_of(row)
        rows.append(tuple(row[k] for k in range(n)))
    return rows


def _id(combo: tuple) -> str:
    return "-".join(str(v).lstrip(".") for v in combo)


FULL = list(itertools.product(*FACTORS.values()))
COVER = pairwise(FACTORS)
_rest = [c for c in FULL if c not in set(COVER)]
SAMPLE = (
    _rest
    if os.environ.get("SRUP_VIDEO_MATRIX") == "all"
    else random.Random(24).sample(_rest, min(96, len(_rest)))
)
MATRIX = [pytest.param(*c, id=_id(c)) for c in COVER] + [
    pytest.param(*c, id=_id(c), marks=pytest.mark.slow) for c in SAMPLE
]


# ------------------------------------------------------------------------------ the clips


def full_range(pix_fmt: str) -> bool:
    return pix_fmt.startswith("yuvj")


def depth(pix_fmt: str) -> int:
    return 10 if "10" in pix_fmt else 8


def picture_codes(pix_fmt: str, tags: str) -> np.ndarray:
    """(H, W, 3) Y'CbCr codes: two rows of four flat patches (the eight bars of
    test_video_colour, 16–17 × 20 pixels each) above a 10-row luma ramp of 16 levels one
    code apart, 4 pixels each (grey), coded with the matrix a player will decode them by."""
    w, h = SIZE
    bits = depth(pix_fmt)
    matrix = TAGS[tags][0] if tags != "untagged" else SD_DEFAULT[0]
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = BARS[(yy >= 20) * 4 + xx * 4 // w]
    codes = encode_yuv(rgb, matrix, full_range(pix_fmt), bits)
    ramp = yy >= 40
    base = 400 if bits > 8 else 100
    codes[..., 0] = np.where(ramp, base + np.minimum(xx // 4, 15), codes[..., 0])
    codes[..., 1:] = np.where(ramp[..., None], 128 * 2 ** (bits - 8), codes[..., 1:])
    return codes


def input_codec(container: str, pix_fmt: str) -> str:
    if container != ".webm":
        return "libx264"
    return "libsvtav1" if depth(pix_fmt) > 8 else "libvpx-vp9"


# Lossless inputs: what the output is compared with is what was meant.
LOSSLESS = {
    "libx264": {"qp": "0"},
    "libvpx-vp9": {"lossless": "1"},
    "libsvtav1": {"svtav1-params": "lossless=1"},
}


@functools.cache
def can_write(container: str, codec: str, pix_fmt: str) -> bool:
    """Whether this FFmpeg can write ``pix_fmt`` with ``codec`` into ``container``."""
    try:
        muxer = {".mkv": "matroska"}.get(container, container.lstrip("."))
        with av.open(io.BytesIO(), "w", format=muxer) as out:
            v = out.add_stream(codec, rate=10)
            v.width, v.height, v.pix_fmt = *SIZE, pix_fmt
            frame = av.VideoFrame(*SIZE, pix_fmt)
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.pts, frame.time_base = 0, Fraction(1, 10)
            out.mux(v.encode(frame))
            out.mux(v.encode(None))
            return v.codec_context.pix_fmt == pix_fmt
    except (ValueError, av.error.FFmpegError):
        return False


def make_clip(tmp_path, container, rate, pix_fmt, tags, rotation, tracks):
    """The input of a combination, in its container; yuvj420p in WebM is yuv420p tagged
    full range (VP9 has no yuvj formats: the range is in its header). Where this FFmpeg
    cannot write that (10-bit WebM without SVT-AV1), the clip is an MKV (H.264) instead."""
    codec = input_codec(container, pix_fmt)
    fmt = "yuv420p" if pix_fmt == "yuvj420p" and codec != "libx264" else pix_fmt
    if not can_write(container, codec, fmt):
        container, codec, fmt = ".mkv", "libx264", pix_fmt
    rng = 2 if full_range(pix_fmt) else (1 if tags != "untagged" else 0)
    codes = picture_codes(pix_fmt, tags)
    audio = {
        0: (),
        1: (("eng", "Main", D.default),),
        2: (("eng", "English", D.default), ("fre", "Commentaire", D.comment)),
    }[tracks]
    subtitles = (("spa", D.forced, [(0.1, 0.2, "hola"), (0.3, 0.2, "adios")]),)
    pts, time_base = PTS[rate]
    return write_clip(
        tmp_path / f"in{container}",
        pts,
        time_base,
        size=SIZE,
        codec=codec,
        pix_fmt=fmt,
        audio=audio,
        audio_first=tracks == 1,  # and the stream order must stay so
        subtitles=subtitles if tracks == 2 else (),
        rotation=rotation,
        picture=lambda i: make_frame(codes, fmt),
        video_options=LOSSLESS[codec],
        colour=(TAGS[tags][0], rng, *TAGS[tags][1:]),
    )


# ---------------------------------------------------------------------------- what comes out


def video_length(path) -> Fraction:
    """How long the video track is shown, in seconds: from its first frame's start to the
    end of the frame shown last (its packet's duration). Neither the file's length (the
    longest track's: AAC's padding makes sound run longer) nor FFmpeg's reading of an MP4
    track's (the sum of its decoding-time steps, which falls short of the edit list by the
    B-frames' reordering delay when the frame rate varies)."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        spans = [(p.pts, p.pts + (p.duration or 0)) for p in c.demux(v) if p.pts is not None]
    return (max(e for _, e in spans) - min(s for s, _ in spans)) * v.time_base


def colour_of(path) -> dict:
    """The first frame's tags as a player takes them: the frame's, else the stream's
    (FFmpeg enum values; 2 and 0: unspecified)."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frame = next(c.decode(v))
        cc = v.codec_context
        got = {}
        for key in ("colorspace", "color_range", "color_primaries", "color_trc"):
            value = int(getattr(frame, key))
            got[key] = value if value not in (0, 2) else int(getattr(cc, key))
        fmt = frame.format.name
        return {
            **got,
            "pix_fmt": "yuv" + fmt[4:] if fmt.startswith("yuvj") else fmt,
            "full": fmt.startswith("yuvj") or got["color_range"] == 2,
            "rotation": frame.rotation,
            "size": (frame.width, frame.height),
        }


def patch_colours(rgb: np.ndarray) -> np.ndarray:
    """Median R'G'B' of the middle of each of the eight patches ((8, 3)), at the same
    fractions of the frame whatever its size."""
    h, w = rgb.shape[:2]
    sy, sx = h / SIZE[1], w / SIZE[0]
    out = []
    for row, col in itertools.product(range(2), range(4)):
        cy, cx = (row * 20 + 10) * sy, (col + 0.5) * SIZE[0] / 4 * sx
        ry, rx = max(1, round(2 * sy)), max(1, round(2 * sx))
        patch = rgb[round(cy) - ry : round(cy) + ry, round(cx) - rx : round(cx) + rx]
        out.append(np.median(patch.reshape(-1, 3), 0))
    return np.array(out)


def ramp_levels(info: dict) -> np.ndarray:
    """The luma code in the middle of each of the ramp's 16 steps (the median of a few
    pixels: the encoder's noise is not what is measured)."""
    y = info["planes"][0].astype(np.int64)
    h, w = y.shape
    sy, sx = h / SIZE[1], w / SIZE[0]
    levels = []
    for i in range(16):
        cy, cx = round(45 * sy), round((4 * i + 2) * sx)
        levels.append(np.median(y[cy - 2 : cy + 3, cx - 1 : cx + 1]))
    return np.rint(levels).astype(np.int64)


def run(runner, src, dst, scale: str) -> tuple[int, dict | None, str]:
    args = ["-s", scale, "-o", str(dst), "-m", "espcn", "--crf", CRF, "--json", "-q"]
    res = runner.invoke(cli, ["upscale", str(src), *args])
    lines = res.stdout.strip().splitlines()
    try:
        obj = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        obj = None
    return res.exit_code, obj, res.output


@pytest.mark.parametrize(tuple(FACTORS), MATRIX)
def test_a_video_comes_out_as_it_went_in(
    runner, tmp_path, container, rate, pix_fmt, tags, rotation, tracks, size
):
    src = make_clip(tmp_path, container, rate, pix_fmt, tags, rotation, tracks)
    dst = tmp_path / f"out{container}"
    code, obj, output = run(runner, src, dst, SCALE[size])
    if src.suffix != container:  # nothing here writes it: one line, before any frame
        assert code == 2 and obj is None and not dst.exists(), output
        assert output.count("\n") == 1 and "keeps" in output, output
        return
    assert code == 0, output
    assert obj["status"] == "done" and obj["frames"] == 10, obj

    # Time: every frame where it was (exact, in seconds), the length within one frame.
    before = frame_times(src)
    assert frame_times(dst) == before
    period = max(y - x for x, y in itertools.pairwise(before))
    assert abs(video_length(dst) - video_length(src)) <= period

    # Size: × 2, or × 1.5 rounded down to even (with a note) where the chroma is subsampled.
    cin, cout = colour_of(src), colour_of(dst)
    w, h = SIZE
    want = (2 * w, 2 * h) if size == "even" else (w * 3 // 2, h * 3 // 2)
    notes = obj["notes"]
    if size == "odd" and pix_fmt != "yuv444p":
        want = (want[0] - want[0] % 2, want[1] - want[1] % 2)
        (note,) = notes
        assert "written as" in note and "even" in note, note
    else:
        assert notes == [], notes
    assert cout["size"] == want
    assert cout["rotation"] == cin["rotation"] == rotation

    # Colour: the same tags (the assumed ones written when there were none), format, depth.
    matrix, primaries, transfer = TAGS[tags] if tags != "untagged" else SD_DEFAULT
    assert cout["pix_fmt"] == cin["pix_fmt"]
    assert cout["full"] == cin["full"] == full_range(pix_fmt)
    assert (cout["colorspace"], cout["color_primaries"], cout["color_trc"]) == (
        matrix,
        primaries,
        transfer,
    )
    assert cout["color_range"] == (2 if full_range(pix_fmt) else 1)

    # The patches as a player shows them, within 2 levels of the input shown the same way.
    info_in, info_out = stream_tags(src), stream_tags(dst)
    shown_in, shown_out = player_rgb(info_in)[0], player_rgb(info_out)[0]
    error = np.abs(patch_colours(shown_out) - patch_colours(shown_in)).max()
    assert error <= 2.0, f"patches moved by {error:.1f} levels"
    if depth(pix_fmt) > 8:  # 16 levels a quarter of an 8-bit level apart: all still there
        got, was = ramp_levels(info_out), ramp_levels(info_in)
        assert len(np.unique(got)) >= 14, got
        assert np.abs(got - was).max() <= 2, (got, was)

    # Tracks: order, languages, titles, dispositions; audio and subtitles byte for byte.
    assert streams(dst) == streams(src)
    pin, pout = packets(src), packets(dst)
    with av.open(str(src)) as c:
        copied = [s.index for s in c.streams if s.type != "video"]
    assert len(copied) == {0: 0, 1: 1, 2: 3}[tracks]
    for index in copied:
        assert pout[index] == pin[index], f"stream {index}"


# What no encoder here can write, outside the matrix's formats: WebM holds VP9 (8-bit only
# in this libvpx), AV1 (SVT-AV1: 4:2:0 only) and VP8 (8-bit 4:2:0).
BEYOND = [("yuv444p10le", "10-bit 4:4:4", ".webm"), ("yuv422p10le", "10-bit 4:2:2", ".webm")]


@pytest.mark.parametrize(("pix_fmt", "layout", "container"), BEYOND)
def test_what_no_encoder_can_write_is_one_line_and_exit_2(
    runner, tmp_path, pix_fmt, layout, container
):
    keeps = [
        e for e in ("libvpx-vp9", "libsvtav1", "libaom-av1") if can_write(container, e, pix_fmt)
    ]
    if keeps:
        pytest.skip(f"{', '.join(keeps)} writes {pix_fmt} in this FFmpeg")
    src = write_clip(tmp_path / "in.mkv", tuple(range(3)), Fraction(1, 12), pix_fmt=pix_fmt)
    dst = tmp_path / f"out{container}"
    code, obj, output = run(runner, src, dst, "2")
    assert code == 2 and obj is None and not dst.exists(), output
    (line,) = output.strip().splitlines()
    assert f"keeps {layout} ({pix_fmt})" in line, line
    assert "--codec vp9 writes 8-bit" in line and ".mkv" in line
    # What the line offers: --codec takes the loss, and says it in a note.
    res = runner.invoke(
        cli, ["upscale", str(src), "-s", "2", "-o", str(dst), "--codec", "vp9", "--json", "-q"]
    )
    assert res.exit_code == 0, res.output
    notes = json.loads(res.stdout.strip().splitlines()[-1])["notes"]
    assert any("10-bit video written as 8-bit" in n for n in notes), notes

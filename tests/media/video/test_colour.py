"""Video colour and bit depth (issue 24, items 2 and 3): the matrix, range, primaries and
transfer a clip is in are read, used both ways and written back; 10-bit stays 10-bit.

Clips are made here: colour bars and a luma ramp written straight into the Y'CbCr planes
with the textbook formulas (so the input's codes are known), encoded losslessly. Both input
and output are decoded "the way a player would" by :func:`player_rgb`, an independent NumPy
reference: each with its own tags, else the size's usual default.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from srup.cli import cli

av = pytest.importorskip("av", reason="the video extra (pip install 'srup[video]') is absent")

from srup.media import video_colour  # noqa: E402  (needs av only when called, but tests need av)
from tests.media.video.conftest import (  # noqa: E402
    BARS,
    decode_yuv,
    encode_yuv,
    is_hd,
    make_frame,
    planes_of,
    player_rgb,
    stream_tags,
)

TAGS = {"bt709": (1, 1, 1), "bt601": (6, 6, 6), "untagged": (2, 2, 2)}


def write_clip(
    path: Path, frames: list[np.ndarray], pix_fmt: str, tag: str, codec: str = "libx264"
) -> Path:
    """A lossless clip of ``frames`` (Y'CbCr codes) tagged as ``tag`` (TAGS), full range
    for yuvj formats and limited otherwise (the range tagged unless ``untagged``)."""
    h, w = frames[0].shape[:2]
    matrix, primaries, trc = TAGS[tag]
    full = pix_fmt.startswith("yuvj")
    with av.open(str(path), "w") as out:
        v = out.add_stream(codec, rate=10)
        v.width, v.height, v.pix_fmt = w, h, pix_fmt
        v.options = {"qp": "0", "preset": "ultrafast"} if codec == "libx264" else {}
        cc = v.codec_context
        cc.colorspace, cc.color_primaries, cc.color_trc = matrix, primaries, trc
        if tag != "untagged" or full:
            cc.color_range = 2 if full else 1
        for i, codes in enumerate(frames):
            frame = make_frame(codes, pix_fmt)
            frame.pts, frame.time_base = i, Fraction(1, 10)
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
    return path


def bars_codes(w: int, h: int, pix_fmt: str, tag: str) -> np.ndarray:
    """Bars as codes, encoded the way a player will decode them (tags, else defaults)."""
    matrix = TAGS[tag][0] if tag != "untagged" else (1 if is_hd(w, h) else 6)
    rgb = np.repeat(BARS, w // len(BARS), 0)[None].repeat(h, 0)
    return encode_yuv(rgb, matrix, pix_fmt.startswith("yuvj"), video_colour.depth(pix_fmt))


def bar_centres(rgb: np.ndarray) -> np.ndarray:
    """Median colour of the middle of each bar: (8, 3)."""
    h, w = rgb.shape[:2]
    bw = w // len(BARS)
    out = []
    for i in range(len(BARS)):
        x0 = i * bw + bw // 2
        patch = rgb[h // 2 - 2 : h // 2 + 2, x0 - bw // 8 : x0 + bw // 8]
        out.append(np.median(patch.reshape(-1, 3), 0))
    return np.array(out)


def upscale(runner, src: Path, dst: Path, *extra: str) -> dict:
    res = runner.invoke(
        cli, ["upscale", str(src), "-s", "2", "-o", str(dst), "--json", "-q", *extra]
    )
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout.strip().splitlines()[-1])


# A representative share of {format} × {tags} × {container}; the rest is marked slow.
FORMATS = ["yuv420p", "yuv420p10le", "yuv444p", "yuvj420p"]
CONTAINERS = [".mp4", ".mkv"]
SHARE = {
    ("yuv420p", "bt709", ".mp4"),
    ("yuv420p", "bt601", ".mkv"),
    ("yuv420p", "untagged", ".mp4"),
    ("yuv420p10le", "bt709", ".mkv"),
    ("yuv420p10le", "untagged", ".mp4"),
    ("yuv444p", "bt601", ".mp4"),
    ("yuvj420p", "untagged", ".mkv"),
    ("yuvj420p", "bt709", ".mp4"),
}
MATRIX = [
    pytest.param(f, t, c, marks=() if (f, t, c) in SHARE else pytest.mark.slow)
    for f in FORMATS
    for t in TAGS
    for c in CONTAINERS
]


@pytest.mark.parametrize("pix_fmt,tag,container", MATRIX)
def test_bars_keep_their_colour_format_and_tags(runner, tmp_path, pix_fmt, tag, container):
    w, h = 128, 72
    src = write_clip(
        tmp_path / f"bars{container}", [bars_codes(w, h, pix_fmt, tag)] * 2, pix_fmt, tag
    )
    dst = tmp_path / f"bars_x2{container}"
    upscale(runner, src, dst)
    before, after = stream_tags(src), stream_tags(dst)
    shown_in, matrix, full = player_rgb(before)
    shown_out, _, _ = player_rgb(after)
    error = np.abs(bar_centres(shown_out) - bar_centres(shown_in)).max()
    assert error <= 2.0, f"bars moved by {error:.1f} levels"
    # Tags: the input's, or what was assumed when it had none (so a player at the new size
    # does not guess otherwise).
    primaries = TAGS[tag][1] if tag != "untagged" else 6
    assert (after["matrix"], after["primaries"], after["transfer"]) == (
        matrix,
        primaries,
        primaries,
    )
    assert after["range"] == (2 if full else 1)
    twin = {"yuvj420p": "yuv420p"}
    assert twin.get(after["pix_fmt"], after["pix_fmt"]) == twin.get(pix_fmt, pix_fmt)


def test_an_hd_clip_tagged_bt709_is_not_shown_with_shifted_bars(runner, tmp_path):
    """The issue's case: BT.709 HD bars came out BT.601-coded and untagged, so a player
    (BT.709 for HD) showed green (0, 191, 0) tens of levels off."""
    w, h = 1280, 16  # HD by width, few pixels
    src = write_clip(
        tmp_path / "hd.mp4", [bars_codes(w, h, "yuv420p", "bt709")], "yuv420p", "bt709"
    )
    dst = tmp_path / "hd_x2.mp4"
    upscale(runner, src, dst, "-m", "espcn")
    shown_in, _, _ = player_rgb(stream_tags(src))
    after = stream_tags(dst)
    shown_out, _, _ = player_rgb(after)
    error = np.abs(bar_centres(shown_out) - bar_centres(shown_in))
    assert error.max() <= 2.0, error.max(1)
    assert after["stream"] == (1, 1, 1, 1)  # as the input's stream says: bt709, limited


def test_untagged_clips_get_the_defaults_of_their_size_written(runner, tmp_path):
    """An untagged SD clip is BT.601; ×2 makes it HD-sized, so the output says BT.601
    (a player would otherwise assume BT.709)."""
    w, h = 640, 32  # SD: 640 wide; ×2 = 1280 wide: HD
    src = write_clip(
        tmp_path / "sd.mkv", [bars_codes(w, h, "yuv420p", "untagged")], "yuv420p", "untagged"
    )
    dst = tmp_path / "sd_x2.mkv"
    upscale(runner, src, dst, "-m", "espcn")
    after = stream_tags(dst)
    assert is_hd(*after["size"]) and after["matrix"] == 6 and after["range"] == 1
    shown_in, _, _ = player_rgb(stream_tags(src))
    shown_out, _, _ = player_rgb(after)
    assert np.abs(bar_centres(shown_out) - bar_centres(shown_in)).max() <= 2.0


def ramp_codes(levels: int = 64, block: int = 4, h: int = 16, base: int = 400) -> np.ndarray:
    """A 10-bit luma ramp: ``levels`` blocks ``block`` pixels wide, one code apart; grey."""
    y = np.repeat(base + np.arange(levels), block)[None].repeat(h, 0)
    return np.stack([y, np.full_like(y, 512), np.full_like(y, 512)], -1).astype(np.float64)


def ramp_levels(info: dict, levels: int = 64) -> np.ndarray:
    y = info["planes"][0].astype(np.int64)
    block = y.shape[1] // levels
    return y[y.shape[0] // 2, block // 2 :: block][:levels]


@pytest.mark.parametrize(
    "pix_fmt,container",
    [
        ("yuv420p10le", ".mp4"),
        ("yuv444p10le", ".mkv"),
        pytest.param("yuv422p10le", ".mp4", marks=pytest.mark.slow),
    ],
)
def test_a_10bit_ramp_keeps_its_64_levels(runner, tmp_path, pix_fmt, container):
    src = write_clip(tmp_path / f"ramp{container}", [ramp_codes()] * 2, pix_fmt, "bt709")
    dst = tmp_path / f"ramp_x2{container}"
    upscale(runner, src, dst)
    after = stream_tags(dst)
    assert after["pix_fmt"] == pix_fmt
    if pix_fmt == "yuv420p10le":
        assert after["profile"] == "High 10"
    got = ramp_levels(after)
    want = ramp_levels(stream_tags(src))
    assert len(np.unique(got)) >= 60, f"{len(np.unique(got))} levels of 64"  # 8-bit: 17
    assert np.abs(got - want).max() <= 2


def test_8bit_stays_8bit_and_444_stays_444(runner, tmp_path):
    src = write_clip(
        tmp_path / "c.mkv", [bars_codes(64, 48, "yuv444p", "bt601")], "yuv444p", "bt601"
    )
    upscale(runner, src, tmp_path / "o.mkv", "-m", "espcn")
    assert stream_tags(tmp_path / "o.mkv")["pix_fmt"] == "yuv444p"


def test_an_encoder_without_10bit_gives_8bit_and_a_note(runner, tmp_path):
    src = write_clip(tmp_path / "r.mkv", [ramp_codes()], "yuv444p10le", "bt709")
    res = upscale(runner, src, tmp_path / "r_x2.mkv", "--codec", "mpeg4", "-m", "espcn")
    after = stream_tags(tmp_path / "r_x2.mkv")
    assert after["pix_fmt"] == "yuv420p"
    notes = " ".join(res.get("notes", []))
    assert "10-bit video written as 8-bit" in notes and "4:4:4 written as 4:2:0" in notes
    assert after["matrix"] == 1  # tags still kept


def test_frames_to_png_of_a_10bit_clip_are_16bit(runner, tmp_path):
    from srup.media import pictures as imageio

    src = write_clip(tmp_path / "r.mp4", [ramp_codes()], "yuv420p10le", "bt709")
    res = runner.invoke(
        cli,
        ["upscale", str(src), "-s", "2", "-m", "espcn", "--frames-to", str(tmp_path / "f"), "-q"],
    )
    assert res.exit_code == 0, res.output
    (png,) = (tmp_path / "f").rglob("*.png")
    pixels = imageio.read(png).pixels  # Pillow would read 16-bit RGB as 8-bit
    assert pixels.dtype == np.uint16 and len(np.unique(pixels[16, 4::8, 1])) >= 60


# The choices on their own: no clip needed.


@pytest.mark.parametrize(
    "size,matrix,primaries",
    [
        ((1920, 1080), 1, 1),
        ((1280, 720), 1, 1),
        ((1280, 16), 1, 1),
        ((1024, 768), 1, 1),  # more than 576 lines
        ((720, 576), 6, 5),  # PAL
        ((720, 480), 6, 6),  # NTSC
        ((640, 360), 6, 6),
    ],
)
def test_defaults_by_size(size, matrix, primaries):
    c = video_colour.default_colour(*size)
    assert (c.matrix, c.primaries, c.range) == (matrix, primaries, 1)
    assert video_colour.default_colour(*size, "yuvj420p").range == 2


@pytest.mark.parametrize(
    "pix_fmt,encoder,want,note",
    [
        ("yuv420p10le", "libx264", "yuv420p10le", None),
        ("yuv422p10le", "libx265", "yuv422p10le", None),
        ("yuv420p12le", "libx264", "yuv420p10le", "12-bit video written as 10-bit"),
        ("yuv420p10le", "mpeg4", "yuv420p", "10-bit video written as 8-bit"),
        ("yuv444p", "mpeg4", "yuv420p", "4:4:4 written as 4:2:0"),
        ("yuv444p", "libsvtav1", "yuv420p", "4:4:4 written as 4:2:0"),
        ("yuvj420p", "libx264", "yuv420p", None),
        ("yuv420p", "libx264", "yuv420p", None),
        ("yuv420p10le", "libvpx-vp9", None, None),  # depends on the libvpx build
    ],
)
def test_output_format(pix_fmt, encoder, want, note):
    try:
        codec = av.codec.Codec(encoder, "w")
    except Exception:
        pytest.skip(f"{encoder} not in this FFmpeg")
    supported = [f.name for f in codec.video_formats or []]
    got, notes = video_colour.output_format(pix_fmt, supported, encoder)
    if want is None:  # whatever it picks, it says so when the depth is lost
        lost = video_colour.depth(got) < video_colour.depth(pix_fmt)
        assert bool(notes) == lost
        return
    assert got == want
    assert (note is None and not notes) or any(note in n for n in notes), notes


def test_round_trip_is_within_a_level_of_exact_arithmetic():
    """swscale with srup's flags against the formulas, every matrix and range: flat
    colours decode within 0.5 level (8-bit) and 1 level (10-bit)."""

    class Stream:
        pass

    rgb = np.repeat(BARS, 16, 0)[None].repeat(16, 0)
    for fmt in ("yuv420p", "yuv444p", "yuv420p10le"):
        bits = video_colour.depth(fmt)
        for matrix in (1, 6, 9):
            for rng in (1, 2):
                s = Stream()
                s.codec_context = Stream()
                s.codec_context.__dict__.update(
                    pix_fmt=fmt, colorspace=matrix, color_range=rng, color_primaries=1, color_trc=1
                )
                pixels = rgb.astype(np.uint16) * 257 if bits > 8 else rgb.astype(np.uint8)
                frame = video_colour.from_rgb(pixels, s)
                assert (frame.colorspace, frame.color_range) == (matrix, rng)
                centres = [16 * i + 8 for i in range(len(BARS))]
                codes = np.array(
                    [
                        [p[8 * p.shape[0] // 16, x * p.shape[1] // 128] for p in planes_of(frame)]
                        for x in centres
                    ],
                    np.float64,
                )
                enc = np.abs(codes - encode_yuv(BARS, matrix, rng == 2, bits)).max() / 2 ** (
                    bits - 8
                )
                assert enc <= 1.1, (fmt, matrix, rng, enc)
                back = video_colour.to_rgb(frame)[8, 8::16].astype(np.float64)
                back /= 257 if bits > 8 else 1
                dec = np.abs(back - decode_yuv(codes, matrix, rng == 2, bits)).max()
                assert dec <= (1.0 if bits > 8 else 0.6), (fmt, matrix, rng, dec)


def test_mjpeg_output_is_bt601_full_range_with_the_colours_kept(runner, tmp_path):
    """JPEG frames are BT.601 full range whatever the tags (FFmpeg's decoder says so):
    BT.709 limited bars are converted, not relabelled, and the notes say it."""
    w, h = 128, 64
    src = write_clip(tmp_path / "b.mkv", [bars_codes(w, h, "yuv420p", "bt709")], "yuv420p", "bt709")
    dst = tmp_path / "b_x2.mkv"
    res = upscale(runner, src, dst, "--codec", "mjpeg", "-m", "espcn")
    after = stream_tags(dst)
    assert (after["matrix"], after["range"]) == (5, 2)
    shown_in, _, _ = player_rgb(stream_tags(src))
    shown_out, _, _ = player_rgb(after)
    assert np.abs(bar_centres(shown_out) - bar_centres(shown_in)).max() <= 3.0
    notes = " ".join(res["notes"])
    assert "converted to BT.601" in notes and "written as full range" in notes

"""Colour and bit depth of video frames: what the numbers in a frame mean, kept as data.

A decoded frame is Y'CbCr in some matrix (BT.601, BT.709, BT.2020, …), in limited (TV)
or full (PC, JPEG) range, at some bit depth, for display through some primaries and
transfer curve. :func:`to_rgb` turns it into the R'G'B' pixels srup's engine takes, with the
frame's own matrix and range (8-bit formats as ``uint8``, deeper ones as ``uint16``, so a
10-bit ramp keeps its 1024 steps); :func:`configure` gives an output stream the pixel format
and the tags the input had; :func:`from_rgb` turns upscaled pixels back with that same
matrix and range. Nothing is converted between primaries or transfer curves: those are
carried as tags.

Untagged input gets what players assume (mpv and VLC alike): BT.709 for HD (width ≥ 1280
or height > 576), BT.601 otherwise (primaries by line count: 625-line BT.470BG for
576/288 lines, 525-line SMPTE 170M for the rest), limited range except for the ``yuvj``
formats, which are full range. The output is tagged with what was assumed, so that the
larger output is not guessed differently (an untagged 640×480 clip at ×2 is 1280×960: HD).

Conversions go through swscale (PyAV's ``reformat``) with accurate rounding: within half a
level of exact arithmetic on flat areas (8-bit decode, with full horizontal chroma
interpolation; swscale's full-chroma path is wrong for deeper formats and is not used
there), within one level for encoding.

FFmpeg's enumerations are used as plain ints: matrix ``AVColorSpace`` (1 BT.709,
2 unspecified, 5 BT.470BG, 6 SMPTE 170M, 9 BT.2020 NCL, …), range ``AVColorRange``
(0 unspecified, 1 limited/MPEG, 2 full/JPEG), ``AVColorPrimaries`` and
``AVColorTransferCharacteristic`` (1 BT.709, 2 unspecified, …).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Colour",
    "configure",
    "default_colour",
    "depth",
    "describe",
    "from_rgb",
    "is_hd",
    "layout",
    "output_format",
    "to_rgb",
    "unconverted",
]

UNSPECIFIED = 2  # AVCOL_SPC/PRI/TRC_UNSPECIFIED
RANGE_UNSPECIFIED, LIMITED, FULL = 0, 1, 2
RGB_MATRIX = 0  # AVCOL_SPC_RGB: the planes are G, B, R
BT709, BT470BG, SMPTE170M = 1, 5, 6

# FFmpeg's names, for notes.
MATRIX_NAMES = {
    0: "rgb",
    1: "bt709",
    4: "fcc",
    5: "bt470bg",
    6: "smpte170m",
    7: "smpte240m",
    8: "ycgco",
    9: "bt2020nc",
    10: "bt2020c",
    11: "smpte2085",
    12: "chroma-derived-nc",
    13: "chroma-derived-c",
    14: "ictcp",
    15: "ipt-c2",
    16: "ycgco-re",
    17: "ycgco-ro",
}
# AVColorSpace → swscale's matrix (SWS_CS_*: 1 ITU709, 4 FCC, 5 ITU601, 7 SMPTE240M,
# 9 BT2020). BT.2020 constant luminance is converted as non-constant (its matrix).
_SWS_MATRIX = {1: 1, 4: 4, 5: 5, 6: 5, 7: 7, 9: 9, 10: 9}
_SWS_ITU709 = 1
# The RGB side of a conversion is given as swscale's default matrix and no range: swscale
# ignores both for RGB, and PyAV before 17 sets the Y'CbCr side's matrix and range only when
# the two sides differ (where they do not, the Y'CbCr side is BT.601 limited: the default).
_SWS_DEFAULT = 5
_SWS_BILINEAR, _SWS_FULL_CHR_H_INT, _SWS_ACCURATE_RND = 0x2, 0x2000, 0x40000

# Encoders of JPEG pictures: full-range BT.601 Y'CbCr only (JFIF), whatever the tags say.
_JPEG = ("mjpeg", "ljpeg", "jpegls")
# Encoders srup suggests when one cannot keep a depth (FFmpeg names, most common first).
_DEEP_ENCODERS = ("libx264", "libx265", "libvpx-vp9", "libsvtav1", "libaom-av1")


@dataclass(frozen=True)
class Colour:
    """What a frame's numbers mean: ``matrix`` (AVColorSpace), ``range`` (1 limited,
    2 full), ``primaries`` (AVColorPrimaries), ``transfer`` (AVColorTransferCharacteristic),
    each an FFmpeg enum value, never "unspecified" here; ``assumed``: the names of the
    fields that were not tagged and hold srup's defaults."""

    matrix: int
    range: int
    primaries: int
    transfer: int
    assumed: tuple[str, ...] = ()

    @property
    def matrix_name(self) -> str:
        return MATRIX_NAMES.get(self.matrix, str(self.matrix))


def is_hd(width: int, height: int) -> bool:
    """Whether players take an untagged clip of this size (pixels) as HD (BT.709): width
    at least 1280 or more than 576 lines, as mpv and VLC do."""
    return width >= 1280 or height > 576


def depth(pix_fmt: str) -> int:
    """Bits per sample of ``pix_fmt``'s first component (8 for yuv420p, 10 for
    yuv420p10le and p010le); 8 for a format PyAV does not know."""
    import av

    try:
        return int(av.VideoFormat(pix_fmt).components[0].bits)
    except (ValueError, IndexError, TypeError):
        return 8


def _is_rgb(pix_fmt: str) -> bool:
    import av

    try:
        return bool(av.VideoFormat(pix_fmt).is_rgb)
    except (ValueError, TypeError):
        return False


def _is_jpeg_range(pix_fmt: str) -> bool:
    return pix_fmt.startswith("yuvj")


def default_colour(width: int, height: int, pix_fmt: str = "yuv420p") -> Colour:
    """What an untagged ``width`` × ``height`` clip in ``pix_fmt`` is taken to be (module
    docstring): every field in ``assumed``."""
    if is_hd(width, height):
        matrix, primaries, transfer = BT709, BT709, BT709
    else:
        pal = height in (576, 288)
        matrix, primaries, transfer = SMPTE170M, BT470BG if pal else SMPTE170M, SMPTE170M
    rng = FULL if _is_jpeg_range(pix_fmt) or _is_rgb(pix_fmt) else LIMITED
    if _is_rgb(pix_fmt):
        matrix = RGB_MATRIX
    return Colour(matrix, rng, primaries, transfer, ("matrix", "range", "primaries", "transfer"))


def _tag(obj: Any, name: str) -> int | None:
    value = getattr(obj, name, None)
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def describe(frame: Any, stream: Any = None) -> Colour:
    """The colour of ``frame`` (a PyAV VideoFrame, or None): each field as the frame tags
    it, else as ``stream`` (the input's PyAV video stream) does, else the default for the
    frame's size and format (:func:`default_colour`)."""
    cc = getattr(stream, "codec_context", None)
    width = getattr(frame, "width", None) or getattr(cc, "width", 0) or 0
    height = getattr(frame, "height", None) or getattr(cc, "height", 0) or 0
    fmt = getattr(getattr(frame, "format", None), "name", None) or getattr(cc, "pix_fmt", None)
    fmt = fmt or "yuv420p"
    default = default_colour(width, height, fmt)
    fields, assumed = {}, []
    for key, attr, unset in (
        ("matrix", "colorspace", (UNSPECIFIED, 3)),  # 3: reserved
        ("range", "color_range", (RANGE_UNSPECIFIED,)),
        ("primaries", "color_primaries", (UNSPECIFIED, 3)),
        ("transfer", "color_trc", (UNSPECIFIED, 3)),
    ):
        value = None
        for source in (frame, cc):
            tag = _tag(source, attr) if source is not None else None
            if tag is not None and tag not in unset and tag >= 0:
                value = tag
                break
        if value is None:
            value = getattr(default, key)
            assumed.append(key)
        fields[key] = value
    if _is_rgb(fmt):  # G, B, R planes: no matrix, full range whatever the tags say
        fields["matrix"], fields["range"] = RGB_MATRIX, FULL
    elif fields["matrix"] == RGB_MATRIX:  # tagged RGB on Y'CbCr planes: nonsense
        fields["matrix"] = default.matrix
        assumed.append("matrix")
    return Colour(**fields, assumed=tuple(assumed))


def _sws_matrix(matrix: int) -> int:
    """swscale's matrix for an AVColorSpace; BT.709 for those swscale lacks (YCgCo, ICtCp,
    …), which is harmless as long as both ways use it (see :func:`unconverted`)."""
    return _SWS_MATRIX.get(matrix, _SWS_ITU709)


def unconverted(colour: Colour) -> str | None:
    """A note when swscale has no conversion for ``colour``'s matrix, else None."""
    if colour.matrix == RGB_MATRIX or colour.matrix in _SWS_MATRIX:
        return None
    return (
        f"colour matrix {colour.matrix_name} has no converter here: frames went through "
        "BT.709 both ways (the network saw slightly wrong colours; the tags are kept)"
    )


def _flags(deep: bool, decode: bool) -> int:
    """swscale flags: bilinear (no resizing happens), accurate rounding, and on 8-bit
    decode full horizontal chroma interpolation (3 levels closer on flat colour; wrong in
    swscale from >8-bit Y'CbCr to 16-bit RGB, so not used there). libswscale's own values
    (stable ABI): PyAV before 17 has no names for the last two but passes an int through."""
    flags = _SWS_BILINEAR | _SWS_ACCURATE_RND
    if decode and not deep:
        flags |= _SWS_FULL_CHR_H_INT
    return flags


def _reformat(frame: Any, **kw: Any) -> Any:
    try:
        return frame.reformat(**kw)
    except (TypeError, ValueError):  # an older PyAV: plain flags, or no range arguments
        kw.pop("interpolation", None)
        return frame.reformat(**kw)


def to_rgb(frame: Any, stream: Any = None) -> np.ndarray:
    """A decoded PyAV VideoFrame as R'G'B': ``(H, W, 3)`` C-contiguous, ``uint8`` 0–255 for
    formats of 8 bits or fewer, ``uint16`` 0–65535 for deeper ones, converted with the
    frame's matrix and range (:func:`describe`, ``stream`` for tags the frame lacks)."""
    colour = describe(frame, stream)
    fmt = frame.format.name
    deep = depth(fmt) > 8
    target = "rgb48le" if deep else "rgb24"
    if _is_rgb(fmt):
        rgb = _reformat(frame, format=target)
    else:
        matrix = _sws_matrix(colour.matrix)
        rgb = _reformat(
            frame,
            format=target,
            src_colorspace=matrix,
            dst_colorspace=_SWS_DEFAULT,  # see _SWS_DEFAULT
            src_color_range=colour.range,
            interpolation=_flags(deep, decode=True),
        )
    arr = rgb.to_ndarray()
    if deep and arr.dtype != np.uint16:  # rgb48 as bytes on an old PyAV
        arr = arr.view(np.uint16).reshape(frame.height, frame.width, 3)
    return np.ascontiguousarray(arr)


def output_format(
    pix_fmt: str, supported: Sequence[str], encoder: str = "the encoder"
) -> tuple[str, list[str]]:
    """The pixel format to encode a ``pix_fmt`` input with, from the encoder's
    ``supported`` formats (empty: any), and notes on what is lost.

    The input's own format where the encoder takes it (``yuvj*`` as its ``yuv*`` twin:
    the range goes in the tags); else the closest: the same depth before the same chroma
    subsampling, losing neither where some format allows (deeper or less subsampled is
    fine: 8-bit stays 8-bit only because it is asked for first), planar Y'CbCr before
    packed layouts, no alpha. A loss of depth or chroma is a note naming the encoder.

    srup's video frames are opaque R'G'B' (:func:`to_rgb`): an input with alpha is written
    in a format without it (``argb`` as ``rgb24``, ``yuva420p`` as ``yuv420p``), with a
    note, never in a format that claims a transparency it does not hold."""
    if _has_alpha(pix_fmt):
        opaque = [name for name in supported if not _has_alpha(name)]
        best, notes = output_format(_opaque_twin(pix_fmt), opaque or supported, encoder)
        note = (
            f"alpha (transparency) of the {pix_fmt} video dropped: srup writes video frames opaque"
        )
        return best, [note, *notes]
    want = "yuv" + pix_fmt[4:] if _is_jpeg_range(pix_fmt) else pix_fmt
    if not supported:
        return want, []
    if want in supported:
        return want, []
    if pix_fmt in supported and want not in supported:
        return pix_fmt, []
    source = _shape(pix_fmt)
    gray = len(_components(pix_fmt)) == 1
    best = min(supported, key=lambda name: _cost(name, source, gray))
    return best, _loss_notes(source, _shape(best), encoder)


def _shape(name: str) -> tuple[int, int, int, bool, bool]:
    """(bits, horizontal and vertical chroma subsampling, RGB, alpha) of pixel format
    ``name``; an unknown one as 8-bit 4:2:0 Y'CbCr."""
    import av

    try:
        f = av.VideoFormat(name)
        cw, ch = f.chroma_width(64), f.chroma_height(64)
        alpha = len(f.components) in (2, 4)
        return depth(name), 64 // max(cw, 1), 64 // max(ch, 1), f.is_rgb, alpha
    except (ValueError, TypeError, ZeroDivisionError):
        return 8, 2, 2, False, False


def _cost(name: str, source: tuple[int, int, int, bool, bool], gray: bool) -> tuple:
    """How far pixel format ``name`` is from the ``source``'s (:func:`_shape`; ``gray``:
    the source has one component): what :func:`output_format` minimises."""
    bits, sx, sy, rgb, _ = source
    b, cx, cy, is_rgb, alpha = _shape(name)
    lost_bits = max(bits - b, 0)
    lost_chroma = int(cx > sx) + int(cy > sy)
    is_gray = len(_components(name)) == 1
    return (
        lost_bits > 0,
        lost_chroma > 0 or (is_gray and not gray),
        lost_bits,
        lost_chroma,
        b - bits if b > bits else 0,  # wasted depth
        (sx // cx if cx < sx else 1) * (sy // cy if cy < sy else 1),  # wasted chroma
        is_rgb != rgb,
        is_gray != gray,
        alpha,
        not name.startswith(("yuv", "gbr", "gray")),
        _is_jpeg_range(name),
        name,
    )


def _loss_notes(source: tuple, best: tuple, encoder: str) -> list[str]:
    """Notes on the depth and chroma lost writing a ``source`` as ``best`` (:func:`_shape`)."""
    bits, sx, sy, _, _ = source
    b, cx, cy, _, _ = best
    notes = []
    if b < bits:
        others = [e for e in _DEEP_ENCODERS if e != encoder and _takes_depth(e, bits)]
        hint = f" ({', '.join(others)} would keep it)" if others else ""
        notes.append(
            f"{bits}-bit video written as {b}-bit: {encoder} takes no {bits}-bit format here{hint}"
        )
    if cx > sx or cy > sy:
        notes.append(
            f"chroma {_subsampling(sx, sy)} written as {_subsampling(cx, cy)}: "
            f"{encoder} takes no {_subsampling(sx, sy)} format here"
        )
    return notes


def _has_alpha(name: str) -> bool:
    try:
        return len(_components(name)) in (2, 4)  # gray + alpha, or three + alpha
    except (ValueError, TypeError):
        return False


def _opaque_twin(name: str) -> str:
    """The pixel format of ``name``'s depth and layout without its alpha (rgb24 for argb)."""
    import av

    if name.startswith("yuva"):
        twin = "yuv" + name[4:]
    elif name.startswith("gbrap"):
        twin = "gbrp" + name[5:]
    elif name.startswith("ya"):  # gray with alpha
        twin = "gray16le" if depth(name) > 8 else "gray"
    else:
        twin = "rgb48le" if depth(name) > 8 else "rgb24"
    try:
        av.VideoFormat(twin)
    except (ValueError, TypeError):
        return "rgb48le" if depth(name) > 8 else "rgb24"
    return twin


def _components(name: str) -> list:
    import av

    try:
        return list(av.VideoFormat(name).components)
    except (ValueError, TypeError):
        return [0, 0, 0]


def layout(pix_fmt: str) -> str:
    """``pix_fmt``'s depth and chroma in words: "10-bit 4:2:0", "8-bit RGB", "8-bit grey"."""
    import av

    bits = depth(pix_fmt)
    if _is_rgb(pix_fmt):
        return f"{bits}-bit RGB"
    if len(_components(pix_fmt)) == 1:
        return f"{bits}-bit grey"
    try:
        f = av.VideoFormat(pix_fmt)
        sx, sy = 64 // max(f.chroma_width(64), 1), 64 // max(f.chroma_height(64), 1)
    except (ValueError, TypeError):
        return pix_fmt
    return f"{bits}-bit {_subsampling(sx, sy)}"


def _subsampling(sx: int, sy: int) -> str:
    names = {(1, 1): "4:4:4", (2, 1): "4:2:2", (2, 2): "4:2:0", (1, 2): "4:4:0", (4, 1): "4:1:1"}
    return names.get((sx, sy), f"1/{sx}×1/{sy}")


def _takes_depth(encoder: str, bits: int) -> bool:
    import av

    try:
        formats = av.codec.Codec(encoder, "w").video_formats or []
    except Exception:  # UnknownCodecError, or a build without it
        return False
    return any(depth(f.name) >= bits for f in formats)


def configure(stream: Any, source: Any, pix_fmt: str | None = None) -> list[str]:
    """Give ``stream`` (an output PyAV video stream, before its first frame) the pixel
    format for ``source`` (the input's PyAV video stream, or a PyAV VideoFrame from it)
    and the same colour tags; ``pix_fmt``: the input's format when ``source`` cannot tell.
    Returns notes on what cannot be kept (depth, chroma, a matrix swscale lacks)."""
    cc = stream.codec_context
    in_fmt = pix_fmt or _format_of(source) or "yuv420p"
    supported = [f.name for f in (cc.codec.video_formats or [])]
    encoder = cc.codec.name
    out_fmt, notes = output_format(in_fmt, supported, encoder)
    metadata = getattr(source, "metadata", None) or {}
    if str(metadata.get("alpha_mode", metadata.get("ALPHA_MODE", ""))) == "1":
        # WebM's VP8/VP9 alpha rides beside the picture, which FFmpeg's decoder leaves out
        notes.insert(
            0, "alpha (transparency) of the video dropped: srup writes video frames opaque"
        )
    stream.pix_fmt = out_fmt
    of_stream = hasattr(source, "codec_context")
    colour = describe(None, source) if of_stream else describe(source)
    if _is_rgb(out_fmt):
        colour = Colour(RGB_MATRIX, FULL, colour.primaries, colour.transfer, colour.assumed)
    elif colour.matrix == RGB_MATRIX:  # G, B, R in, Y'CbCr out: the size's usual matrix
        w, h = _size_of(source)
        default = default_colour(w, h, out_fmt)
        colour = Colour(default.matrix, LIMITED, colour.primaries, colour.transfer)
        notes.append(
            f"RGB video written as Y'CbCr ({default.matrix_name}): {encoder} takes no RGB "
            "format here"
        )
    if encoder in _JPEG and not _is_rgb(out_fmt):  # JFIF: BT.601, full range, whatever
        if colour.matrix not in (BT470BG, SMPTE170M):  # the tags say (FFmpeg's decoder)
            notes.append(
                f"{colour.matrix_name} colours converted to BT.601: {encoder} has no other"
            )
        if colour.range != FULL:
            notes.append(f"limited range written as full range: {encoder} takes only full range")
        colour = Colour(BT470BG, FULL, colour.primaries, colour.transfer, colour.assumed)
    note = unconverted(colour)
    if note:
        notes.append(note)
    for attr, value in (
        ("colorspace", colour.matrix),
        ("color_range", colour.range),
        ("color_primaries", colour.primaries),
        ("color_trc", colour.transfer),
    ):
        with suppress(AttributeError, TypeError, ValueError):  # an older PyAV
            setattr(cc, attr, value)
    return notes


def _format_of(source: Any) -> str | None:
    cc = getattr(source, "codec_context", None)
    if cc is not None:
        return getattr(cc, "pix_fmt", None)
    return getattr(getattr(source, "format", None), "name", None)


def _size_of(source: Any) -> tuple[int, int]:
    cc = getattr(source, "codec_context", source)
    return int(getattr(cc, "width", 0) or 0), int(getattr(cc, "height", 0) or 0)


def from_rgb(rgb: np.ndarray, stream: Any) -> Any:
    """``rgb`` (``(H, W, 3)`` uint8 or uint16 R'G'B', as :func:`to_rgb` gives) as a PyAV
    VideoFrame in ``stream``'s pixel format, matrix and range (set by :func:`configure`),
    tagged with them."""
    import av

    cc = stream.codec_context
    deep = rgb.dtype == np.uint16
    frame = av.VideoFrame.from_ndarray(
        np.ascontiguousarray(rgb), format="rgb48le" if deep else "rgb24"
    )
    fmt = cc.pix_fmt
    matrix = _tag(cc, "colorspace")
    rng = _tag(cc, "color_range") or LIMITED
    if _is_rgb(fmt) or matrix in (None, RGB_MATRIX):
        out = _reformat(frame, format=fmt)
    else:
        sws = _sws_matrix(matrix)
        out = _reformat(
            frame,
            format=fmt,
            src_colorspace=_SWS_DEFAULT,  # see _SWS_DEFAULT
            dst_colorspace=sws,
            dst_color_range=rng,
            interpolation=_flags(depth(fmt) > 8, decode=False),
        )
    for attr in ("colorspace", "color_range", "color_primaries", "color_trc"):
        value = _tag(cc, attr)
        if value is not None:
            with suppress(AttributeError, TypeError, ValueError):
                setattr(out, attr, value)
    return out

"""Which encoder a video output gets, and which sizes it can take (srup.media.video's choices).

Asked of FFmpeg itself, not of a hand table: a candidate encoder is opened on a throwaway
in-memory container of the output's format, set up as the real stream will be (pixel
format, time base), and a few frames are encoded and muxed (a few milliseconds; one frame
is not enough for libx265 into MP4, which then fails at random). So whatever the
muxer or the encoder refuses (H.264 in WebM, VP9 in MOV, a hardware encoder without its
hardware) is known, and said in one line listing what works,
before any frame is upscaled.

The choice: ``--codec`` (what it cannot keep of the input's depth or chroma is a note);
else the first that works and keeps the input's bit depth and chroma subsampling, of the
input's codec, the container's own preference (WebM: VP9, AV1, VP8; the others: H.264,
HEVC, MPEG-4) and the muxer's default. When none keeps them (a 10-bit 4:4:4 clip into WebM
here: VP9 is 8-bit, SVT-AV1 4:2:0), the run stops before any frame, in one line naming
what each ``--codec`` would write instead and the containers that keep the clip as it is.

Sizes: a pixel format with subsampled chroma (4:2:0, 4:2:2, 4:1:1) needs a width (and for
4:2:0 a height) that is a multiple of 2 (4 for 4:1:1). A size srup derives (from a scale or
the aspect ratio) is rounded down to the nearest valid one, with a note; a size the user
typed (``--width``/``--height`` that the output takes as is) is a usage error naming the two
nearest valid sizes. srup does not switch to 4:4:4 by itself: few players decode H.264 4:4:4.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from srup.errors import UsageError

__all__ = [
    "ENCODERS",
    "LOSSLESS_CODECS",
    "Choice",
    "alignment",
    "choose",
    "container_format",
    "encoder_name",
    "fit_size",
    "lossless_codec",
    "working_codecs",
]

# Decoders (FFmpeg's names, as PyAV's ``codec_context.name`` gives them) whose streams are
# lossless by definition: a clip in one of them is a lossless picture per frame, which
# ``--denoise auto`` gives the clean model (srup.runtime.auto). H.264 and HEVC can be lossless
# too (qp 0, transquant bypass), but only their coded frames say so: taken as lossy, as
# every other codec.
LOSSLESS_CODECS = frozenset(
    {"ffv1", "ffvhuff", "huffyuv", "utvideo", "png", "apng", "qtrle", "rawvideo", "magicyuv"}
    | {"v210", "v308", "v408", "v410", "r210", "r10k", "ayuv", "yuv4", "zlib", "lagarith"}
)


def lossless_codec(name: str | None) -> bool:
    """Whether a stream of decoder ``name`` (FFmpeg's) is lossless (:data:`LOSSLESS_CODECS`)."""
    return (name or "").lower() in LOSSLESS_CODECS


# Short names srup documents, and the encoder each means where the name is ambiguous
# (FFmpeg's own default for "av1" could be a hardware one in another build).
ENCODERS = {
    "h264": ("libx264",),
    "hevc": ("libx265",),
    "vp9": ("libvpx-vp9",),
    "av1": ("libsvtav1", "libaom-av1", "librav1e"),
    "vp8": ("libvpx",),
    "mpeg4": ("mpeg4",),
    "mjpeg": ("mjpeg",),
    "prores": ("prores_ks",),
    "ffv1": ("ffv1",),
}
# What a container prefers when the input's codec cannot go into it.
_PREFERRED = {"webm": ("vp9", "av1", "vp8")}
_PREFERRED_OTHERS = ("h264", "hevc", "mpeg4")
TRIAL_SIZE = (64, 48)  # a multiple of 16 either way: every encoder's block size
# Frames muxed in a trial: with one, libx265's first packet into MP4 sometimes lacks the
# parameter sets the muxer's hvcC box needs (FFmpeg's "patches welcome", about 1 in 3).
TRIAL_FRAMES = 3

# (av, container, encoder name, (width, height), pix_fmt or None) → the new video stream,
# set up exactly as srup.media.video sets up the real one.
OpenStream = Callable[[Any, Any, str, tuple[int, int], str | None], Any]


@dataclass(frozen=True)
class Choice:
    """The encoder (an FFmpeg encoder name), its pixel format, and ``pix_fmt`` only when
    the one srup.media.video would pick had to be replaced (``forced``) for the encoder to open."""

    encoder: str
    pix_fmt: str
    forced: str | None = None


def container_format(av: Any, path: Path) -> str:
    """FFmpeg's muxer name for ``path`` (by its suffix): mp4, mov, matroska, webm, avi…
    Nothing is created."""
    try:
        with av.open(str(path), mode="w") as probe:
            return probe.format.name
    except (ValueError, av.error.FFmpegError):
        raise UsageError(
            f"{path}: FFmpeg has no container for the suffix {path.suffix!r}"
        ) from None


def encoder_name(av: Any, name: str) -> list[str]:
    """The encoders ``name`` may mean in this FFmpeg (a short name from :data:`ENCODERS`, a
    codec name such as ``mpeg2video``, or an encoder name such as ``libx264``), most
    wanted first; [] when none is a video encoder here."""
    names = list(ENCODERS.get(name, ()))
    found = []
    for candidate in [*names, name]:
        try:
            codec = av.codec.Codec(candidate, "w")
        except (ValueError, av.error.FFmpegError):  # PyAV's UnknownCodecError is a ValueError
            continue
        if codec.type == "video" and codec.name not in found:
            found.append(codec.name)
    return found


def _trial(av: Any, fmt: str, encoder: str, open_stream: OpenStream, pix: str | None) -> str:
    """The pixel format the stream got, when ``encoder`` opens in ``fmt`` and one frame is
    muxed; raises what FFmpeg raised otherwise."""
    out = av.open(io.BytesIO(), mode="w", format=fmt)
    with out:
        stream = open_stream(av, out, encoder, TRIAL_SIZE, pix)
        time_base = stream.codec_context.time_base or Fraction(1, 25)
        for pts in range(TRIAL_FRAMES):
            frame = av.VideoFrame(*TRIAL_SIZE, stream.codec_context.pix_fmt)
            for plane in frame.planes:  # defined content: some encoders read every byte
                plane.update(bytes([pts * 40]) * plane.buffer_size)
            frame.pts, frame.time_base = pts, time_base
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        return stream.codec_context.pix_fmt


def _opens(av: Any, fmt: str, encoder: str, open_stream: OpenStream) -> Choice | None:
    """The :class:`Choice` for ``encoder`` in ``fmt``: with srup.media.video's pixel format, else
    (an encoder that lists a format it refuses, as MJPEG lists yuv420p) the first of the
    encoder's own formats that opens; None when nothing does."""
    try:
        return Choice(encoder, _trial(av, fmt, encoder, open_stream, None))
    except ValueError:  # the muxer refuses the codec outright: no format will help
        return None
    except av.error.FFmpegError:
        pass
    try:
        formats = [f.name for f in (av.codec.Codec(encoder, "w").video_formats or [])]
    except (ValueError, av.error.FFmpegError):
        return None
    for pix in formats[:8]:
        try:
            got = _trial(av, fmt, encoder, open_stream, pix)
        except (ValueError, av.error.FFmpegError):
            continue
        return Choice(encoder, got, forced=pix)
    return None


def working_codecs(av: Any, fmt: str, open_stream: OpenStream) -> list[str]:
    """The short names (:data:`ENCODERS`) this FFmpeg can write into ``fmt``."""
    return [
        name
        for name in ENCODERS
        if any(_opens(av, fmt, e, open_stream) for e in encoder_name(av, name)[:1])
    ]


def _canonical(av: Any, codec_name: str) -> str:
    try:
        return av.codec.Codec(codec_name, "r").canonical_name
    except (ValueError, av.error.FFmpegError):
        return codec_name


def _loss(source_fmt: str | None, choice: Choice) -> str | None:
    """What ``choice`` would write of a ``source_fmt`` input when it cannot keep its depth
    and chroma ("8-bit 4:4:4"), else None (srup.media.video_colour's rule)."""
    from srup.media.video_colour import layout, output_format

    if not source_fmt:
        return None
    _, notes = output_format(source_fmt, [choice.pix_fmt], choice.encoder)
    notes = [n for n in notes if not n.startswith("alpha")]  # no video of srup keeps alpha
    return layout(choice.pix_fmt) if notes else None


def _candidates(av: Any, fmt: str, input_codec: str | None) -> list[str]:
    """Short or codec names to try in ``fmt``, in order: the input's codec, the
    container's preference, the muxer's default."""
    names = []
    if input_codec:
        names.append(_canonical(av, input_codec))
    names += _PREFERRED.get(fmt, _PREFERRED_OTHERS)
    with av.open(io.BytesIO(), mode="w", format=fmt) as probe:
        names.append(probe.default_video_codec)
    return list(dict.fromkeys(names))


def _first(
    av: Any, fmt: str, names: list[str], open_stream: OpenStream, source_fmt: str | None
) -> tuple[Choice | None, dict[str, str]]:
    """The first encoder of ``names`` that opens in ``fmt`` and keeps ``source_fmt``'s
    depth and chroma (None if none), and what each that opens but loses them would write."""
    losing: dict[str, str] = {}
    for name in names:
        for encoder in encoder_name(av, name)[:2]:
            choice = _opens(av, fmt, encoder, open_stream)
            if choice is None:
                continue
            loss = _loss(source_fmt, choice)
            if loss is None:
                return choice, losing
            losing.setdefault(name, loss)
    return None, losing


# Where srup looks for a container that keeps what another cannot (suffix, muxer).
_OTHER_CONTAINERS = ((".mkv", "matroska"), (".mp4", "mp4"), (".mov", "mov"))


def choose(
    av: Any,
    fmt: str,
    suffix: str,
    asked: str | None,
    input_codec: str | None,
    open_stream: OpenStream,
    source_fmt: str | None = None,
) -> Choice:
    """The encoder for a video stream in a container of format ``fmt`` (``suffix``: what
    the user wrote, for the message): ``asked`` (``--codec``), else the first of the
    input's codec (``input_codec``, a decoder name), the container's preference and its
    default that keeps the depth and chroma of ``source_fmt`` (the input's pixel format:
    WebM takes a 10-bit clip as AV1 where this libvpx's VP9 is 8-bit only). Raises
    :class:`UsageError` (one line) when ``asked`` cannot be written there (listing the
    codecs that work there), when nothing can, or when nothing that can keeps the depth
    and chroma: naming what each would write (``--codec`` accepts that, with a note) and
    the containers that keep them."""
    if asked:
        for encoder in encoder_name(av, asked):
            choice = _opens(av, fmt, encoder, open_stream)
            if choice is not None:
                return choice
        works = working_codecs(av, fmt, open_stream)
        raise UsageError(
            f"--codec {asked} cannot be written into {suffix or fmt} ({fmt}) by this FFmpeg; "
            f"codecs that work there: {', '.join(works) or 'none'}"
        )
    choice, losing = _first(av, fmt, _candidates(av, fmt, input_codec), open_stream, source_fmt)
    if choice is not None:
        return choice
    if not losing:
        raise UsageError(f"{suffix or fmt}: this FFmpeg has no video encoder that {fmt} takes")
    from srup.media.video_colour import layout

    keep = [
        other
        for other, muxer in _OTHER_CONTAINERS
        if muxer != fmt
        and _first(av, muxer, _candidates(av, muxer, input_codec), open_stream, source_fmt)[0]
    ]
    would = ", ".join(f"--codec {name} writes {loss}" for name, loss in losing.items())
    where = f"; {', '.join(keep[:-1])} or {keep[-1]} would keep it" if len(keep) > 1 else ""
    where = where or (f"; {keep[0]} would keep it" if keep else "")
    raise UsageError(
        f"{suffix or fmt}: no video encoder this FFmpeg can write into {fmt} keeps "
        f"{layout(source_fmt)} ({source_fmt}): {would}{where}"
    )


def alignment(av: Any, pix_fmt: str) -> tuple[int, int]:
    """(x, y): what width and height must be multiples of for ``pix_fmt``, by its chroma
    subsampling: (2, 2) for 4:2:0, (2, 1) for 4:2:2, (4, 1) for 4:1:1, (1, 1) for 4:4:4
    and RGB."""
    try:
        fmt = av.VideoFormat(pix_fmt)
    except (ValueError, av.error.FFmpegError):
        return 1, 1
    return max(1, 1024 // max(1, fmt.chroma_width(1024))), max(
        1, 1024 // max(1, fmt.chroma_height(1024))
    )


def _down(n: int, a: int) -> int:
    return max(a, n - n % a)


def _needs(align: tuple[int, int]) -> str:
    """``(2, 2)`` → "an even width and height", ``(4, 1)`` → "a width that is a multiple of 4"."""
    parts = []
    for a, name in zip(align, ("width", "height"), strict=True):
        if a == 2:
            parts.append(f"an even {name}")
        elif a > 2:
            parts.append(f"a {name} that is a multiple of {a}")
    if len(parts) == 2 and align[0] == align[1] == 2:
        return "an even width and height"
    return " and ".join(parts)


def fit_size(
    size: tuple[int, int],
    align: tuple[int, int],
    typed: tuple[bool, bool],
    what: str,
) -> tuple[tuple[int, int], str | None]:
    """``size`` (width, height) made valid for ``align`` (see :func:`alignment`), and the
    note that says so (None when nothing changed). ``typed``: whether the width, the
    height, was typed by the user (``--width``/``--height``) and is taken as is: such a
    dimension is not rounded but refused with :class:`UsageError`, naming the two nearest
    valid values. ``what``: the encoder and pixel format, for the messages."""
    (w, h), (ax, ay) = size, align
    for value, a, was_typed, flag in ((w, ax, typed[0], "width"), (h, ay, typed[1], "height")):
        if was_typed and value % a:
            low, high = _down(value, a), value - value % a + a
            raise UsageError(
                f"--{flag} {value}: {what} needs {_needs((a, 1) if flag == 'width' else (1, a))}"
                f"; use --{flag} {low} or --{flag} {high}"
            )
    fitted = (_down(w, ax), _down(h, ay))
    if fitted == (w, h):
        return fitted, None
    return fitted, f"{w}×{h} written as {fitted[0]}×{fitted[1]}: {what} needs {_needs(align)}"

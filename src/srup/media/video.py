"""Video files: decode ahead, upscale each frame, encode behind (PyAV, ``srup[video]``).

Three stages joined by bounded queues, so memory does not grow with the clip's length: a
thread demuxes and decodes (frames as RGB arrays, other streams' packets as they come), the
calling thread runs the network, and a thread encodes and muxes. The output is written to a
temporary file and renamed when complete. Frames are independent: there is no temporal
model.

What travels, each rule in its own module so that it can be tested alone:

- **time** (here): every frame keeps its own timestamp, in the input's time base, so a
  variable frame rate stays as it was; an excerpt (``--start``) starts at zero;
- **colour and depth** (:mod:`srup.media.video_colour`): matrix, range, primaries, transfer and
  bit depth are read, used and written back;
- **tracks** (:mod:`srup.media.video_tracks`): stream order, metadata, dispositions, chapters;
  audio and subtitles copied packet for packet, cut and shifted with an excerpt;
- **codec and size** (:mod:`srup.media.video_codecs`): the input's codec where the container
  takes it, else the container's own; an odd size rounded or refused for 4:2:0.

A clip that ends before its container says it should (cut short, damaged) is written as far
as it decodes and reported *partial* (:attr:`VideoResult.partial`), with a note.
"""

from __future__ import annotations

import heapq
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from srup.choices import VIDEO_SUFFIXES
from srup.errors import BadImageError, MissingExtraError, OutputError, SrupError, UsageError
from srup.files import OutputExistsError, temporary
from srup.media import pictures, video_codecs, video_colour, video_tracks

if TYPE_CHECKING:
    from srup.imaging.sizing import Sizing

__all__ = [
    "Resizing",
    "VideoOptions",
    "VideoResult",
    "check_codec",
    "check_output",
    "container_suffix",
    "is_video",
    "picture_format",
    "upscale_video",
]

QUEUE_FRAMES = 4  # frames in flight between two stages
# Containers that hold one frame rate, not a timestamp per frame.
_CONSTANT_RATE = frozenset({"avi"})
# ISO media muxers: their video time scale can be the input's own.
_ISO_MEDIA = frozenset({"mp4", "mov", "ipod", "3gp", "3g2", "psp", "ismv", "f4v"})
# Frames the reader holds to hand them on in presentation order (a decoder that gives
# them out of order); beyond, a frame is moved after the previous one, with a note.
REORDER_FRAMES = 4
TRAILING_SECONDS = 1  # after the last frame, how far other streams' packets are still read

Process = Callable[[pictures.Picture], tuple[pictures.Picture, str]]


# Pictures by their first bytes, and the Pillow format each is: a picture named as a video
# (a TIFF named .webm) is a picture.
_PICTURE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)


def picture_format(head: bytes) -> str | None:
    """The Pillow format of a picture whose file begins with ``head`` (16 bytes are
    enough): PNG, JPEG, GIF, TIFF, BMP or WEBP (``RIFF....WEBP``); None for anything else."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return next((fmt for sig, fmt in _PICTURE_SIGNATURES if head.startswith(sig)), None)


def is_video(path: Path) -> bool:
    """By content (MP4/MOV ``ftyp``, Matroska/WebM EBML, AVI RIFF), else by suffix, except
    that content with a picture's signature (PNG, JPEG, GIF, TIFF, BMP, WebP:
    :func:`picture_format`) is never a video, whatever its name."""
    if not path.is_file():  # a FIFO or device would block or never end: never opened here
        return path.suffix.lower() in VIDEO_SUFFIXES
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return path.suffix.lower() in VIDEO_SUFFIXES
    if head[4:8] == b"ftyp" and head[8:12] not in (b"avif", b"avis", b"heic", b"mif1"):
        return True
    if head.startswith(b"\x1a\x45\xdf\xa3") or (head[:4] == b"RIFF" and head[8:12] == b"AVI "):
        return True
    return path.suffix.lower() in VIDEO_SUFFIXES and picture_format(head) is None


def container_suffix(path: Path) -> str:
    """The suffix a video's container calls for, by its content: ``.mov`` (QuickTime),
    ``.mp4`` (other ISO media), ``.mkv`` (Matroska, WebM), ``.avi``; ``.mp4`` when unsure.
    For a video whose name says otherwise (an MP4 named ``anim.gif``)."""
    try:
        with open(path, "rb") as f:
            head = f.read(16) if path.is_file() else b""
    except OSError:
        head = b""
    if head[4:8] == b"ftyp":
        return ".mov" if head[8:12] == b"qt  " else ".mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return ".mkv"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return ".avi"
    return ".mp4"


def check_codec(name: str) -> None:
    """:class:`UsageError` unless this FFmpeg has a video encoder for ``name`` (h264, hevc,
    vp9, av1, … or an FFmpeg encoder name such as libx264); checked before any file is
    read, so that a mistyped ``--codec`` fails the command, not each video in turn."""
    if not video_codecs.encoder_name(_av(), name):
        raise UsageError(
            f"--codec {name}: no video encoder of that name in this FFmpeg; try "
            f"{', '.join(video_codecs.ENCODERS)} or an FFmpeg encoder name (ffmpeg -encoders)"
        )


def _av() -> Any:
    try:
        import av
    except ImportError:
        raise MissingExtraError(
            "video needs PyAV, which srup installs as an extra: pip install 'srup[video]'"
        ) from None
    return av


@dataclass(frozen=True)
class VideoOptions:
    """``codec``: the output's (default: the input's where the container takes it, else
    the container's own: see :mod:`srup.media.video_codecs`); ``crf`` and ``preset`` go to the
    encoder; ``start``/``end`` in seconds and ``frames`` (a count) choose part of the clip;
    ``frames_to``: a folder for numbered PNG frames instead of a video."""

    codec: str | None = None
    crf: int | None = None
    preset: str | None = None
    start: float | None = None
    end: float | None = None
    frames: int | None = None
    frames_to: Path | None = None


@dataclass
class VideoResult:
    """``frames``: frames upscaled; ``skipped``: frames whose PNG existed
    (``--frames-to`` with ``--skip-existing``); ``unreadable``: frames the decoder could
    not read; ``partial``: the clip ended before its container says it should (truncated,
    damaged): the output holds what could be read, and ``notes`` say what is missing.
    ``size`` and ``out_size`` (width, height) follow the output's convention alike: as
    stored for a video (a rotated clip keeps its display matrix), upright for
    ``frames_to`` PNGs."""

    frames: int = 0
    unreadable: int = 0  # frames the decoder could not read (a damaged clip)
    seconds: float = 0.0
    size: tuple[int, int] | None = None
    out_size: tuple[int, int] | None = None
    model: str | None = None
    notes: list[str] = field(default_factory=list)
    skipped: int = 0
    partial: bool = False
    # The input's codec is lossy (srup.media.video_codecs.LOSSLESS_CODECS: not): what its frames,
    # as Pictures, say to --denoise auto.
    lossy: bool = True

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


_END = object()


class _Stage(threading.Thread):
    """A thread that reports its exception to the pipeline instead of dying silently."""

    def __init__(self, target: Callable[[], None], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._fn, self.error = target, None

    def run(self) -> None:
        try:
            self._fn()
        except BaseException as e:  # handed to the calling thread
            self.error = e


def _put(q: queue.Queue, item: object, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _open_input(av: Any, src: Path) -> Any:
    try:
        inp = av.open(str(src))
    except (av.error.FFmpegError, OSError) as e:
        raise BadImageError(f"{src}: not a video srup can read ({e})") from None
    if not inp.streams.video:
        inp.close()
        raise BadImageError(f"{src}: no video stream")
    return inp


@dataclass(frozen=True)
class Resizing:
    """How a video's ``process`` sizes its frames: ``sizing``, the
    :class:`~srup.imaging.sizing.Sizing` it applies, so that a size the encoder cannot take
    is rounded or refused before any frame is upscaled, and a width or height means the
    displayed picture of a rotated clip; ``process_at(sizing)``: ``process`` with another
    Sizing, for those cases (without it, frames are resized after ``process``: one more
    resample)."""

    sizing: Sizing
    process_at: Callable[[Sizing], Process] | None = None


def upscale_video(
    src: Path,
    dst: Path,
    process: Process,
    options: VideoOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
    overwrite: bool = True,
    *,
    skip_existing: bool = False,
    resizing: Resizing | None = None,
) -> VideoResult:
    """Upscale every frame of ``src`` (or the chosen part) into ``dst``; ``process`` maps a
    frame (a :class:`~srup.media.pictures.Picture` of format ``VIDEO``, lossy unless the clip's
    codec is lossless: :data:`srup.media.video_codecs.LOSSLESS_CODECS`) to its upscaled picture
    and model name.

    ``overwrite``: replace an existing ``dst`` (or frame PNGs); otherwise create or fail
    (:class:`srup.files.OutputExistsError`); ``skip_existing``: with ``frames_to``, frames
    whose PNG exists are kept and not upscaled. ``resizing``: the Sizing that ``process``
    applies, and ``process`` at another one (:class:`Resizing`). Raises :class:`UsageError`
    for a codec the container cannot hold or a typed size the encoder cannot take
    (:mod:`srup.media.video_codecs`)."""
    av = _av()
    options = options or VideoOptions()
    start_clock = time.perf_counter()
    inp = _open_input(av, src)
    result = VideoResult()
    with inp:
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        total = vin.frames or 0
        if options.frames:
            total = min(total, options.frames) if total else options.frames
        result.size = (vin.codec_context.width, vin.codec_context.height)
        result.lossy = not video_codecs.lossless_codec(vin.codec_context.name)
        outside = _outside(inp, options)  # why an excerpt would choose no frame
        reader = _Reader(av, inp, vin, options, result)
        if options.frames_to is not None:
            _to_frames(reader, process, progress, total, overwrite, skip_existing)
        else:
            sizes = _Sizes(resizing.sizing, resizing.process_at) if resizing else _Sizes(None, None)
            _to_video(av, reader, dst, process, sizes, progress, total, overwrite)
        reader.check_complete()
    result.seconds = time.perf_counter() - start_clock
    if result.frames == 0 and not result.skipped:
        raise BadImageError(f"{src}: {outside}") if outside else _no_frames(src)
    if result.unreadable:
        result.notes.extend(reader.damage_notes())
        result.partial = True
    if result.skipped:
        result.notes.append(
            f"{result.skipped} frame(s) already in {options.frames_to} kept (--skip-existing)"
        )
    return result


def check_output(src: Path, dst: Path, options: VideoOptions, sizing: Sizing | None) -> None:
    """Raise :class:`UsageError` now if writing ``src`` upscaled into ``dst`` cannot work:
    a ``--codec`` the container cannot hold, or a typed ``--width``/``--height`` the
    encoder's pixel format cannot take. What cannot be read (or a missing PyAV) is left
    for the run to report, file by file."""
    try:
        av = _av()
    except SrupError:
        return
    try:
        inp = _open_input(av, src)
    except BadImageError:
        return
    with inp:
        outside = _outside(inp, options)
        if outside:
            raise UsageError(f"{src}: {outside}")
        vin = inp.streams.video[0]
        choice = _choose_encoder(av, vin, dst, options)
        rotation = 0
        with suppress(av.error.FFmpegError, StopIteration):
            rotation = next(inp.decode(vin)).rotation or 0
        _Sizes(sizing, None).plan(av, vin, rotation, choice)


# ----------------------------------------------------------------------------------- reading


def _seconds(value: int | None, time_base: Any) -> Fraction | None:
    return None if value is None or not time_base else value * Fraction(time_base)


def _fraction(seconds: float | None) -> Fraction | None:
    return None if seconds is None else Fraction(seconds).limit_denominator(1_000_000)


class _Reader:
    """Demuxes and decodes the input in file order: ``("frame", rgb, frame)`` for each
    chosen frame, ``("packet", packet)`` for the other streams' packets, already cut and
    shifted to the excerpt (:class:`srup.media.video_tracks.Timeline`). Packets that come before
    the first chosen frame wait for it: its time is the excerpt's offset. Records how the
    clip ended, for :meth:`check_complete`."""

    def __init__(self, av: Any, inp: Any, vin: Any, options: VideoOptions, result) -> None:
        self.av, self.inp, self.vin, self.options, self.result = av, inp, vin, options, result
        self.timeline = video_tracks.Timeline(end=_fraction(options.end))
        self.decoded = 0  # frames the decoder gave, chosen or not
        self.last_end: Fraction | None = None  # where the last decoded frame ends (seconds)
        self.cut = False  # stopped by --end or --frames, not by the end of the file
        self.damage: str | None = None  # why the demuxer stopped before the end
        # (seconds, seconds, frames): where a frame comes later than the previous one's end
        # by a frame or more: frames lost, in a damaged clip (a pause, in a sound one)
        self.gaps: list[tuple[Fraction, Fraction, int]] = []
        self._prev_end: Fraction | None = None
        # AVI stores one time per chunk, in decoding order, and FFmpeg guesses the frames'
        # presentation times from it (one frame late with H.264): the decoding times are
        # the frames' own there, one frame period apart.
        self.by_dts = inp.format.name in _CONSTANT_RATE

    def _demux(self) -> Iterator[Any]:
        packets = self.inp.demux()
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except self.av.error.FFmpegError as e:  # damaged data: keep what came before
                self.damage = str(e)
                return
            yield packet

    def _frame_span(self, frame: Any, t: Fraction) -> Fraction:
        duration = _seconds(getattr(frame, "duration", None) or None, frame.time_base)
        if not duration:
            rate = self.vin.average_rate or self.vin.guessed_rate
            duration = 1 / Fraction(rate) if rate else Fraction(0)
        return t + duration

    def __iter__(self) -> Iterator[tuple]:
        av, inp, vin, options = self.av, self.inp, self.vin, self.options
        start = _fraction(options.start) if options.start else None
        if start:
            with suppress(av.error.FFmpegError):
                inp.seek(int(options.start / vin.time_base), stream=vin, backward=True)
        # Other streams' packets wait here until a frame as late has been decoded (the
        # decoder runs a few frames behind the demuxer), so that the end of an excerpt is
        # known before they are cut; and until the first chosen frame, the excerpt's start.
        held: deque = deque()
        count, trailing = 0, False
        for kind, packet, t, frame in self._in_order(lambda: trailing):  # noqa: B023 (as it is now)
            if kind == "packet":
                if video_tracks.is_cover(av, packet.stream):  # its one picture, at 0
                    yield ("packet", packet)
                    continue
                if trailing and t >= self.timeline.end + TRAILING_SECONDS:
                    break
                held.append((t, packet))
                if trailing:
                    yield from self._release(held, None)
                continue
            if trailing:
                continue
            if start is not None and t < start - Fraction(1, 10**6):
                continue
            if self.timeline.end is not None and t >= self.timeline.end:
                trailing = self.cut = True
                continue
            if count == 0:
                self._begin(t, start)
            self._gap(frame, t)
            yield from self._release(held, t)
            yield ("frame", video_colour.to_rgb(frame, vin), frame)  # its matrix, range, depth
            count += 1
            if options.frames and count >= options.frames:
                trailing = self.cut = True
                end = self._frame_span(frame, t)
                if self.timeline.end is None or end < self.timeline.end:
                    self.timeline.end = end
                continue
        if count:
            yield from self._release(held, None)

    def _in_order(self, trailing: Callable[[], bool]) -> Iterator[tuple]:
        """``("packet", packet, seconds, None)`` for the other streams' packets and
        ``("frame", None, seconds, frame)`` for the decoded frames, in presentation order
        within :data:`REORDER_FRAMES` (a decoder that hands frames out of order, as an
        intra-only clip muxed out of order: Matroska MJPEG at 0, 80, 40 ms). Once
        ``trailing()``, frames are no longer decoded."""
        av, vin = self.av, self.vin
        pending: list = []  # (seconds, order, frame): a heap
        order = 0
        for packet in self._demux():
            if packet.stream.index != vin.index:
                if packet.dts is None and packet.pts is None:
                    continue
                t = _seconds(packet.pts if packet.pts is not None else packet.dts, packet.time_base)
                yield ("packet", packet, t, None)
                continue
            if trailing():
                continue
            try:
                decoded = packet.decode()
            except av.error.FFmpegError:
                self.result.unreadable += 1
                continue
            for frame in decoded:
                self.decoded += 1
                if self.by_dts and frame.dts is not None:
                    frame.pts = frame.dts
                t = _seconds(frame.pts, frame.time_base)
                if t is None:  # no timestamp: one frame period after the previous one
                    t = self.last_end if self.last_end is not None else Fraction(0)
                self.last_end = max(self.last_end or t, self._frame_span(frame, t))
                heapq.heappush(pending, (t, order, frame))
                order += 1
                if len(pending) > REORDER_FRAMES:
                    t, _, frame = heapq.heappop(pending)
                    yield ("frame", None, t, frame)
        while pending and not trailing():
            t, _, frame = heapq.heappop(pending)
            yield ("frame", None, t, frame)

    def _gap(self, frame: Any, t: Fraction) -> None:
        """Record a jump from the previous chosen frame's end to ``t`` of a frame or more."""
        end = self._frame_span(frame, t)
        period = end - t
        if self._prev_end is not None and period > 0:
            lost = round((t - self._prev_end) / period)
            if lost >= 1:
                self.gaps.append((self._prev_end, t, lost))
        self._prev_end = max(end, self._prev_end or end)

    def damage_notes(self) -> list[str]:
        """Notes on the frames a damaged clip lost: the jumps in its timestamps (three
        named), else how many packets could not be decoded."""
        if not self.result.unreadable:
            return []
        if not self.gaps:
            return [f"{self.result.unreadable} damaged frame(s) could not be read"]
        jumps = ", ".join(f"{float(a):.2f} s to {float(b):.2f} s" for a, b, _ in self.gaps[:3])
        more = f" and {len(self.gaps) - 3} more" if len(self.gaps) > 3 else ""
        lost = sum(n for _, _, n in self.gaps)
        return [f"about {lost} frame(s) lost to damaged data: video jumps from {jumps}{more}"]

    def _release(self, held: deque, until: Fraction | None) -> Iterator[tuple]:
        """The held packets up to ``until`` seconds (all: None), cut and moved to the
        excerpt."""
        while held and (until is None or held[0][0] <= until):
            _, packet = held.popleft()
            if self.timeline.packet(packet):
                yield ("packet", packet)

    def _begin(self, t: Fraction, start: Fraction | None) -> None:
        """The first chosen frame, at ``t`` seconds: an excerpt starts there."""
        if start is not None:
            self.timeline.offset = t
            self.timeline.start = t

    def check_complete(self) -> None:
        """Mark the result partial, with a note, when the clip ended before its container
        says it should: damaged data stopped the demuxer, fewer frames decoded than the
        container declares, or the last one ends well before the declared duration."""
        result = self.result
        note = None
        if self.damage is not None:
            note = (
                f"damaged data after {self.decoded} frame(s) ({self.damage}); written up to there"
            )
        elif not self.cut and self.decoded:
            note = self._shortfall()
        if note:
            result.notes.append(note)
            result.partial = True

    def _shortfall(self) -> str | None:
        vin = self.vin
        declared = vin.frames or 0
        # (AVI counts the empty chunks of dropped frames among its frames: its duration says)
        if declared > self.decoded and not self.options.start and not self.by_dts:
            return f"container declares {declared} frames, {self.decoded} decoded"
        rate = vin.average_rate or vin.guessed_rate
        period = 1 / Fraction(rate) if rate else Fraction(1, 25)
        begin = _seconds(vin.start_time, vin.time_base) or Fraction(0)
        if vin.duration:
            length, slack = _seconds(vin.duration, vin.time_base), 2 * period
        elif _tag_seconds(vin.metadata) is not None:  # Matroska's per-track DURATION tag
            length, slack = _tag_seconds(vin.metadata) - begin, 2 * period
        elif self.inp.duration:  # the container's: the longest track, audio included
            length, slack = Fraction(self.inp.duration, 1_000_000), 1 + 2 * period
        else:
            return None
        if self.last_end is None or self.last_end - begin + slack >= length:
            return None
        return (
            f"container declares {float(length):.2f} s of video, "
            f"{float(self.last_end - begin):.2f} s decoded ({self.decoded} frames)"
        )


def _tag_seconds(metadata: dict) -> Fraction | None:
    """Matroska's ``DURATION`` tag (``00:00:03.000000000``) in seconds, or None."""
    text = next((v for k, v in metadata.items() if k.upper().split("-")[0] == "DURATION"), None)
    try:
        h, m, s = str(text).split(":")
        return int(h) * 3600 + int(m) * 60 + Fraction(s)
    except (ValueError, TypeError):
        return None


# ---------------------------------------------------------------------------- the pipeline


def _pipeline(produce: Callable[[queue.Queue, threading.Event], None], consume, work):
    """produce → queue → work (this thread) → queue → consume, bounded, errors re-raised."""
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(QUEUE_FRAMES)
    done: queue.Queue = queue.Queue(QUEUE_FRAMES)

    def reader() -> None:
        try:
            produce(decoded, stop)
        finally:
            _put(decoded, _END, stop)

    def writer() -> None:
        while True:
            item = done.get()
            if item is _END:
                return
            consume(item)

    stages = [_Stage(reader, "srup-decode"), _Stage(writer, "srup-encode")]
    for s in stages:
        s.start()
    try:
        while True:
            item = decoded.get()
            if item is _END:
                break
            result = work(item)
            while stages[1].is_alive():
                try:
                    done.put(result, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if not stages[1].is_alive():
                break
    finally:
        stop.set()
        if stages[1].is_alive():
            done.put(_END)
        for s in stages:
            s.join()
    for s in stages:
        if s.error is not None:
            raise s.error


def _upscale_frame(
    process: Process, rgb: np.ndarray, result: VideoResult, progress, total
) -> np.ndarray:
    """One decoded frame through ``process``, counted and reported to ``progress``."""
    picture = pictures.Picture(np.ascontiguousarray(rgb), format="VIDEO", lossy=result.lossy)
    out, result.model = process(picture)
    result.frames += 1
    if result.frames == 1:  # what the process says of a frame (a substitute network) holds for all
        result.notes.extend(n for n in out.notes if n not in result.notes)
    result.out_size = out.size
    if progress is not None:
        progress(result.frames, total)
    return out.pixels


def _no_frames(src: object, inp: Any = None, options: VideoOptions | None = None) -> BadImageError:
    """No frame came: an excerpt outside the video (``--start`` past its end, ``--end``
    before its first frame) says so; else the video is damaged or empty."""
    problem = None if inp is None or options is None else _outside(inp, options)
    return BadImageError(f"{src}: {problem or 'no frame could be read (damaged or empty video)'}")


def _outside(inp: Any, options: VideoOptions) -> str | None:
    """Why ``--start``/``--end`` choose no frame of ``inp``, by the durations its container
    declares (None when they choose some, or when it declares none)."""
    vin = inp.streams.video[0]
    begin = _seconds(vin.start_time, vin.time_base) or Fraction(0)
    if options.end is not None and _fraction(options.end) <= begin:
        return f"--end {options.end:g} is at or before the first frame ({float(begin):.2f} s)"
    if not options.start:
        return None
    if vin.duration:
        end = begin + _seconds(vin.duration, vin.time_base)
    elif _tag_seconds(vin.metadata) is not None:
        end = _tag_seconds(vin.metadata)
    elif inp.duration:
        end = Fraction(inp.duration, 1_000_000) + Fraction(inp.start_time or 0, 1_000_000)
    else:
        return None
    if _fraction(options.start) >= end:
        return f"--start {options.start:g} is past the end of the video ({float(end):.2f} s)"
    return None


# ------------------------------------------------------------------------------ sizes


class _Sizes:
    """The output size of a video and how ``process`` gets there (``sizing`` and
    ``process_at`` as in :class:`Resizing`)."""

    def __init__(self, sizing: Sizing | None, process_at) -> None:
        self.sizing, self.process_at = sizing, process_at
        self.turned = self.rounded = False

    def plan(self, av, vin, rotation: float, choice) -> tuple[tuple[int, int] | None, str | None]:
        """(coded size, note) the frames must come out at, or (None, None) when ``sizing``
        is unknown (the first upscaled frame tells then). Raises :class:`UsageError` for a
        typed size the encoder cannot take."""
        if self.sizing is None:
            return None, None
        w, h = vin.codec_context.width, vin.codec_context.height
        self.turned = round(rotation / 90) % 2 == 1  # the picture is shown on its side
        display = self.sizing.final(h, w) if self.turned else self.sizing.final(w, h)
        s = self.sizing
        typed = (
            s.scale is None and s.width is not None and display[0] == s.width,
            s.scale is None and s.height is not None and display[1] == s.height,
        )
        align = video_codecs.alignment(av, choice.pix_fmt)
        what = f"{choice.encoder} {choice.pix_fmt}"
        if self.turned:  # the size asked for is the displayed one: the coded picture is turned
            fitted, note = video_codecs.fit_size(display, (align[1], align[0]), typed, what)
            fitted = (fitted[1], fitted[0])
        else:
            fitted, note = video_codecs.fit_size(display, align, typed, what)
        self.rounded = note is not None
        return fitted, note

    def process(self, process: Process, vin, target) -> tuple[Process, tuple[int, int] | None]:
        """The process that gives ``target`` (None: ``process`` as it is), and the size to
        resize its output to when no such process is at hand."""
        s = self.sizing
        if target is None or s is None:
            return process, None
        if s.final(vin.codec_context.width, vin.codec_context.height) == target:
            return process, None
        if self.process_at is None:
            return process, target
        if self.rounded:  # a pixel or two off the size asked for: straight to it
            return self.process_at(type(s)(width=target[0], height=target[1], fit="stretch")), None
        # A turned clip: the asked size, turned as the coded picture is (fit and all)
        return self.process_at(replace(s, width=s.height, height=s.width)), None


def _resized(pixels: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    if size is None or (pixels.shape[1], pixels.shape[0]) == size:
        return pixels
    from srup.imaging.resize import resize_pixels

    return resize_pixels(pixels, size)


# ------------------------------------------------------------------------------- writing


def _choose_encoder(av, vin, dst: Path, options: VideoOptions) -> video_codecs.Choice:
    fmt = video_codecs.container_format(av, dst)
    time_base = _time_base(vin, fmt)

    def trial(av, out, encoder, size, pix):
        return _open_video_stream(out, vin, encoder, size, None, [], time_base, pix)

    cc = vin.codec_context
    return video_codecs.choose(av, fmt, dst.suffix, options.codec, cc.name, trial, cc.pix_fmt)


def _time_base(vin, fmt: str) -> Fraction:
    """The encoder's time base: the input stream's, so that every frame keeps its own
    timestamp; one frame period for a container that holds one frame rate (AVI)."""
    rate = Fraction(vin.average_rate or vin.guessed_rate or 25)
    if fmt in _CONSTANT_RATE or not vin.time_base:
        return 1 / rate
    return Fraction(vin.time_base)


class _Clock:
    """Each frame's output timestamp: its own, moved by the excerpt's offset, in the
    encoder's time base. A timestamp that does not grow (a repeated one, a frame further
    out of order than the reader reorders, a rounding to a container's one frame rate)
    moves one tick past the previous frame's: counted, and the farthest move kept."""

    def __init__(self, time_base: Fraction, timeline: video_tracks.Timeline) -> None:
        self.time_base, self.timeline = time_base, timeline
        self.last: int | None = None
        self.moved = 0
        self.farthest = 0  # ticks

    def __call__(self, frame: Any) -> int:
        t = _seconds(frame.pts, frame.time_base)
        if t is None:
            pts = (self.last or 0) + 1
        else:
            pts = round((t - self.timeline.offset) / self.time_base)
        if self.last is not None and pts <= self.last:
            self.farthest = max(self.farthest, self.last + 1 - pts)
            pts, self.moved = self.last + 1, self.moved + 1
        self.last = pts
        return pts


def _to_video(av, reader: _Reader, dst, process, sizes: _Sizes, progress, total, overwrite):
    choice = _choose_encoder(av, reader.vin, dst, reader.options)  # before any frame
    try:
        with temporary(dst, overwrite) as tmp:  # srup.files' rule: short name, create or fail
            _write_video(av, reader, tmp, choice, process, sizes, progress, total)
    except av.error.FFmpegError as e:
        raise OutputError(f"{dst}: cannot write the video ({e})") from None


class _Frames:
    """The writer's work on each decoded frame: ``process``, counted and reported, then
    resized to ``resize_to`` (when set)."""

    def __init__(self, process: Process, result: VideoResult, progress, total) -> None:
        self.process, self.result, self.progress, self.total = process, result, progress, total
        self.resize_to: tuple[int, int] | None = None

    def __call__(self, item: tuple) -> tuple:
        pixels = _upscale_frame(self.process, item[1], self.result, self.progress, self.total)
        pixels = _resized(pixels, self.resize_to)
        self.result.out_size = (pixels.shape[1], pixels.shape[0])
        return ("frame", pixels, item[2])


def _write_video(av, reader: _Reader, tmp, choice, process, sizes: _Sizes, progress, total):
    vin, result = reader.vin, reader.result
    fmt = video_codecs.container_format(av, tmp)
    time_base = _time_base(vin, fmt)
    items = iter(reader)
    clock = _Clock(time_base, reader.timeline)
    # Every stream must exist before the first packet is written, and the video stream's
    # size is known only once the first frame is upscaled: read ahead to it.
    ahead = _read_ahead(items, reader)
    rotation = getattr(ahead[-1][2], "rotation", 0) or 0
    work_frame = _Frames(process, result, progress, total)
    size = _upscale_first(av, ahead, rotation, choice, sizes, work_frame, reader)
    out = av.open(str(tmp), mode="w", format=fmt, container_options=_muxer_options(fmt, time_base))
    with out:
        vout, copies = _add_streams(av, out, reader, choice, size, time_base, rotation)

        def produce(q, stop) -> None:
            for item in items:
                if not _put(q, item, stop):
                    return

        def work(item):
            return item if item[0] == "packet" else work_frame(item)

        def consume(item) -> None:
            if item[0] == "packet":
                packet, copy = item[1], copies.get(item[1].stream.index)
                if copy is not None:  # a track the output cannot hold is left out
                    packet.stream = copy
                    out.mux(packet)
                return
            _, rgb, src_frame = item
            frame = video_colour.from_rgb(rgb, vout)  # the stream's format, matrix, range
            frame.pts, frame.time_base = clock(src_frame), time_base
            out.mux(vout.encode(frame))

        for item in ahead:
            consume(item)
        _pipeline(produce, consume, work)
        out.mux(vout.encode(None))
    if clock.moved:
        result.notes.append(_moved_note(clock, fmt, time_base))


def _read_ahead(items: Iterator[tuple], reader: _Reader) -> list:
    """What ``items`` holds up to and with the first frame (other streams' packets before
    it); :class:`BadImageError` before the empty output is renamed into place when no frame
    comes."""
    ahead: list = []
    for item in items:
        ahead.append(item)
        if item[0] == "frame":
            break
    if not ahead or ahead[-1][0] != "frame":
        raise _no_frames(reader.inp.name, reader.inp, reader.options)
    return ahead


def _upscale_first(av, ahead: list, rotation, choice, sizes: _Sizes, work_frame: _Frames, reader):
    """Plan the output size, set ``work_frame``'s process and resize for it, upscale the
    first frame (the last of ``ahead``) in place, and return the video stream's size. A
    process of unknown sizing: the size it gave, fitted to the encoder (with a note)."""
    vin, result = reader.vin, reader.result
    first = ahead[-1]
    target, note = sizes.plan(av, vin, rotation, choice)
    if note:
        result.notes.append(note)
    work_frame.process, work_frame.resize_to = sizes.process(work_frame.process, vin, target)
    ahead[-1] = work_frame(first)
    size = (ahead[-1][1].shape[1], ahead[-1][1].shape[0])
    if target is None:  # a process of unknown sizing: fit what it gave
        fitted, note = video_codecs.fit_size(
            size,
            video_codecs.alignment(av, choice.pix_fmt),
            (False, False),
            f"{choice.encoder} {choice.pix_fmt}",
        )
        if note:
            result.notes.append(note)
            work_frame.resize_to, size = fitted, fitted
            ahead[-1] = ("frame", _resized(ahead[-1][1], fitted), first[2])
            result.out_size = fitted
    return size


def _muxer_options(fmt: str, time_base: Fraction) -> dict[str, str]:
    """The muxer's options for a ``fmt`` output whose video is in ``time_base``."""
    container_options = {}
    if fmt in _ISO_MEDIA and time_base.numerator == 1:
        container_options["video_track_timescale"] = str(time_base.denominator)
    if fmt in _CONSTANT_RATE:
        # An AVI's times are chunk counts from zero: a track that starts before zero (AAC's
        # priming packet, at -1024 samples) would move every stream later, and the video,
        # rounded to its one frame rate, would skip a frame after the first.
        container_options["avoid_negative_ts"] = "disabled"
    return container_options


def _add_streams(av, out, reader: _Reader, choice, size, time_base, rotation) -> tuple[Any, dict]:
    """The output's streams in the input's order (:func:`srup.media.video_tracks.add_streams`),
    its display rotation and chapters: (the video stream, the copies by input index)."""
    inp, vin, options, notes = reader.inp, reader.vin, reader.options, reader.result.notes

    def add_video():
        return _open_video_stream(
            out, vin, choice.encoder, size, options, notes, time_base, choice.forced
        )

    vout, copies = video_tracks.add_streams(av, inp, out, vin, add_video, notes)
    if rotation and hasattr(vout, "set_display_rotation"):
        # The display matrix, as the input's: players turn the picture alike.
        vout.set_display_rotation(rotation)
    chapters = reader.timeline.chapters(inp.chapters())
    if chapters:
        out.set_chapters(chapters)
    return vout, copies


def _moved_note(clock: _Clock, fmt: str, time_base: Fraction) -> str:
    """The note on the frames ``clock`` moved later."""
    why = "one frame rate" if fmt in _CONSTANT_RATE else "a timestamp that did not grow"
    far = clock.farthest
    by = (
        f"one tick ({time_base} s)"
        if far == 1
        else f"up to {far} ticks ({float(far * time_base):.3f} s)"
    )
    return f"{clock.moved} frame(s) moved {by} later: {why} ({fmt} output)"


def _anamorphic(vin) -> bool:
    """Whether ``vin``'s pixels are not square (a DVD's 720×480 shown 4:3 or 16:9)."""
    sar = vin.sample_aspect_ratio
    return bool(sar) and sar != 1


def _open_video_stream(
    out,
    vin,
    encoder: str,
    size: tuple[int, int],
    options: VideoOptions | None,
    notes: list[str],
    time_base: Fraction,
    pix_fmt: str | None = None,
):
    """A new video stream in ``out`` for ``encoder``, ``size`` (width, height), with the
    input's colour and the encoder ``time_base``; ``pix_fmt`` replaces the pixel format
    srup.media.video_colour picks (an encoder that refuses it); ``options``: crf and preset
    (None in a trial)."""
    rate = vin.average_rate or vin.guessed_rate or 25
    stream = out.add_stream(encoder, rate=rate)
    stream.width, stream.height = size
    # The input's pixel format (depth, chroma) where the encoder takes it, and its colour
    # tags (matrix, range, primaries, transfer); what cannot be kept becomes a note.
    notes.extend(video_colour.configure(stream, vin))
    if pix_fmt:
        stream.pix_fmt = pix_fmt
    if _anamorphic(vin):  # pixels of the input's shape, so the picture keeps its aspect
        stream.codec_context.sample_aspect_ratio = vin.sample_aspect_ratio
    stream.codec_context.time_base = time_base  # each frame's own timestamp, not 1/rate
    stream.time_base = time_base
    opts = {"x265-params": "log-level=error"} if encoder == "libx265" else {}  # not on stderr
    if out.format.name in _CONSTANT_RATE:  # AVI stores no reordered timestamps: no B-frames
        opts["bf"] = "0"
    if options is not None and options.crf is not None:
        opts["crf"] = str(options.crf)
    if options is not None and options.preset:
        opts["preset"] = options.preset
    stream.options = opts
    return stream


# -------------------------------------------------------------------------------- frames


def _upright(rgb: np.ndarray, rotation: float) -> np.ndarray:
    """``rgb`` (H, W, C) turned as the display matrix says (``rotation``: degrees
    counterclockwise, FFmpeg's ``av_display_rotation_get``), as players show it."""
    turns = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def _to_frames(reader: _Reader, process, progress, total, overwrite, skip_existing) -> None:
    """Numbered PNGs (``frame_000001.png``, …) in ``options.frames_to``, upright. Existing
    ones are replaced only with ``overwrite``; with ``skip_existing`` they are kept and
    their frames not upscaled; with neither, the folder's frames refuse the run at once."""
    result = reader.result
    folder = Path(reader.options.frames_to)
    folder.mkdir(parents=True, exist_ok=True)
    if not overwrite and not skip_existing:
        existing = sorted(folder.glob("frame_[0-9][0-9][0-9][0-9][0-9][0-9].png"))
        if existing:
            raise OutputExistsError(
                f"{folder}: holds {len(existing)} frame(s) of an earlier run "
                f"({existing[0].name}, …); use --overwrite to replace them or "
                "--skip-existing to keep them"
            )
    index = 0
    odd_turn: list[float] = []

    def produce(q, stop) -> None:
        for item in reader:
            if item[0] == "frame" and not _put(q, item, stop):
                return

    def work(item):
        nonlocal index
        index += 1
        path = folder / f"frame_{index:06d}.png"
        if skip_existing and (path.exists() or path.is_symlink()):
            result.skipped += 1
            return None
        rotation = getattr(item[2], "rotation", 0) or 0
        if rotation % 90 and not odd_turn:
            odd_turn.append(rotation)
        rgb = _upright(item[1], rotation)
        result.size = (rgb.shape[1], rgb.shape[0])  # as the PNGs are: upright
        return path, _upscale_frame(process, rgb, result, progress, total)

    def consume(item) -> None:
        if item is None:
            return
        path, pixels = item
        try:
            pictures.write(pictures.Picture(pixels), path, overwrite=overwrite)
        except OutputExistsError:  # made meanwhile by another run
            if not skip_existing:
                raise
            result.skipped += 1

    _pipeline(produce, consume, work)
    if _anamorphic(reader.vin):
        result.notes.append(
            f"pixels {reader.vin.sample_aspect_ratio} as wide as high in the video: "
            "square in the PNGs, so the picture looks narrower or wider than played"
        )
    if odd_turn:
        result.notes.append(f"display rotation of {odd_turn[0]:g}° applied to the nearest 90°")

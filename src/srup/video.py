"""Video files: decode ahead, upscale each frame, encode behind (PyAV, ``srup[video]``).

Three stages joined by bounded queues, so memory does not grow with the clip's length: a
thread demuxes and decodes (frames as RGB arrays, other streams' packets as they come), the
calling thread runs the network, and a thread encodes and muxes. Audio and subtitle streams
are copied packet for packet, never re-encoded. The frame rate, time base, timestamps and
rotation are kept; the output is written to a temporary file and renamed when complete.
Frames are independent: there is no temporal model.
"""

from __future__ import annotations

import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import imageio
from .errors import BadImageError, OutputError, SrupError
from .formats import VIDEO_SUFFIXES

__all__ = ["VIDEO_SUFFIXES", "VideoOptions", "VideoResult", "is_video", "upscale_video"]

QUEUE_FRAMES = 4  # frames in flight between two stages
_ENCODERS = {"h264": "libx264", "hevc": "libx265", "vp9": "libvpx-vp9", "av1": "libaom-av1"}


def is_video(path: Path) -> bool:
    """By content (MP4/MOV ``ftyp``, Matroska/WebM EBML, AVI RIFF), else by suffix."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return path.suffix.lower() in VIDEO_SUFFIXES
    if head[4:8] == b"ftyp" and head[8:12] not in (b"avif", b"avis", b"heic", b"mif1"):
        return True
    if head.startswith(b"\x1a\x45\xdf\xa3") or (head[:4] == b"RIFF" and head[8:12] == b"AVI "):
        return True
    return path.suffix.lower() in VIDEO_SUFFIXES and not head.startswith(b"\x89PNG")


def _av() -> Any:
    try:
        import av
    except ImportError:
        raise SrupError(
            "video needs PyAV, which srup installs as an extra: pip install 'srup[video]'"
        ) from None
    return av


@dataclass(frozen=True)
class VideoOptions:
    """``codec``: the output's (default: the input's where it can be encoded, else h264);
    ``crf`` and ``preset`` go to the encoder; ``start``/``end`` in seconds and ``frames``
    (a count) choose part of the clip; ``frames_to``: a folder for numbered PNG frames
    instead of a video."""

    codec: str | None = None
    crf: int | None = None
    preset: str | None = None
    start: float | None = None
    end: float | None = None
    frames: int | None = None
    frames_to: Path | None = None


@dataclass
class VideoResult:
    frames: int = 0
    unreadable: int = 0  # frames the decoder could not read (a damaged clip)
    seconds: float = 0.0
    size: tuple[int, int] | None = None
    out_size: tuple[int, int] | None = None
    model: str | None = None
    notes: list[str] = field(default_factory=list)

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


def upscale_video(
    src: Path,
    dst: Path,
    process: Callable[[imageio.Picture], tuple[imageio.Picture, str]],
    options: VideoOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> VideoResult:
    """Upscale every frame of ``src`` (or the chosen part) into ``dst``; ``process`` maps a
    frame (a lossy :class:`~srup.imageio.Picture`) to its upscaled picture and model name."""
    av = _av()
    options = options or VideoOptions()
    start_clock = time.perf_counter()
    try:
        inp = av.open(str(src))
    except (av.error.FFmpegError, OSError) as e:
        raise BadImageError(f"{src}: not a video srup can read ({e})") from None
    result = VideoResult()
    with inp:
        if not inp.streams.video:
            raise BadImageError(f"{src}: no video stream")
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        total = vin.frames or 0
        if options.frames:
            total = min(total, options.frames) if total else options.frames
        result.size = (vin.codec_context.width, vin.codec_context.height)
        if options.frames_to is not None:
            _to_frames(inp, vin, process, options, progress, total, result)
        else:
            _to_video(av, inp, vin, dst, process, options, progress, total, result)
    result.seconds = time.perf_counter() - start_clock
    if result.frames == 0:
        raise _no_frames(src)
    if result.unreadable:
        result.notes.append(f"{result.unreadable} damaged frame(s) could not be read")
    return result


def _frames(av, inp, vin, options: VideoOptions, result: VideoResult) -> Iterator[tuple]:
    """``("frame", rgb, frame)`` for each chosen frame and ``("packet", packet)`` for the
    other streams', in file order."""
    if options.start:
        with suppress(av.error.FFmpegError):
            inp.seek(int(options.start / vin.time_base), stream=vin, backward=True)
    count = 0
    for packet in inp.demux():
        if packet.stream.index != vin.index:
            if packet.dts is not None and _in_range(packet, options):
                yield ("packet", packet)
            continue
        try:
            decoded = packet.decode()
        except av.error.FFmpegError:
            result.unreadable += 1
            continue
        for frame in decoded:
            t = frame.time or 0.0
            if options.start is not None and t < options.start - 1e-6:
                continue
            if options.end is not None and t >= options.end:
                return
            yield ("frame", frame.to_ndarray(format="rgb24"), frame)
            count += 1
            if options.frames and count >= options.frames:
                return


def _in_range(packet, options: VideoOptions) -> bool:
    t = float(packet.dts * packet.time_base) if packet.time_base else 0.0
    return not (
        (options.start is not None and t < options.start)
        or (options.end is not None and t >= options.end)
    )


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


def _upscale_frame(process, rgb: np.ndarray, result: VideoResult, progress, total) -> np.ndarray:
    """One decoded frame through ``process``, counted and reported to ``progress``."""
    picture = imageio.Picture(np.ascontiguousarray(rgb), format="VIDEO", lossy=True)
    out, result.model = process(picture)
    result.frames += 1
    result.out_size = out.size
    if progress is not None:
        progress(result.frames, total)
    return out.pixels


def _no_frames(src: object) -> BadImageError:
    return BadImageError(f"{src}: no frame could be read (damaged or empty video)")


def _to_video(av, inp, vin, dst, process, options, progress, total, result) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=dst.suffix, dir=dst.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        out = av.open(str(tmp), mode="w")
        with out:
            copies = {}
            for s in inp.streams:
                if s.index != vin.index and s.type in ("audio", "subtitle"):
                    try:
                        copies[s.index] = out.add_stream_from_template(s)
                    except (ValueError, av.error.FFmpegError):
                        result.notes.append(f"{s.type} stream {s.index} not copied")

            items = _frames(av, inp, vin, options, result)
            vout: Any = None

            def produce(q, stop) -> None:
                for item in items:
                    if not _put(q, item, stop):
                        return

            def work(item):
                return item if item[0] == "packet" else work_frame(item)

            def work_frame(item):
                return ("frame", _upscale_frame(process, item[1], result, progress, total), item[2])

            def consume(item) -> None:
                if item[0] == "packet":
                    packet = item[1]
                    packet.stream = copies.get(packet.stream.index)
                    if packet.stream is not None:
                        out.mux(packet)
                    return
                _, rgb, src_frame = item
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame = frame.reformat(format=vout.codec_context.pix_fmt)
                frame.pts, frame.time_base = src_frame.pts, src_frame.time_base
                out.mux(vout.encode(frame))

            # Every stream must exist before the first packet is written, and the video
            # stream's size is known only from the first upscaled frame: it goes first.
            ahead: list = []
            for item in items:
                ahead.append(item)
                if item[0] == "frame":
                    break
            first = ahead[-1] if ahead and ahead[-1][0] == "frame" else None
            if first is not None:
                ahead[-1] = work_frame(first)
                rgb = ahead[-1][1]
                vout = _open_video_stream(av, out, vin, rgb, options)
                rotation = getattr(first[2], "rotation", 0)
                if rotation and hasattr(vout, "set_display_rotation"):
                    # The display matrix, as the input's: players turn the picture alike.
                    vout.set_display_rotation(rotation)

            if vout is None:  # before the empty output is renamed into place
                raise _no_frames(inp.name)
            for item in ahead:
                consume(item)
            _pipeline(produce, consume, work)
            out.mux(vout.encode(None))
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    except av.error.FFmpegError as e:
        raise OutputError(f"{dst}: cannot write the video ({e})") from None
    finally:
        with suppress(FileNotFoundError):
            tmp.unlink()


def _open_video_stream(av, out, vin, rgb: np.ndarray, options: VideoOptions):
    name = options.codec or vin.codec_context.name
    codec = _ENCODERS.get(name, name)
    rate = vin.average_rate or vin.guessed_rate or 25
    try:
        stream = out.add_stream(codec, rate=rate)
    except (ValueError, av.error.FFmpegError):
        if options.codec:
            raise SrupError(f"--codec {options.codec}: this FFmpeg cannot encode it") from None
        stream = out.add_stream("libx264", rate=rate)
    stream.width, stream.height = rgb.shape[1], rgb.shape[0]
    pix = vin.codec_context.pix_fmt
    supported = [f.name for f in (stream.codec_context.codec.video_formats or [])]
    if pix not in supported:  # the input's where the encoder takes it, else yuv420p
        pix = "yuv420p" if "yuv420p" in supported or not supported else supported[0]
    stream.pix_fmt = pix
    stream.time_base = vin.time_base
    opts = {}
    if options.crf is not None:
        opts["crf"] = str(options.crf)
    if options.preset:
        opts["preset"] = options.preset
    stream.options = opts
    return stream


def _to_frames(inp, vin, process, options, progress, total, result) -> None:
    av = _av()
    folder = Path(options.frames_to)
    folder.mkdir(parents=True, exist_ok=True)

    def produce(q, stop) -> None:
        for item in _frames(av, inp, vin, options, result):
            if item[0] == "frame" and not _put(q, item, stop):
                return

    def work(item):
        rgb = _upscale_frame(process, item[1], result, progress, total)
        return result.frames, rgb

    def consume(item) -> None:
        index, rgb = item
        imageio.write(imageio.Picture(rgb), folder / f"frame_{index:06d}.png")

    _pipeline(produce, consume, work)

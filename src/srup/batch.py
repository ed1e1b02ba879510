"""Batch planning and running: which file goes where, and one file's upscale from start to end.

Kept apart from the CLI so scripts get the same rules: outputs never escape the output
folder, never overwrite without being asked, and are written atomically.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

from . import imageio
from .engine import Engine
from .errors import DeviceMemoryError, OutputError, SrupError, UsageError
from .formats import VIDEO_SUFFIXES
from .upscale import Upscaler
from .video import VideoOptions, is_video, upscale_video

Runner = Upscaler | Engine
VIDEO = "VIDEO"  # a job's format when its input is a video
NO_VIDEO_OPTIONS = VideoOptions()

__all__ = ["Job", "Plan", "Result", "plan", "run_job", "run_jobs"]


@dataclass(frozen=True)
class Job:
    src: Path
    dst: Path
    fmt: str


@dataclass
class Result:
    input: str
    output: str | None
    status: str  # done | skipped | failed
    error: str | None = None
    seconds: float = 0.0
    size: tuple[int, int] | None = None
    out_size: tuple[int, int] | None = None
    notes: tuple[str, ...] = ()
    model: str | None = None
    frames: int | None = None  # videos: frames upscaled
    fps: float | None = None

    @property
    def megapixels(self) -> float:
        """Output megapixels, every frame of a video counted."""
        if not self.out_size:
            return 0.0
        return self.out_size[0] * self.out_size[1] / 1e6 * (self.frames or 1)


def _format_of(src: Path, fmt: str | None) -> str:
    if is_video(src):
        return VIDEO  # a video stays in its container; --format is for pictures
    if fmt:
        return fmt
    return imageio.EXTENSIONS.get(src.suffix.lower(), "PNG")


def _default_name(src: Path, scale: int | str) -> Path:
    """``board.jpg`` → ``board_x3.jpg`` (``scale`` 3) or ``board_w1920.jpg`` (``"w1920"``)."""
    keep = src.suffix.lower() in imageio.EXTENSIONS or src.suffix.lower() in VIDEO_SUFFIXES
    suffix = src.suffix if keep else ".mp4" if is_video(src) else ".png"
    tag = f"x{scale}" if isinstance(scale, int) else scale
    return src.with_name(f"{src.stem}_{tag}{suffix}")


@dataclass
class Plan:
    """What ``srup upscale`` will do: the jobs, the inputs refused before any work (missing,
    clashing), and the files a folder scan left out (not images by their suffix)."""

    jobs: list[Job]
    refused: list[Result]
    left_out: list[Path]


def _names_folder(output: Path | None, raw: str | None) -> bool:
    """``-o`` names a folder: it is one, or it is written with a trailing slash."""
    if output is None:
        return False
    return output.is_dir() or (raw or str(output)).endswith(("/", "\\"))


def plan(
    inputs: list[Path],
    output: Path | None,
    scale: int | str,
    fmt: str | None = None,
    recursive: bool = False,
    output_text: str | None = None,
) -> Plan:
    """The jobs for ``inputs``.

    One file and an ``output`` that is not a folder: that file. Otherwise ``output`` is a
    folder (made if missing) and folders given as input are mirrored into it. ``output``
    names a folder when it is one or when ``output_text`` (the ``-o`` value as typed, since
    :class:`~pathlib.Path` drops a trailing slash) ends with a slash. Several inputs into
    a name with an image suffix is a :class:`UsageError`, not a folder called ``x.png``.
    ``scale`` names the default output (``NAME_x3``; a string such as ``w1920`` as is).
    """
    refused: list[Result] = []
    left_out: list[Path] = []
    sources: list[tuple[Path, Path]] = []  # (file, path relative to the output folder)
    for item in inputs:
        if not item.exists():
            refused.append(Result(str(item), None, "failed", f"{item}: no such file or folder"))
        elif item.is_dir():
            files, others = imageio.scan(item, recursive=recursive)
            left_out += others
            if not files:
                kind = (
                    "image files" if recursive else "image files (use --recursive for subfolders)"
                )
                refused.append(Result(str(item), None, "failed", f"{item}: no {kind}"))
            sources += [(f, f.relative_to(item)) for f in files]
        else:
            sources.append((item, Path(item.name)))
    folder = _names_folder(output, output_text)
    single = len(inputs) == 1 and inputs[0].is_file()
    if (
        output is not None
        and not folder
        and not single
        and output.suffix.lower() in imageio.IMAGE_SUFFIXES
    ):
        raise UsageError(
            f"-o {output}: several inputs cannot go into one image file; "
            "give a folder (end it with /)"
        )
    if not sources:
        return Plan([], refused, left_out)
    if single and not folder:
        src = sources[0][0]
        dst = output if output is not None else _default_name(src, scale)
        if is_video(src):
            if dst.suffix.lower() not in VIDEO_SUFFIXES:
                raise UsageError(
                    f"{dst}: a video goes into a video file "
                    f"({', '.join(sorted(VIDEO_SUFFIXES))}); or use --frames-to DIR"
                )
            return Plan([Job(src, dst, VIDEO)], refused, left_out)
        out_fmt = fmt or imageio.format_for(dst)
        return Plan([Job(src, dst, out_fmt)], refused, left_out)
    if output is None:
        raise UsageError("several inputs or a folder: give an output folder with -o DIR/")
    if output.exists() and not output.is_dir():
        raise OutputError(f"{output}: exists and is not a folder; -o must be a folder here")
    root = output.resolve()
    jobs: list[Job] = []
    seen: dict[Path, Path] = {}
    for src, rel in sources:
        out_fmt = _format_of(src, fmt)
        keep = out_fmt == VIDEO or (not fmt and src.suffix.lower() in imageio.EXTENSIONS)
        suffix = src.suffix if keep else None
        rel = rel.with_suffix(suffix or imageio.suffix_for(out_fmt))
        dst = output / rel
        if not dst.resolve().is_relative_to(root):
            refused.append(Result(str(src), None, "failed", f"{src}: output would leave {output}"))
            continue
        if dst in seen:
            refused.append(
                Result(str(src), str(dst), "failed", f"{src}: same output name as {seen[dst]}")
            )
            continue
        seen[dst] = src
        jobs.append(Job(src, dst, out_fmt))
    return Plan(jobs, refused, left_out)


def _failure(res: Result, e: BaseException, job: Job) -> Result:
    if isinstance(e, SrupError):  # BadImageError, OutputError and the rest
        res.error = str(e)
    elif isinstance(e, OSError):
        res.error = f"{job.dst}: {e.strerror or e}"
    else:  # MemoryError: NumPy's, or a device's, which names it
        where = str(e) if isinstance(e, DeviceMemoryError) else "out of memory"
        res.error = f"{job.src}: {where}; use a smaller --tile or --max-pixels"
    return res


_FAILURES = (SrupError, OSError, MemoryError)


def _read(
    job: Job, overwrite: bool, skip_existing: bool, max_pixels: int
) -> tuple[Result, imageio.Picture | None]:
    """Checks on the output, then the decoded input (None when skipped or failed)."""
    res = Result(str(job.src), str(job.dst), "failed")
    start = time.perf_counter()
    try:
        if job.dst.exists() or job.dst.is_symlink():
            if skip_existing:
                res.status = "skipped"
                return res, None
            if job.dst.resolve() == job.src.resolve():
                raise OutputError(f"{job.dst}: output is the input file; choose another -o")
            if not overwrite:
                raise OutputError(
                    f"{job.dst}: exists; use --overwrite to replace it or --skip-existing"
                )
        if job.fmt == VIDEO:  # decoded frame by frame by _video, not here
            res.status = VIDEO
            return res, None
        picture = imageio.read(job.src, max_pixels=max_pixels)
        res.size, res.notes = picture.size, tuple(picture.notes)
        return res, picture
    except _FAILURES as e:
        return _failure(res, e, job), None
    finally:
        res.seconds += time.perf_counter() - start


def _write(res: Result, job: Job, out: imageio.Picture, quality: int) -> Result:
    start = time.perf_counter()
    try:
        job.dst.parent.mkdir(parents=True, exist_ok=True)
        imageio.write(out, job.dst, fmt=job.fmt, quality=quality)
        res.out_size = out.size
        res.status = "done"
    except _FAILURES as e:
        _failure(res, e, job)
    finally:
        res.seconds += time.perf_counter() - start
    return res


def _compute(up: Runner, res: Result, job: Job, picture, progress) -> imageio.Picture | None:
    start = time.perf_counter()
    try:
        out, res.model = up.process(picture, progress)
        return out
    except _FAILURES as e:
        _failure(res, e, job)
        return None
    finally:
        res.seconds += time.perf_counter() - start


def _video(up: Runner, res: Result, job: Job, options: VideoOptions, progress) -> Result:
    """One video, through srup.video; its frames go to ``options.frames_to/NAME`` instead
    when that is set."""
    start = time.perf_counter()
    res.status = "failed"
    try:
        if options.frames_to is not None:
            options = replace(options, frames_to=Path(options.frames_to) / job.src.stem)
            res.output = str(options.frames_to)
        else:
            job.dst.parent.mkdir(parents=True, exist_ok=True)
        done = upscale_video(job.src, job.dst, up.process, options, progress)
        res.status, res.model, res.frames = "done", done.model, done.frames
        res.size, res.out_size, res.notes = done.size, done.out_size, tuple(done.notes)
        res.fps = round(done.fps, 2)
    except _FAILURES as e:
        _failure(res, e, job)
    finally:
        res.seconds += time.perf_counter() - start
    return res


def run_job(
    up: Runner,
    job: Job,
    overwrite: bool = False,
    skip_existing: bool = False,
    quality: int = 95,
    max_pixels: int = imageio.DEFAULT_MAX_PIXELS,
    progress=None,
    video: VideoOptions = NO_VIDEO_OPTIONS,
) -> Result:
    """Upscale one file; every failure becomes a ``failed`` result rather than an exception."""
    res, picture = _read(job, overwrite, skip_existing, max_pixels)
    if res.status == VIDEO:
        return _video(up, res, job, video, progress)
    if picture is None:
        return res
    out = _compute(up, res, job, picture, progress)
    return res if out is None else _write(res, job, out, quality)


# Above this output size the next file is not decoded, nor the last one encoded, beside the
# network: three big pictures at once would cost more memory than the overlap saves time.
OVERLAP_MAX_PIXELS = 50_000_000


def run_jobs(
    up: Runner,
    jobs: list[Job],
    overwrite: bool = False,
    skip_existing: bool = False,
    quality: int = 95,
    max_pixels: int = imageio.DEFAULT_MAX_PIXELS,
    progress_for: Callable[[Job], AbstractContextManager] | None = None,
    overlap: bool = True,
    video: VideoOptions = NO_VIDEO_OPTIONS,
) -> Iterator[Result]:
    """:func:`run_job` over ``jobs``, results in order. With ``overlap``, the next input is
    decoded and the previous output encoded (unless PNG, which encodes on every core itself)
    in two threads while the network runs: Pillow and zlib release the GIL, so on a CPU they
    fill the gaps between the network's steps."""
    if not overlap:
        for job in jobs:
            with progress_for(job) if progress_for else nullcontext() as progress:
                yield run_job(
                    up, job, overwrite, skip_existing, quality, max_pixels, progress, video
                )
        return
    if not jobs:
        return
    reader = ThreadPoolExecutor(1, "srup-read")
    writer = ThreadPoolExecutor(1, "srup-write")
    with reader, writer:
        reading = reader.submit(_read, jobs[0], overwrite, skip_existing, max_pixels)
        writing: Future[Result] | None = None
        for i, job in enumerate(jobs):
            res, picture = reading.result()
            if i + 1 < len(jobs):
                reading = reader.submit(_read, jobs[i + 1], overwrite, skip_existing, max_pixels)
            out = None
            if picture is not None or res.status == VIDEO:
                with progress_for(job) if progress_for else nullcontext() as progress:
                    if res.status == VIDEO:
                        res = _video(up, res, job, video, progress)
                    else:
                        out = _compute(up, res, job, picture, progress)
                del picture
            if writing is not None:
                yield writing.result()
                writing = None
            if out is None:
                yield res
            elif job.fmt == "PNG" or out.size[0] * out.size[1] > OVERLAP_MAX_PIXELS:
                # srup's PNG encoder already runs on every core: beside the network it
                # only contends (2 cores: ×0.96 overlapped against ×1.02 in the foreground).
                yield _write(res, job, out, quality)
            else:
                writing = writer.submit(_write, res, job, out, quality)
        if writing is not None:
            yield writing.result()

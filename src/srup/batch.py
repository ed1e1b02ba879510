"""Batch planning and running: which file goes where, and one file's upscale from start to end.

Kept apart from the CLI so scripts get the same rules: outputs never escape the output
folder, never overwrite without being asked (not even another run's, written meanwhile),
and are written atomically (:mod:`srup.files`).

**One failure boundary per file.** Whatever one input raises at any stage (the output
check, the memory estimate, reading with its EXIF and ICC, the output size the format can
hold, the upscale, writing, scoring against ``--reference``), srup's own errors and
unexpected ones alike, becomes that file's ``failed`` :class:`Result` with a one-line
``error``; the batch goes on. Library warnings raised meanwhile become the file's notes
(:mod:`srup.notes`). Only Ctrl-C and SIGTERM (``BaseException``) go through, to stop the
batch, and errors of the run rather than of the file (:data:`FATAL_ERRORS`: weights that
cannot be loaded, a device that cannot run).
"""

from __future__ import annotations

import copy
import hashlib
import os
import stat
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from srup import notes
from srup.choices import SUFFIX_FOR, VIDEO_SUFFIXES
from srup.errors import (
    BadImageError,
    BadWeightsError,
    DeviceError,
    DeviceMemoryError,
    OutputError,
    SrupError,
    UsageError,
)
from srup.files import OutputExistsError
from srup.imaging.sizing import Sizing, network_scale
from srup.media import pictures as imageio
from srup.media.video import VideoOptions, container_suffix, is_video, picture_format, upscale_video
from srup.runtime.auto import Engine
from srup.runtime.tilers.host import TILE_BUDGET_BYTES
from srup.runtime.upscaler import Upscaler
from srup.units import bytes_text, over_limit, over_max_pixels

Runner = Upscaler | Engine
VIDEO = "VIDEO"  # a job's format when its input is a video
NO_VIDEO_OPTIONS = VideoOptions()
WHITE = (255, 255, 255)

__all__ = [
    "Job",
    "MemoryEstimate",
    "Plan",
    "Result",
    "default_max_memory",
    "estimate_memory",
    "plan",
    "run_job",
    "run_jobs",
    "shard",
    "shard_of",
]


@dataclass(frozen=True)
class Job:
    """One input file ``src``, its output ``dst`` in format ``fmt`` (a Pillow format name or
    :data:`VIDEO`), and what planning it found worth saying (``notes``). ``key``: ``src``'s
    path relative to its input root as the output mirrors it (``sub/a.png`` for
    ``in/sub/a.png`` of input folder ``in``; a file given itself: its name), in POSIX form;
    what :func:`shard` hashes. Empty for a job made by hand: ``src`` as given is used."""

    src: Path
    dst: Path
    fmt: str
    notes: tuple[str, ...] = ()
    key: str = field(default="", compare=False)


@dataclass
class Result:
    """What became of one input. ``status``: done, partial (written, but from less than the
    input holds: a video that ends before its container says it should; ``notes`` say
    what is missing), skipped (the output exists and ``--skip-existing`` was given), failed
    (``error`` says why, in one line) or left_out (a file a folder scan passed over).
    ``size``/``out_size``: (width, height) in pixels; ``seconds``: wall time spent on this
    file; ``scores``: PSNR/SSIM against ``--reference``; ``denoise``: the ``--denoise``
    strength that ran (None where none applies: a named model or --weights file under
    --denoise auto, a plain resize); for a video, what every frame got; ``denoise_asked``:
    the strength asked for (given, or chosen by --denoise auto) when it is not the one that
    ran (used to the nearest 0.05, or beyond the family's last member shipped: the run's
    notes say why), else None; ``estimate``: what ``--denoise auto`` estimated of the file
    (:meth:`srup.imaging.estimate.Estimate.to_json`; None when nothing was estimated: lossless
    files, videos, other models); ``exception``: what was raised, for ``--debug`` (never
    printed otherwise)."""

    input: str
    output: str | None
    status: str  # done | partial | skipped | failed | left_out
    error: str | None = None
    seconds: float = 0.0
    size: tuple[int, int] | None = None
    out_size: tuple[int, int] | None = None
    notes: tuple[str, ...] = ()
    model: str | None = None
    frames: int | None = None  # videos: frames upscaled
    fps: float | None = None
    scores: dict[str, Any] | None = None
    denoise: float | None = None
    estimate: dict[str, Any] | None = None
    denoise_asked: float | None = None
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    @property
    def megapixels(self) -> float:
        """Output megapixels, every frame of a video counted."""
        if not self.out_size or self.status not in ("done", "partial"):
            return 0.0
        return self.out_size[0] * self.out_size[1] / 1e6 * (self.frames or 1)

    def note(self, *texts: str) -> None:
        """Add notes not already there, in order."""
        self.notes += tuple(t for t in dict.fromkeys(texts) if t not in self.notes)


def _format_of(src: Path, fmt: str | None) -> str:
    if is_video(src):
        return VIDEO  # a video stays in its container; --format is for pictures
    if fmt:
        return fmt
    if src.suffix.lower() in VIDEO_SUFFIXES:  # a picture named as a video: its real format
        return _writable(_content_format(src))
    return imageio.EXTENSIONS.get(src.suffix.lower(), "PNG")


def _video_name_note(src: Path, suffix: str) -> str:
    return f"a video (by its content) named {src.suffix or 'without a suffix'}: written as {suffix}"


def _content_format(src: Path) -> str | None:
    """The picture format ``src``'s first bytes say (:func:`srup.media.video.picture_format`)."""
    try:
        with open(src, "rb") as f:
            return picture_format(f.read(16)) if src.is_file() else None
    except OSError:
        return None


def _writable(fmt: str | None) -> str:
    """A format srup writes: ``fmt`` itself, else PNG (a GIF's first frame, as elsewhere)."""
    return fmt if fmt in SUFFIX_FOR else "PNG"


def _picture_name_note(src: Path, suffix: str) -> str:
    what = _content_format(src) or "picture"
    return f"a {what} picture (by its content) named {src.suffix}: written as {suffix}"


def _default_name(src: Path, scale: int | str) -> tuple[Path, tuple[str, ...]]:
    """``board.jpg`` → ``board_x3.jpg`` (``scale`` 3) or ``board_w1920.jpg`` (``"w1920"``);
    a video whose name says otherwise (an MP4 named ``.gif``) gets its container's suffix,
    with a note."""
    tag = f"x{scale}" if isinstance(scale, int) else scale
    notes_: tuple[str, ...] = ()
    if is_video(src):
        suffix = src.suffix if src.suffix.lower() in VIDEO_SUFFIXES else container_suffix(src)
        if suffix != src.suffix:
            notes_ = (_video_name_note(src, suffix),)
    elif src.suffix.lower() in VIDEO_SUFFIXES:  # a picture named as a video (a TIFF .webm)
        suffix = imageio.suffix_for(_writable(_content_format(src)))
        notes_ = (_picture_name_note(src, suffix),)
    else:
        suffix = src.suffix if src.suffix.lower() in imageio.EXTENSIONS else ".png"
    return src.with_name(f"{src.stem}_{tag}{suffix}"), notes_


@dataclass
class Plan:
    """What ``srup upscale`` will do: the jobs, the inputs refused before any work (missing,
    not regular files, clashing), what a folder scan left out (files that are not images or
    videos by their suffix, hidden files, subfolders without ``recursive``: see
    :func:`left_out_reason`), and notes on the plan itself (an output folder inside an
    input folder, a file given twice)."""

    jobs: list[Job]
    refused: list[Result]
    left_out: list[Path]
    notes: list[str] = field(default_factory=list)
    # Why a file was left out when not for :func:`left_out_reason` (an output of this run).
    left_out_why: dict[Path, str] = field(default_factory=dict)
    # The command's inputs are one file (not a folder): its usage errors end the command.
    single: bool = False


def left_out_reason(path: Path) -> str:
    """Why a folder scan left ``path`` out, in a few words."""
    if path.is_dir():
        return "a folder: use --recursive to include it"
    why = imageio.not_regular(path)  # a FIFO, a device, a broken link: never opened
    if why is not None:
        return why
    if path.name.startswith("."):
        return "a hidden file (its name starts with a dot)"
    return "not an image or video by its suffix"


def _resolved(path: Path) -> Path:
    """``path`` with its links and ``..`` resolved: one key for one file however named."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return path.absolute()


def _subfolders(folder: Path, out_root: Path | None) -> list[Path]:
    """The folders in ``folder`` (not the output folder): what a scan without
    ``recursive`` passes over."""
    try:
        found = sorted(p for p in folder.iterdir() if p.is_dir())
    except OSError:
        return []
    return [p for p in found if out_root is None or _resolved(p) != out_root]


def _names_folder(output: Path | None, raw: str | None) -> bool:
    """``-o`` names a folder: it is one, or it is written with a trailing slash."""
    if output is None:
        return False
    return output.is_dir() or (raw or str(output)).endswith(("/", "\\"))


_NOT_REGULAR = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(item: Path) -> tuple[str, str | None]:
    """``("dir" | "file" | "refused", why)`` for one input path, from one ``stat``: never
    opens it (a FIFO would block, ``/dev/zero`` never end)."""
    try:
        mode = item.stat().st_mode
    except FileNotFoundError:
        if item.is_symlink():
            return "refused", f"{item}: a broken symbolic link (its target does not exist)"
        return "refused", f"{item}: no such file or folder"
    except OSError as e:
        return "refused", f"{item}: cannot read ({e.strerror or e})"
    if stat.S_ISDIR(mode):
        return "dir", None
    if stat.S_ISREG(mode):
        return "file", None
    what = next((name for test, name in _NOT_REGULAR if test(mode)), "not a regular file")
    return "refused", f"{item}: {what}, not a file; srup reads only regular files"


def _within(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # a symlink loop: not ours to follow
        return False


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
    folder (made if missing) and folders given as input are mirrored into it; files under
    ``output`` are left out of the scan of an input folder that holds it (a second run does
    not upscale the first one's outputs). ``output`` names a folder when it is one or when
    ``output_text`` (the ``-o`` value as typed, since :class:`~pathlib.Path` drops a trailing
    slash) ends with a slash. ``scale`` names the default output (``NAME_x3``; a string such
    as ``w1920`` as is).

    Inputs that do not exist or are not regular files (FIFOs, devices, sockets) are refused
    at once, without being opened. A file given twice (``a.png a.png``, or ``in
    in/a.png``: the same file once resolved) is planned once, with a note; two files
    that would get one output name are refused with what to do. A file that is the planned
    output of another input of this run (``a.jpg`` beside ``a.png``, ``-o`` the input folder
    with ``--format jpeg``) is left out, not an input (``left_out_why`` says whose), so a
    rerun resumes cleanly. A picture named as a video (a TIFF named ``.webm``: its content
    says) gets its real format's suffix, with a note. Raises
    :class:`UsageError` for a command line that cannot mean anything: several inputs (or a
    folder) into a name with an image suffix, a folder without ``-o``, a video into a
    picture file.
    """
    refused: list[Result] = []
    left_out: list[Path] = []
    plan_notes: list[str] = []
    sources: list[tuple[Path, Path]] = []  # (file, path relative to the output folder)
    out_root = output.resolve() if output is not None else None
    folders = 0
    given: dict[Path, int] = {}  # each input file or folder, resolved → its index
    taken: dict[Path, int] = {}  # each file planned, resolved → the input it came from
    for i, item in enumerate(inputs):
        first = given.setdefault(_resolved(item), i)
        if first != i:
            also = "" if str(inputs[first]) == str(item) else f" (also as {inputs[first]})"
            plan_notes.append(f"{item}: given twice{also}; upscaled once")
            continue
        kind, why = _kind(item)
        if kind == "refused":
            refused.append(Result(str(item), None, "failed", why))
        elif kind == "dir":
            folders += 1
            files, others = imageio.scan(item, recursive=recursive)
            if not recursive:
                others += _subfolders(item, out_root)
            if out_root is not None and recursive and out_root.is_relative_to(item.resolve()):
                ours = [f for f in files + others if _within(f, out_root)]
                if ours:
                    plan_notes.append(
                        f"{output}: the output folder is inside {item}; the {len(ours)} "
                        "file(s) in it are left out of the scan"
                    )
                    files = [f for f in files if f not in ours]
                    others = [f for f in others if f not in ours]
            left_out += others
            if not files:
                kind_ = (
                    "image files" if recursive else "image files (use --recursive for subfolders)"
                )
                refused.append(Result(str(item), None, "failed", f"{item}: no {kind_}"))
            new = [f for f in files if taken.setdefault(_resolved(f), i) == i]
            if len(new) < len(files):
                n = len(files) - len(new)
                plan_notes.append(f"{item}: {n} of its files given already; each upscaled once")
            sources += [(f, f.relative_to(item)) for f in new]
        elif (first := taken.setdefault(_resolved(item), i)) == i:
            sources.append((item, Path(item.name)))
        else:
            plan_notes.append(f"{item}: given twice (also in {inputs[first]}); upscaled once")
    if not sources:
        return Plan([], refused, left_out, plan_notes)
    folder = _names_folder(output, output_text)
    single = len(given) == 1 and folders == 0
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
    if single and not folder:
        src, rel = sources[0]
        key = rel.as_posix()
        if output is None:
            dst, job_notes = _default_name(src, scale)
        else:
            dst, job_notes = output, ()
        if is_video(src):
            if dst.suffix.lower() not in VIDEO_SUFFIXES:
                raise UsageError(
                    f"{src} is a video: it goes into a video file "
                    f"({', '.join(sorted(VIDEO_SUFFIXES))}), not {dst.name}; "
                    "or use --frames-to DIR"
                )
            return Plan(
                [Job(src, dst, VIDEO, job_notes, key)], refused, left_out, plan_notes, single=True
            )
        out_fmt = fmt or imageio.format_for(dst)
        job = Job(src, dst, out_fmt, job_notes, key)
        return Plan([job], refused, left_out, plan_notes, single=True)
    if output is None:
        raise UsageError("several inputs or a folder: give an output folder with -o DIR/")
    if output.exists() and not output.is_dir():
        raise UsageError(f"-o {output}: exists and is not a folder; -o must be a folder here")
    root = output.resolve()
    planned = [(src, rel, *_planned(src, rel, output, fmt)) for src, rel in sources]
    # A file this run will write for another input (a.jpg beside a.png, -o the input folder
    # with --format jpeg) is that input's output, not an input: a rerun resumes cleanly.
    outputs = {_resolved(dst): src for src, _, dst, _, _ in planned}
    left_out_why: dict[Path, str] = {}
    jobs: list[Job] = []
    seen: dict[Path, Path] = {}
    for src, rel, dst, out_fmt, job_notes in planned:
        maker = outputs.get(_resolved(src))
        if maker is not None and maker != src:
            left_out.append(src)
            left_out_why[src] = f"an output of this run's {maker.name}"
            continue
        if not _within(dst, root):
            refused.append(Result(str(src), None, "failed", f"{src}: output would leave {output}"))
            continue
        if dst in seen:
            why = (
                f"{src}: same output name {dst} as {seen[dst]}; rename one, or upscale each "
                "into its own -o folder"
            )
            refused.append(Result(str(src), str(dst), "failed", why))
            continue
        seen[dst] = src
        jobs.append(Job(src, dst, out_fmt, job_notes, rel.as_posix()))
    return Plan(jobs, refused, left_out, plan_notes, left_out_why)


# ------------------------------------------------------------------------------- shards


def shard_of(key: str, n: int) -> int:
    """The shard (1 to ``n``) of a job whose :attr:`Job.key` is ``key``: the BLAKE2b digest
    (8 bytes) of the key's bytes (``os.fsencode``, so undecodable names have theirs), as a
    big-endian integer, modulo ``n``, plus 1. The same on every machine, Python and run
    (never :func:`hash`, which is salted per process)."""
    digest = hashlib.blake2b(os.fsencode(key), digest_size=8).digest()
    return int.from_bytes(digest, "big") % n + 1


def shard(jobs: list[Job], k: int, n: int) -> list[Job]:
    """The jobs of shard ``k`` of ``n`` (``1 <= k <= n``), in plan order.

    The rule: a job belongs to shard :func:`shard_of` ``(job.key, n)``, where ``job.key`` is
    its input's path relative to the input root as the output folder mirrors it (the file's
    name for a file given itself). So the ``n`` shards of one command are disjoint and
    together hold every job exactly once; a file's shard depends on its own relative path
    only, not on the other files, the input folder's name or the working directory: files
    added or renamed between runs leave the others where they were, and a restart with
    ``--skip-existing`` resumes the same files. A job made by hand (no ``key``) is hashed
    by ``src`` as given. Raises :class:`ValueError` for ``k``/``n`` out of range.
    """
    if n < 1 or not 1 <= k <= n:
        raise ValueError(f"shard {k}/{n}: needs 1 <= K <= N")
    return [job for job in jobs if shard_of(job.key or job.src.as_posix(), n) == k]


def _planned(
    src: Path, rel: Path, output: Path, fmt: str | None
) -> tuple[Path, str, tuple[str, ...]]:
    """Where ``src`` (at ``rel`` under the output folder) goes, in which format, with which
    notes: a video stays in its container (a video named otherwise gets its container's
    suffix); a picture named as a video gets its real format's suffix; both with a note."""
    out_fmt = _format_of(src, fmt)
    job_notes: tuple[str, ...] = ()
    if out_fmt == VIDEO:
        suffix = src.suffix if src.suffix.lower() in VIDEO_SUFFIXES else None
        if suffix is None:
            suffix = container_suffix(src)
            job_notes = (_video_name_note(src, suffix),)
    elif not fmt and src.suffix.lower() in imageio.EXTENSIONS:
        suffix = src.suffix
    else:
        suffix = imageio.suffix_for(out_fmt)
        if src.suffix.lower() in VIDEO_SUFFIXES:
            job_notes = (_picture_name_note(src, suffix),)
    return output / rel.with_suffix(suffix), out_fmt, job_notes


# ------------------------------------------------------------------------------- memory


def default_max_memory() -> int | None:
    """Three quarters of this machine's physical memory in bytes (the default
    ``--max-memory``): room for the system and other programs. The estimate is an upper
    bound (a 2000×1500 RGB picture at ×2.5 is estimated at 3.6 GiB and peaks at 2.5 GiB),
    so half would refuse a 12-megapixel photo at ×2.5 on a 24 GiB machine that holds it.
    None where the platform does not say."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
    return total * 3 // 4 if total > 0 else None


# The host tiler's working memory per tile, plus 64 MiB for the network's weights and
# PyTorch's own: what an upscale needs beside its pictures.
WORKING_BYTES = TILE_BUDGET_BYTES + 64 * 2**20


# Float64 working planes, in bytes per sample (a pixel's channel), measured as peak RSS on
# the CPU (tests/test_batch_memory.py checks the estimate against a measurement):
# - a resize to a size no network makes (--width 5900 from ×4; srup.imaging.resize works in float64,
#   and alpha pictures resample premultiplied planes): RGB 100, RGBA 161 bytes per output
#   pixel when network and final sizes are close, i.e. about 17 and 20 bytes per sample of
#   each of the two sizes; counted as 24 per sample of the network size plus the final size.
# - flattening alpha onto the background (an RGBA picture into JPEG or BMP): 106 bytes per
#   output pixel of RGBA, 26 per sample; counted as 32 per sample of the final size.
# The two happen one after the other (the resize's planes are freed before the write), so the
# larger counts, not the sum.
RESIZE_BYTES_PER_SAMPLE = 24
FLATTEN_BYTES_PER_SAMPLE = 32
# Formats without alpha: an alpha picture written to them is flattened (srup.media.pictures.write).
FLATTENED_FORMATS = frozenset({"JPEG", "BMP"})


# What --denoise auto's estimate of a lossy picture needs beside the decoded input, per
# pixel it measures (at most srup.imaging.estimate.MAX_PIXELS, its centre): the estimate's own peak
# (srup.imaging.estimate.BYTES_PER_PIXEL, measured) and the 8-bit RGB copy it reads (grey or 16-bit
# pictures). Counted on top of the rest: the allocator keeps what it frees (srup.runtime.allocator).
ESTIMATE_COPY_BYTES_PER_PIXEL = 8


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes one picture needs at its peak: the decoded input, the network's output, the
    output at its final size (when a resize makes another), one more copy of it while it is
    encoded, the float64 planes of a resize to a size no network makes or of flattening
    alpha (:data:`RESIZE_BYTES_PER_SAMPLE`, :data:`FLATTEN_BYTES_PER_SAMPLE`), the engine's
    working memory, and for a lossy picture whose strength ``--denoise auto`` chooses, the
    estimate's (:data:`ESTIMATE_COPY_BYTES_PER_PIXEL`). An upper estimate from measured
    peaks, not a measurement."""

    total: int
    out_size: tuple[int, int]
    channels: int
    bytes_per_sample: int


def _network_scale(up: Runner, factor: float) -> int | None:
    scales = getattr(up, "scales", None)
    if scales is None:  # one Upscaler: its own scale
        return up.scale
    return network_scale(factor, list(scales)) if scales else max(2, round(factor))


def _final_size(up: Runner, width: int, height: int) -> tuple[tuple[int, int], float]:
    """The output size (width, height) ``up`` makes of a ``width``×``height`` picture, and
    the scale factor it applies."""
    sizing = getattr(up, "sizing", None)
    if sizing is None:
        return (width * up.scale, height * up.scale), float(up.scale)
    return sizing.final(width, height), sizing.factor(width, height)


def estimate_memory(
    up: Runner,
    width: int,
    height: int,
    channels: int,
    sample: int,
    flatten: bool = False,
    lossy: bool = False,
) -> MemoryEstimate:
    """The :class:`MemoryEstimate` of a ``width``×``height`` picture of ``channels``
    samples of ``sample`` bytes each, upscaled by ``up``; ``flatten``: its alpha is
    flattened onto a background when written (an output format without alpha); ``lossy``:
    the file is lossy, so an engine choosing its strength (``--denoise auto`` with ``-m
    auto``) estimates it first (:mod:`srup.imaging.estimate`, on at most its centre 2 MP)."""
    final, factor = _final_size(up, width, height)
    s = _network_scale(up, factor)
    network = (width * s, height * s) if s else (width, height)
    px = channels * sample
    total = width * height * px + 2 * final[0] * final[1] * px + WORKING_BYTES
    planes = 0  # the float64 planes of a resize, or of flattening: the larger
    if network != final:
        total += network[0] * network[1] * px
        samples = (network[0] * network[1] + final[0] * final[1]) * channels
        planes = RESIZE_BYTES_PER_SAMPLE * samples
    if flatten and channels in (2, 4):
        planes = max(planes, FLATTEN_BYTES_PER_SAMPLE * final[0] * final[1] * channels)
    if lossy and getattr(up, "estimates", False):
        from srup.imaging.estimate import BYTES_PER_PIXEL, MAX_PIXELS

        measured = min(width * height, MAX_PIXELS)
        total += (BYTES_PER_PIXEL + ESTIMATE_COPY_BYTES_PER_PIXEL) * measured
    return MemoryEstimate(total + planes, final, channels, sample)


def _check_memory(up: Runner, job: Job, limit: int, max_pixels: int) -> imageio.Probe:
    """Refuse ``job`` from its header, before any decoding: over ``max_pixels`` (as
    :func:`imageio.read` would, only sooner), or needing more than ``limit`` bytes."""
    probe = imageio.probe(job.src)
    pixels = probe.width * probe.height
    if pixels > max_pixels:
        raise BadImageError(over_max_pixels(job.src, probe.width, probe.height, max_pixels))
    flatten = job.fmt in FLATTENED_FORMATS
    est = estimate_memory(
        up, probe.width, probe.height, probe.channels, probe.bytes_per_sample, flatten, probe.lossy
    )
    if est.total > limit:
        w, h = est.out_size
        need, most = over_limit(est.total, limit, bytes_text, "bytes")
        raise BadImageError(
            f"{job.src}: {probe.width}×{probe.height} → {w}×{h} needs about {need} "
            f"of memory, over the limit of {most}; raise --max-memory if this machine "
            "has it, or ask for a smaller size"
        )
    return probe


# ------------------------------------------------------------------------ one file's run


@dataclass(frozen=True)
class _Options:
    overwrite: bool = False
    skip_existing: bool = False
    quality: int = 95
    max_pixels: int = imageio.DEFAULT_MAX_PIXELS
    max_memory: int | None = None
    background: tuple[int, int, int] = WHITE
    video: VideoOptions = NO_VIDEO_OPTIONS
    reference: Path | None = None
    reference_scale: int | None = None


# What each stage was doing, for the message of an unexpected error.
_DOING = {
    "output": "checking the output",
    "probe": "reading the header",
    "read": "reading",
    "upscale": "upscaling",
    "write": "writing",
    "reference": "scoring against --reference",
    "video": "upscaling the video",
}


def _type_name(e: BaseException) -> str:
    """``TypeError``, ``struct.error``, ``PIL.UnidentifiedImageError``: enough to search for."""
    kind = type(e)
    module = kind.__module__.removeprefix("_")  # struct.error lives in _struct
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def _message(e: BaseException, job: Job, stage: str) -> str:
    if isinstance(e, SrupError):  # BadImageError, OutputError and the rest: they say it
        text = str(e)
    elif isinstance(e, MemoryError):  # NumPy's, or a device's, which names it
        where = str(e) if isinstance(e, DeviceMemoryError) else "out of memory"
        text = f"{job.src}: {where}; use a smaller --tile, --max-pixels or --max-memory"
    elif isinstance(e, OSError):
        where = e.filename or (job.dst if stage == "write" else job.src)
        text = f"{os.fsdecode(where) if isinstance(where, bytes) else where}: {e.strerror or e}"
    else:  # a library's own exception (struct.error, TypeError, ...): still this file's
        detail = str(e) or "no message"
        text = f"{job.src}: failed while {_DOING[stage]} ({_type_name(e)}: {detail})"
    if str(job.src) not in text and str(job.dst) not in text:
        text = f"{job.src}: {text}"
    if stage == "reference":
        text += " (the output was written)"
    return " ".join(text.split())  # one line, whatever the exception held


# Errors of the run, not of one file: weights that cannot be loaded (damaged, of another
# model) or a device that cannot run them. They stop the batch (exit 1 for weights), where
# reporting them file by file would fail every file alike and exit 3.
FATAL_ERRORS = (BadWeightsError, DeviceError)


@contextmanager
def _boundary(res: Result, job: Job, stage: str) -> Iterator[None]:
    """Run one stage of one file: its time is counted, its warnings become notes, and any
    ``Exception`` it raises becomes the file's failure (``res.status == "failed"``)."""
    start = time.perf_counter()
    caught: list[str] = []
    try:
        with notes.collect(caught):
            yield
    except FATAL_ERRORS:
        raise  # the model cannot run: every file after this one would fail the same way
    except Exception as e:
        res.status, res.error, res.exception = "failed", _message(e, job, stage), e
    finally:
        res.seconds += time.perf_counter() - start
        res.note(*caught)


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or os.path.samefile(a, b)
    except OSError:
        return False


def _prepare(up: Runner, job: Job, o: _Options) -> tuple[Result, imageio.Picture | None]:
    """Checks on the output, the memory estimate, then the decoded input (None when
    skipped, failed or a video)."""
    res = Result(str(job.src), str(job.dst), "running", notes=job.notes)
    frames_only = job.fmt == VIDEO and o.video.frames_to is not None  # job.dst is not written
    with _boundary(res, job, "output"):
        if not frames_only and _exists(job.dst):
            if o.skip_existing:
                res.status = "skipped"
            elif _same_file(job.dst, job.src):
                raise OutputError(f"{job.dst}: output is the input file; choose another -o")
            elif not o.overwrite:
                raise OutputError(
                    f"{job.dst}: exists; use --overwrite to replace it or --skip-existing"
                )
    if res.status != "running":
        return res, None
    if job.fmt == VIDEO:  # decoded frame by frame by _video, not here
        res.status = VIDEO
        return res, None
    if o.max_memory:
        with _boundary(res, job, "probe"):
            probe = _check_memory(up, job, o.max_memory, o.max_pixels)
            res.size = probe.width, probe.height
        if res.status == "failed":
            return res, None
    picture = None
    with _boundary(res, job, "read"):
        picture = imageio.read(job.src, max_pixels=o.max_pixels)
        res.size = picture.size
        res.note(*picture.notes)
    if res.status == "running":
        # An output the format cannot hold (a JPEG over 65,500 pixels a side) fails now,
        # not after the upscale: its size is known from the input's (turned upright).
        with _boundary(res, job, "output"):
            imageio.check_size(job.dst, job.fmt, _final_size(up, *picture.size)[0])
    return res, (picture if res.status == "running" else None)


def _compute(
    up: Runner, res: Result, job: Job, picture: imageio.Picture, progress
) -> imageio.Picture | None:
    out = None
    with _boundary(res, job, "upscale"):
        if isinstance(up, Engine):
            # Which weights, from what the file says (--denoise auto): said in its record.
            choice = up.choose(picture)
            res.denoise, res.denoise_asked = choice.denoise, choice.asked
            res.estimate = None if choice.estimate is None else choice.estimate.to_json()
            if choice.note:
                res.note(choice.note)
            out, res.model = up.process(picture, progress, choice)
        else:
            out, res.model = up.process(picture, progress)
        res.note(*out.notes)
    return out if res.status == "running" else None


def _write_picture(out: imageio.Picture, job: Job, o: _Options) -> list[str]:
    """Write ``out``; the notes the writer made (alpha flattened onto the background, EXIF
    dropped, ...)."""
    return imageio.write(
        out,
        job.dst,
        fmt=job.fmt,
        quality=o.quality,
        background=o.background,
        overwrite=o.overwrite,
    )


def _finish(res: Result, job: Job, out: imageio.Picture, o: _Options) -> Result:
    """Write ``out``, then score it against the reference if one was given."""
    with _boundary(res, job, "write"):
        job.dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            res.note(*_write_picture(out, job, o))
        except OutputExistsError:
            if not o.skip_existing:
                raise
            res.status = "skipped"  # another run finished it meanwhile
        else:
            res.out_size, res.status = out.size, "done"
    if res.status == "done":
        _score(res, job, o)
    return res


def _score(res: Result, job: Job, o: _Options) -> None:
    if o.reference is None or o.reference_scale is None:
        return
    from srup.evaluation.compare import reference_scores

    with _boundary(res, job, "reference"):
        rows = reference_scores(job.dst, job.src, o.reference, o.reference_scale)
        by = {r["method"]: {k: r[k] for k in ("psnr", "ssim", "mse")} for r in rows}
        res.scores = {"reference": rows[0]["reference"], **by}


def _video(up: Runner, res: Result, job: Job, o: _Options, progress) -> Result:
    """One video, through srup.media.video; its frames go to ``options.frames_to/NAME`` instead
    when that is set."""
    res.status = "running"
    options = o.video
    with _boundary(res, job, "video"):
        if options.frames_to is not None:
            options = replace(options, frames_to=Path(options.frames_to) / job.src.stem)
            res.output = str(options.frames_to)
        else:
            job.dst.parent.mkdir(parents=True, exist_ok=True)
        sizing = getattr(up, "sizing", None)
        chosen: list = []  # the first frame's Choice: what every frame got (no estimate)
        process = _choosing(up, chosen) if isinstance(up, Engine) else up.process
        try:
            done = upscale_video(
                job.src,
                job.dst,
                process,
                options,
                progress,
                o.overwrite,
                skip_existing=o.skip_existing,
                sizing=sizing,
                process_at=_process_at(up, chosen) if sizing is not None else None,
            )
        except OutputExistsError:
            if not o.skip_existing:
                raise
            res.status = "skipped"
            return res
        if done.frames == 0 and done.skipped:  # --frames-to: every frame's PNG was there
            res.status = "skipped"
        else:
            res.status = "partial" if done.partial else "done"
        res.model, res.frames = done.model, done.frames
        if chosen:
            res.denoise, res.denoise_asked = chosen[0].denoise, chosen[0].asked
        res.size, res.out_size = done.size, done.out_size
        res.note(*done.notes)
        res.fps = round(done.fps, 2)
    return res


def _choosing(up: Engine, chosen: list) -> Callable:
    """``up``'s process, which also keeps in ``chosen`` the :class:`srup.runtime.auto.Choice` of
    the first frame it is given (every frame of a clip gets the same: no per-frame
    estimate), for the clip's record."""

    def process(picture: imageio.Picture, progress=None):
        choice = up.choose(picture)
        if not chosen:
            chosen.append(choice)
        return up.process(picture, progress, choice)

    return process


def _process_at(up: Engine, chosen: list | None = None) -> Callable[[Sizing], Callable]:
    """``sizing →`` ``up``'s process with that Sizing instead of its own, the same models
    (a video whose encoder needs even sizes, a turned clip: srup.media.video); ``chosen`` as
    :func:`_choosing`."""

    def at(sizing: Sizing) -> Callable:
        other = copy.copy(up)  # shares the loaded models
        other.sizing = sizing
        return other.process if chosen is None else _choosing(other, chosen)

    return at


def run_job(
    up: Runner,
    job: Job,
    overwrite: bool = False,
    skip_existing: bool = False,
    quality: int = 95,
    max_pixels: int = imageio.DEFAULT_MAX_PIXELS,
    progress=None,
    video: VideoOptions = NO_VIDEO_OPTIONS,
    background: tuple[int, int, int] = WHITE,
    max_memory: int | None = None,
    reference: Path | None = None,
    reference_scale: int | None = None,
) -> Result:
    """Upscale one file; every failure becomes a ``failed`` result rather than an exception.

    ``background``: RGB 0–255 that alpha is flattened onto when the output format has none;
    ``max_memory``: bytes a picture may need (:func:`estimate_memory`), checked from its
    header before it is decoded (None: no check); ``reference`` and ``reference_scale``:
    score the output against this HR picture or folder
    (:func:`srup.evaluation.compare.reference_scores`).
    """
    o = _Options(
        overwrite=overwrite,
        skip_existing=skip_existing,
        quality=quality,
        max_pixels=max_pixels,
        max_memory=max_memory,
        background=background,
        video=video,
        reference=reference,
        reference_scale=reference_scale,
    )
    return _run_one(up, job, o, progress)


def _run_one(up: Runner, job: Job, o: _Options, progress) -> Result:
    """One file from its checks to its output, in the calling thread."""
    res, picture = _prepare(up, job, o)
    if res.status == VIDEO:
        return _video(up, res, job, o, progress)
    if picture is None:
        return res
    out = _compute(up, res, job, picture, progress)
    del picture  # the input is not needed while the output is encoded
    return res if out is None else _finish(res, job, out, o)


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
    background: tuple[int, int, int] = WHITE,
    max_memory: int | None = None,
    reference: Path | None = None,
    reference_scale: int | None = None,
) -> Iterator[Result]:
    """:func:`run_job` over ``jobs``, results in order. With ``overlap``, the next input is
    decoded and the previous output encoded (unless PNG, which encodes on every core itself)
    in two threads while the network runs: Pillow and zlib release the GIL, so on a CPU they
    fill the gaps between the network's steps."""
    o = _Options(
        overwrite=overwrite,
        skip_existing=skip_existing,
        quality=quality,
        max_pixels=max_pixels,
        max_memory=max_memory,
        background=background,
        video=video,
        reference=reference,
        reference_scale=reference_scale,
    )
    if not overlap:
        for job in jobs:
            with progress_for(job) if progress_for else nullcontext() as progress:
                res = _run_one(up, job, o, progress)
            yield res
        return
    if not jobs:
        return
    reader = ThreadPoolExecutor(1, "srup-read")
    writer = ThreadPoolExecutor(1, "srup-write")
    with reader, writer:
        reading = reader.submit(_prepare, up, jobs[0], o)
        writing: Future[Result] | None = None
        for i, job in enumerate(jobs):
            res, picture = reading.result()
            if i + 1 < len(jobs):
                reading = reader.submit(_prepare, up, jobs[i + 1], o)
            out = None
            if picture is not None or res.status == VIDEO:
                with progress_for(job) if progress_for else nullcontext() as progress:
                    if res.status == VIDEO:
                        res = _video(up, res, job, o, progress)
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
                yield _finish(res, job, out, o)
            else:
                writing = writer.submit(_finish, res, job, out, o)
        if writing is not None:
            yield writing.result()

"""``srup upscale``: images, videos or folders of them. The arguments become an
:class:`UpscaleOptions`; every check that needs only the arguments runs before torch is
imported or a model loaded; then the plan (:mod:`srup.batch`), the engine
(:mod:`srup.runtime.auto`), the run, and what :mod:`srup.cli.display` shows of it."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from srup.choices import FORMAT_NAMES
from srup.cli import options as opt
from srup.cli.group import debugging
from srup.cli.options import debug_option, engine_options
from srup.errors import EXIT_OK, EXIT_PARTIAL, SrupError

if TYPE_CHECKING:
    from srup.cli.display import BatchDisplay
    from srup.imaging.sizing import Sizing
    from srup.runtime.tilers.tiler import TileSize

__all__ = ["UpscaleOptions", "upscale"]


@dataclass(frozen=True)
class UpscaleOptions:
    """``srup upscale``'s arguments as Click parsed them, and where two came from."""

    inputs: tuple[Path, ...]
    scale: float | None
    width: int | None
    height: int | None
    fit: str
    output: str | None
    model: str
    weights: Path | None
    denoise: str | float
    tile: str
    device: str
    precision: str
    fmt: str | None
    quality: int
    recursive: bool
    overwrite: bool
    skip_existing: bool
    shard: tuple[int, int] | None
    max_pixels: int | None
    max_memory: int | None
    background: str
    reference: Path | None
    codec: str | None
    crf: int | None
    preset: str | None
    start: float | None
    end: float | None
    frame_count: int | None
    frames_to: Path | None
    as_json: bool
    quiet: bool
    ray: str | None = None  # --ray: "" for Ray's own rule, else the address
    worker_cpus: int | None = None
    fit_given: bool = False  # --fit came from anywhere but its default
    denoise_typed: bool = False  # --denoise was typed on the command line

    @classmethod
    def from_click(cls, options: dict[str, Any]) -> UpscaleOptions:
        """The options of the current Click context's command."""
        ctx = click.get_current_context()
        defaults = (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)
        return cls(
            **options,
            fit_given=ctx.get_parameter_source("fit") not in defaults,
            denoise_typed=ctx.get_parameter_source("denoise") == ParameterSource.COMMANDLINE,
        )


@dataclass(frozen=True)
class Checked:
    """What the checks made of the arguments: the output size, the tile, the fill colour."""

    sizing: Sizing
    tile: TileSize
    background: tuple[int, int, int]


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-s",
    "--scale",
    type=click.FloatRange(min=0, min_open=True, max=16),
    help="How many times larger: 3, or any number such as 2.5 (default: the --weights file's "
    "scale, else 3; none with --width or --height).",
)
@click.option("--width", type=click.IntRange(1), help="Output width in pixels.")
@click.option("--height", type=click.IntRange(1), help="Output height in pixels.")
@click.option(
    "--fit",
    type=click.Choice(["contain", "cover", "stretch"]),
    default="contain",
    show_default=True,
    help="With --width and --height: fit inside, fill and cut the centre, or stretch.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    help="Output file, or folder (a name ending in /, or several inputs; default: NAME_xS "
    "beside the input).",
)
@click.option(
    "-m",
    "--model",
    default="auto",
    show_default=True,
    help="Model name (see `srup models`); auto = best fast model for the scale.",
)
@click.option(
    "--weights",
    type=click.Path(path_type=Path),
    help="A weights file to use: srup's .safetensors, or another project's .pth/.ckpt/.bin/"
    ".safetensors of any architecture spandrel knows (the models extra).",
)
@click.option(
    "--denoise",
    default="auto",
    show_default=True,
    callback=opt.denoise,
    help="How hard the model works against compression, noise and blur: 0 the clean model, "
    "0.5 its real-photo variant, 1 its capture variant, weights interpolated between (as "
    "Real-ESRGAN's -dn), used to the nearest 0.05. auto (with -m auto): 0 for lossless "
    "files; for lossy ones from the JPEG quality (95: 0.2, 75: 0.5, 55 and below: 1; an "
    "earlier, coarser save counts), raised by strong noise or blur, and a board or page "
    "below quality 75 goes to 1; the note says what was measured. A number needs -m "
    "auto or a clean model with a real or capture variant at the scale (-m fsrcnn); beyond "
    "the last variant shipped, that variant runs (said once; --json: denoise is what ran, "
    "denoise_asked what was asked).",
)
@engine_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(FORMAT_NAMES), case_sensitive=False),
    help="Output format in batch mode (default: the input's; GIF becomes PNG).",
)
@click.option(
    "--quality",
    type=click.IntRange(1, 100),
    default=95,
    show_default=True,
    help="JPEG/WebP quality.",
)
@click.option("-r", "--recursive", is_flag=True, help="Mirror subfolders of input folders.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
@click.option("--skip-existing", is_flag=True, help="Leave existing outputs (resume a batch).")
@click.option(
    "--shard",
    metavar="K/N",
    callback=opt.shard,
    help="Do only shard K of N (1 <= K <= N): the files whose path relative to their input "
    "folder hashes to K, so N runs (a job array) do every file once. Left-out and refused "
    'inputs are reported by shard 1 only; --json records carry "shard".',
)
@click.option(
    "--max-pixels",
    type=click.IntRange(1),
    default=None,
    help="Refuse inputs with more pixels (default 150 million).",
)
@click.option(
    "--max-memory",
    type=opt.ByteSize(),
    default=None,
    help="Refuse a picture whose upscale needs more memory, estimated from its header before "
    "it is decoded: a size such as 8G or 512M, 0 for no limit (default: three quarters of this "
    "machine's memory).",
)
@click.option(
    "--background",
    default="white",
    show_default=True,
    help="Colour that transparency is flattened onto when the output format has no alpha "
    "(JPEG, BMP): white, black, gray, any CSS colour name, or #rrggbb.",
)
@click.option(
    "--reference",
    type=click.Path(path_type=Path),
    help="HR image (or folder of them) to score the output against: a table per file, or "
    "the scores in each file's --json record.",
)
@click.option(
    "--codec",
    help="Video: output codec, e.g. h264, hevc, vp9, av1 (default: the input's where the "
    "container takes it, else the container's own: VP9 for WebM, H.264 for the others).",
)
@click.option("--crf", type=click.IntRange(0, 63), help="Video: encoder quality (lower: better).")
@click.option("--preset", help="Video: encoder speed preset (e.g. fast, medium, slow).")
@click.option("--start", type=click.FloatRange(0), help="Video: start at this second.")
@click.option("--end", type=click.FloatRange(0), help="Video: stop at this second.")
@click.option("--frames", "frame_count", type=click.IntRange(1), help="Video: at most N frames.")
@click.option(
    "--frames-to",
    type=click.Path(path_type=Path),
    help="Video: numbered PNG frames into DIR/NAME/ instead of a video.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object per line on stdout: one per input (status done, partial, skipped or "
    "failed) and one per file or subfolder a folder scan leaves out (status left_out); valid "
    "UTF-8 whatever the file names (bytes that are not UTF-8 are written as \\xNN).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary on stderr.")
@click.option(
    "--ray",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[ADDRESS]",
    callback=opt.ray_address,
    help="Run on a Ray cluster (the ray extra): one worker per GPU or per "
    "--worker-cpus CPUs, the outputs written by the workers on a file system every node "
    "mounts at the same path. ADDRESS: auto, local, HOST:PORT or ray://HOST:PORT (default: "
    "RAY_ADDRESS, else the cluster `ray start` made here, else a new local one); give it "
    "as --ray=ADDRESS or put --ray after the inputs.",
)
@click.option(
    "--worker-cpus",
    type=click.IntRange(1),
    help="With --ray: CPUs each worker holds, and its network's threads (default 1: a worker "
    "per core; more for very large pictures, which then also get more of --max-memory).",
)
@debug_option
def upscale(**options: Any) -> int:
    """Upscale images, videos or folders of them.

    \b
      srup upscale board.jpg -s 3 -o board_x3.png
      srup upscale photos/ -s 2 -o photos_x2/ --recursive
      srup upscale clip.mp4 -s 2 -o clip_x2.mp4      (pip install 'srup[video]')

    A file that fails is one line on stderr (and its --json record); the batch goes on
    and exits 3. Inputs that are not regular files, and pictures over --max-pixels or
    --max-memory, are refused before they are decoded.
    """
    return run(UpscaleOptions.from_click(options))


def run(o: UpscaleOptions) -> int:
    """The command: check, plan, load, run; the exit code."""
    checked = check(o)
    _start_process()
    if o.ray is not None:
        from srup.batch.cluster import ray_module

        ray_module()  # without Ray: one line saying what to install, before any work
    from srup.cli.display import BatchDisplay

    sizing = checked.sizing
    the_plan = _plan(o, sizing)
    display = BatchDisplay(quiet=o.quiet, as_json=o.as_json, debug=debugging())
    display.check_stdout()  # closed at start (`>&-`): stop before any work
    # Every record has the same keys: null where the engine was never loaded.
    display.context = _context(o, sizing)
    first = _show_plan(display, the_plan, o.shard)
    video = _video_options(o, the_plan.jobs)
    refused = list(the_plan.refused) if first else []
    jobs = _checked_videos(the_plan, video, sizing, o.frames_to, refused)
    if not jobs:
        for res in refused:
            display.result(res)
        display.summary()
        return EXIT_PARTIAL if display.failed else EXIT_OK
    if o.ray is not None:
        return _run_on_ray(display, o, checked, jobs, refused, video)
    from srup.runtime.auto import Engine

    up = Engine(
        sizing,
        o.model,
        o.weights,
        o.denoise,
        device=o.device,
        tile=checked.tile,
        precision=o.precision,
    )
    _begin(display, o, sizing, up, jobs, refused)
    from srup import batch

    options = _batch_options(o, checked, video)
    results = batch.run_jobs(up, jobs, options, progress_for=lambda job: display.file(job.src))
    return _show_results(display, up, results)


def _begin(
    display: BatchDisplay,
    o: UpscaleOptions,
    sizing: Sizing,
    up: Any,
    jobs: list,
    refused: list,
    workers: str = "",
) -> None:
    """Once the engine is loaded (``up``: an Engine, or a Cluster whose first worker's
    engine speaks for all): the records' context, the refused inputs, the banner (with
    ``workers`` after it), what --denoise does, and the run's first notes."""
    display.context = _context(o, sizing, up)
    for res in refused:  # after the engine: their records name the device as the others do
        display.result(res)
    device = str(up.device).split(":")[0]
    display.start(len(jobs), f"{up.name} {_size_text(sizing)} on {device}, {up.precision}{workers}")
    _say_denoise(display, o, sizing, jobs)
    for text in up.new_notes():  # a strength that runs as another: said once per run
        display.note(text)


def _run_on_ray(
    display: BatchDisplay, o: UpscaleOptions, checked: Checked, jobs: list, refused: list, video
) -> int:
    """The jobs on a Ray cluster's workers (:class:`srup.batch.cluster.Cluster`): the same
    records, notes, summary and exit code as a local run; the files bar moves as each file
    ends (a remote file's tiles are not shown)."""
    from srup.batch.cluster import Cluster, EngineSpec

    sizing = checked.sizing
    weights = None if o.weights is None else str(o.weights)
    spec = EngineSpec(sizing, o.model, weights, o.denoise, o.device, checked.tile, o.precision)
    options = _batch_options(o, checked, video)
    # --max-memory's default is three quarters of a machine's memory: each worker's share
    # of its own node's, not the driver's.
    node_memory = o.max_memory is None
    with Cluster(
        spec, o.ray or None, o.worker_cpus, node_memory=node_memory, ray_messages=debugging()
    ) as cluster:
        cpus = cluster.cpus_per_worker
        per = "1 GPU" if cluster.device_type == "cuda" else f"{cpus} CPU{'s' * (cpus > 1)}"
        workers = f"; {cluster.planned} Ray workers of {per}"
        _begin(display, o, sizing, cluster, jobs, refused, workers)
        return _show_results(display, cluster, cluster.run(jobs, options), each_file=True)


def check(o: UpscaleOptions) -> Checked:
    """Every check that needs only the arguments (and the --weights header), in the order
    the messages have always come; before torch is imported or any file decoded."""
    if o.overwrite and o.skip_existing:
        raise click.UsageError("--overwrite and --skip-existing exclude each other")
    if o.worker_cpus is not None and o.ray is None:
        raise click.UsageError("--worker-cpus is for a cluster run: give --ray too")
    if o.start is not None and o.end is not None and o.end <= o.start:
        raise click.UsageError("--end must come after --start")
    if o.fit_given and not (o.width and o.height):
        raise click.UsageError(
            f"--fit {o.fit} needs both --width and --height (the box a picture is fitted to)"
        )
    if o.reference is not None and not o.reference.exists():
        raise click.BadParameter(f"{o.reference}: no such file or folder", param_hint="--reference")
    fill = opt.background(o.background)
    if o.codec is not None:
        from srup.media.video import check_codec

        check_codec(o.codec)
    tile = opt.tile(o.tile)
    from srup.imaging.sizing import Sizing

    scale = o.scale
    if scale is None and o.width is None and o.height is None:
        scale = _weights_scale(o.weights) or 3.0
    sizing = Sizing(scale, o.width, o.height, o.fit)
    if o.reference is not None and sizing.integer_scale is None:
        raise click.UsageError("--reference needs a whole-number --scale")
    return Checked(sizing, tile, fill)


@contextlib.contextmanager
def _startup() -> Iterator[None]:
    """Import torch and the rest without the cyclic garbage collector: its passes over the
    hundred thousand objects that importing torch creates cost about 0.15 s of every start.
    Those objects live as long as the process, so they are then frozen out of later passes."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def _start_process() -> None:
    """Import torch and the batch under :func:`_startup`, then the process-wide settings,
    which belong to the program, not to the library: srup applies its own --max-pixels, and
    keeps freed memory for the next tile (see srup.runtime.allocator)."""
    with _startup():
        from srup import batch  # noqa: F401  (torch, imported here without the collector)
        from srup.batch.worker import settle_process
        from srup.cli.display import BatchDisplay  # noqa: F401
        from srup.media import pictures  # noqa: F401

    settle_process()  # as every worker of a cluster run does


def _plan(o: UpscaleOptions, sizing: Sizing) -> Any:
    """What becomes of each input (:func:`srup.batch.plan`)."""
    from srup import batch

    return batch.plan(
        list(o.inputs),
        Path(o.output) if o.output is not None else None,
        _name_tag(sizing),
        FORMAT_NAMES[o.fmt.lower()] if o.fmt else None,
        o.recursive,
        output_text=o.output,
    )


def _video_options(o: UpscaleOptions, jobs: list) -> Any:
    """The video options (:class:`srup.media.video.VideoOptions`); with a video among the
    jobs, SVT-AV1 is told not to log its banner on stderr (a trial of AV1 is enough)."""
    from srup import batch
    from srup.media.video import VideoOptions

    if any(job.fmt == batch.VIDEO for job in jobs):
        os.environ.setdefault("SVT_LOG", "1")
    return VideoOptions(o.codec, o.crf, o.preset, o.start, o.end, o.frame_count, o.frames_to)


def _context(o: UpscaleOptions, sizing: Sizing, up: Any = None) -> dict[str, Any]:
    """The fields every --json record carries: null device and precision before the engine
    is loaded; ``shard`` with --shard."""
    shard = {"shard": f"{o.shard[0]}/{o.shard[1]}"} if o.shard else {}
    return {
        "scale": sizing.integer_scale or sizing.scale,
        "device": None if up is None else str(up.device),
        "precision": None if up is None else up.precision,
        **shard,
    }


def _show_plan(display: BatchDisplay, the_plan: Any, shard: tuple[int, int] | None) -> bool:
    """The plan's notes, its shard, and what it left out; whether this is the first shard
    (or no shard), the one that reports the plan's own records."""
    from srup import batch

    for text in the_plan.notes:
        display.note(text)
    # Records of the plan itself (left out, refused) come from shard 1 alone: the shards'
    # --json lines, concatenated, hold each once.
    first = shard is None or shard[0] == 1
    if shard:
        total = len(the_plan.jobs)
        the_plan.jobs = batch.shard(the_plan.jobs, *shard)
        display.shard = f"shard {shard[0]}/{shard[1]}: {len(the_plan.jobs)} of {total} files"
        others = len(the_plan.left_out) + len(the_plan.refused)
        if not first and others:
            display.note(f"{others} left-out or refused input(s): reported by shard 1/{shard[1]}")
    if first:
        for path in the_plan.left_out:
            display.left_out(path, the_plan.left_out_why.get(path))
    return first


def _say_denoise(display: BatchDisplay, o: UpscaleOptions, sizing: Sizing, jobs: list) -> None:
    """What --denoise does with the model named, said once, not per file."""
    if o.denoise == "auto" and o.denoise_typed:
        # Asked for, and nothing to choose among.
        if o.weights is not None:
            display.note("--denoise auto: a --weights file is one weight set; it runs as it is")
        elif o.model != "auto":
            display.note(f"--denoise auto chooses per file with -m auto only: {o.model} as named")
    elif o.denoise == "auto" and o.model != "auto" and o.weights is None:
        _hint_variants_for_jpeg(display, o.model, sizing.integer_scale, jobs)


def _show_results(display: BatchDisplay, up: Any, results: Any, each_file: bool = False) -> int:
    """A record per file as it ends (``each_file``: moving the files bar too, for results
    whose network stage ran elsewhere); the summary; the exit code."""
    for res in results:
        if each_file:
            with display.file(Path(res.input)):
                pass
        for text in up.new_notes():  # once per run, as it first arises, not per file
            display.note(text)
        display.result(res)
    display.summary()
    return EXIT_PARTIAL if display.failed or display.partial else EXIT_OK


def _batch_options(o: UpscaleOptions, checked: Checked, video: Any) -> Any:
    """What each file of the batch gets (:class:`srup.batch.Options`)."""
    from srup import batch
    from srup.media import pictures

    return batch.Options(
        overwrite=o.overwrite,
        skip_existing=o.skip_existing,
        quality=o.quality,
        max_pixels=o.max_pixels or pictures.DEFAULT_MAX_PIXELS,
        max_memory=batch.default_max_memory() if o.max_memory is None else (o.max_memory or None),
        background=checked.background,
        video=video,
        reference=o.reference,
        reference_scale=checked.sizing.integer_scale,
    )


def _checked_videos(
    the_plan: Any, video: Any, sizing: Sizing, frames_to: Path | None, refused: list
) -> list:
    """The plan's jobs less the videos that cannot be written as asked (a codec the
    container refuses, an odd typed --width), checked before any work. When the command's
    one input is that video, its :class:`UsageError` ends the command (exit 2); in a batch it
    is that video's failure, added to ``refused``, and the other inputs are done."""
    if frames_to is not None:
        return list(the_plan.jobs)
    from srup import batch
    from srup.media.video import check_output

    jobs = []
    for job in the_plan.jobs:
        if job.fmt == batch.VIDEO:
            try:
                check_output(job.src, job.dst, video, sizing)
            except SrupError as e:
                if the_plan.single:
                    raise
                text = str(e) if str(job.src) in str(e) else f"{job.src}: {e}"
                refused.append(batch.Result(str(job.src), str(job.dst), "failed", text))
                continue
        jobs.append(job)
    return jobs


def _weights_scale(weights: Path | None) -> float | None:
    """The scale of a ``--weights`` file (its header's, or for another project's file the
    one spandrel reads from it): the default ``-s`` with it. None without weights or when
    the file does not say (loading then reports what is wrong)."""
    if weights is None:
        return None
    from srup.errors import SrupError
    from srup.models.descriptor import weights_scale

    try:
        scale = weights_scale(weights)
    except SrupError:
        return None
    return float(scale) if scale else None


def _name_tag(sizing: Sizing) -> int | str:
    """What a default output name carries: 3 (``_x3``), ``x2.5``, ``w1920``, ``1920x1080``."""
    if sizing.integer_scale is not None:
        return sizing.integer_scale
    if sizing.scale is not None:
        return f"x{sizing.scale:g}"
    if sizing.width and sizing.height:
        return f"{sizing.width}x{sizing.height}"
    return f"w{sizing.width}" if sizing.width else f"h{sizing.height}"


def _size_text(sizing: Sizing) -> str:
    """``×3``, ``to 1920×?``, ``to 1920×1080 (contain)``: the size in the start line."""
    if sizing.scale is not None:
        return f"×{sizing.scale:g}"
    size = f"{sizing.width or '?'}×{sizing.height or '?'}"
    return f"to {size}" + (f" ({sizing.fit})" if sizing.width and sizing.height else "")


def _hint_variants_for_jpeg(
    display: BatchDisplay, model: str, scale: int | None, jobs: list
) -> None:
    """A clean model named for JPEG input runs as named (the clean model sharpens JPEG's
    ringing with the strokes): say once, when its family has a real-photo variant at the
    scale, how to use it."""
    from srup.models.denoise import family
    from srup.models.weights import split_name

    arch, variant = split_name(model)
    if variant or scale is None:
        return
    if not any(job.src.suffix.lower() in (".jpg", ".jpeg") for job in jobs):
        return
    members = family(arch, scale).members
    if len(members) > 1:
        display.note(
            f"{model} runs as named on JPEG input (its clean weights); --denoise 0.5 uses "
            f"{members[1].name}, 1 the end of its chain, and -m auto chooses per file"
        )

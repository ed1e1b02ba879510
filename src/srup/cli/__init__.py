"""The ``srup`` command line: parse, call the API, render. No arithmetic lives here.

Exit codes, the same for every command (:mod:`srup.errors` defines them): 0 all done
(skipped existing outputs count as done), 1 fatal (the run could not go on: bad weights, a
missing data set, a device failure, stdout cannot be written, an unexpected internal
error), 2 usage error, 3 partial (a batch ran to its end but some inputs failed), 130
interrupted (Ctrl-C), 141 stdout was closed (``| head``), 143 terminated (SIGTERM).

Every error is one line on stderr, Click's usage errors too (``error: MESSAGE (see 'srup
upscale --help')``); an unexpected exception outside any file is one line ``internal
error: ...`` and exit 1. Tracebacks only with ``--debug`` (``srup --debug`` or ``srup
upscale --debug``) or ``SRUP_DEBUG=1``.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import os
import re
import signal
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import click
from click.core import ParameterSource

from srup import __version__
from srup.choices import FORMAT_NAMES, MIN_TILE, ONNX_FORMS, SAMPLERS
from srup.errors import (
    EXIT_FATAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_TERMINATED,
    SrupError,
    StdoutClosedError,
    StdoutError,
)

__all__ = ["EXIT_INTERRUPTED", "EXIT_TERMINATED", "cli", "main"]


class _Run:
    """Per invocation: whether tracebacks are shown (``--debug`` or ``SRUP_DEBUG``)."""

    debug = False


def debugging() -> bool:
    """``srup --debug`` was given, or ``SRUP_DEBUG`` is set to anything but 0 or empty."""
    return _Run.debug or os.environ.get("SRUP_DEBUG", "") not in ("", "0")


class Terminated(BaseException):
    """SIGTERM, raised like KeyboardInterrupt so that atomic writes clean up."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise Terminated


def _error(message: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    from srup.cli.display import one_line

    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]error:[/] {escape(one_line(message))}"
    )


def _traceback() -> None:
    """The current exception's traceback on stderr, when debugging."""
    if debugging():
        traceback.print_exc(file=sys.stderr)


def _silence_stdout() -> None:
    """After stdout failed: point it at the null device, so that Python's own flush at exit
    does not fail again ("Exception ignored ... BrokenPipeError"), as the note on SIGPIPE in
    the docs of Python's signal module recommends."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (a test runner's stream)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _how_to_continue() -> str:
    """What to run next after an interruption, by the command that was interrupted."""
    words = sys.argv[1:]
    if "train" in words:
        return "finished outputs are whole; run the same command with --resume to continue"
    if "upscale" in words:
        return "finished outputs are whole; run the same command with --skip-existing to continue"
    return "nothing partial was written"


# Click 8.2 raises this for `srup` alone, to show the help; 8.1 shows it itself.
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


class SrupGroup(click.Group):
    """The one place errors become exit codes: every SrupError, Click error, Ctrl-C, SIGTERM
    and unexpected exception becomes one line on stderr and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as e:  # a write to stdout that no guard named (click.echo)
            raise StdoutClosedError("stdout was closed; stopped") from e

    def main(self, args: Any = None, prog_name: str | None = None, **extra: Any) -> Any:
        extra.pop("standalone_mode", None)
        _Run.debug = False
        previous = signal.getsignal(signal.SIGTERM)
        try:
            signal.signal(signal.SIGTERM, _on_sigterm)
        except ValueError:  # not the main thread: leave SIGTERM alone
            previous = None
        try:
            rv = super().main(args, prog_name or "srup", standalone_mode=False, **extra)
        except click.exceptions.Exit as e:
            sys.exit(e.exit_code)
        except _NO_ARGS_IS_HELP as e:  # `srup` alone: the help
            e.show()
            sys.exit(e.exit_code)
        except click.UsageError as e:  # one line, as every other error
            see = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
            _error(f"{e.format_message().removesuffix('.')}{see}")
            sys.exit(e.exit_code)
        except click.ClickException as e:
            _error(e.format_message())
            sys.exit(e.exit_code)
        except (click.exceptions.Abort, KeyboardInterrupt):
            _error(f"interrupted; {_how_to_continue()}")
            sys.exit(EXIT_INTERRUPTED)
        except Terminated:
            _error(f"terminated; {_how_to_continue()}")
            sys.exit(EXIT_TERMINATED)
        except StdoutError as e:
            _traceback()
            _error(str(e))
            _silence_stdout()
            sys.exit(e.exit_code)
        except SrupError as e:
            _traceback()
            _error(str(e))
            sys.exit(e.exit_code)
        except MemoryError as e:  # outside any file (a file's own is that file's error)
            _traceback()
            _error(f"out of memory ({e})" if str(e) else "out of memory")
            sys.exit(EXIT_FATAL)
        except Exception as e:
            _traceback()
            _error(
                f"internal error: {type(e).__name__}: {e} (run with --debug or SRUP_DEBUG=1 "
                "for the traceback, and please report it)"
            )
            sys.exit(EXIT_FATAL)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        sys.exit(rv if isinstance(rv, int) else EXIT_OK)


@click.group(
    "srup",  # the program's name wherever Click shows one, a test's runner included
    cls=SrupGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Exit codes: 0 done, 1 fatal error, 2 usage error, 3 some inputs failed, "
    "130 interrupted, 141 stdout closed, 143 terminated.",
)
@click.version_option(__version__, prog_name="srup")
@click.option(
    "--debug",
    is_flag=True,
    help="Show the Python traceback of every error (as SRUP_DEBUG=1); for bug reports.",
)
def cli(debug: bool) -> None:
    """Image super-resolution with small convolutional networks."""
    _Run.debug = debug


def _set_debug(_ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        _Run.debug = True


# `srup upscale ... --debug` as `srup --debug upscale ...`: where users type it.
_debug_option = click.option(
    "--debug",
    is_flag=True,
    expose_value=False,
    callback=_set_debug,
    help="Show the Python traceback of every error (as srup --debug or SRUP_DEBUG=1).",
)


def main() -> None:
    cli()


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


def _scales(value: str) -> list[int]:
    try:
        scales = sorted({int(v) for v in value.split(",") if v.strip()})
    except ValueError:
        raise click.BadParameter(f"{value!r}: give scales like 2,3,4") from None
    if not scales or min(scales) < 2:
        raise click.BadParameter(f"{value!r}: scales are integers of at least 2")
    return scales


def _name_tag(sizing) -> int | str:
    """What a default output name carries: 3 (``_x3``), ``x2.5``, ``w1920``, ``1920x1080``."""
    if sizing.integer_scale is not None:
        return sizing.integer_scale
    if sizing.scale is not None:
        return f"x{sizing.scale:g}"
    if sizing.width and sizing.height:
        return f"{sizing.width}x{sizing.height}"
    return f"w{sizing.width}" if sizing.width else f"h{sizing.height}"


def _hint_variants_for_jpeg(display, model: str, scale: int | None, jobs) -> None:
    """A clean model named for JPEG input runs as named (the clean model sharpens JPEG's
    ringing with the strokes): say once, when its family has a real-photo variant at the
    scale, how to use it."""
    from srup.models.weights import split_name
    from srup.models.denoise import family

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


def _size_text(sizing) -> str:
    if sizing.scale is not None:
        return f"×{sizing.scale:g}"
    size = f"{sizing.width or '?'}×{sizing.height or '?'}"
    return f"to {size}" + (f" ({sizing.fit})" if sizing.width and sizing.height else "")


def _degradation(value: str) -> str:
    """A degradation spec, checked here so that a bad one is a usage error."""
    from srup.data.degrade import parse

    try:
        return parse(value).spec()
    except SrupError as e:
        raise click.BadParameter(str(e), param_hint="--degradation") from None


def _tile(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        tile = int(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: give a number of pixels, 0 or auto", param_hint="--tile"
        ) from None
    if tile < 0:
        raise click.BadParameter("tile size cannot be negative", param_hint="--tile")
    if 0 < tile < MIN_TILE:
        # Each tile also reads the network's receptive radius (up to 9 px) on every side,
        # and srup.runtime.tilers.plan widens every read to 32 px anyway: smaller tiles only
        # multiply the tiles (--tile 1 would turn a photo into an hour of work).
        raise click.BadParameter(
            f"{tile}: tiles are at least {MIN_TILE} pixels (0 = whole image, auto = by memory)",
            param_hint="--tile",
        )
    return tile


def _shard(_ctx: click.Context, _param: click.Parameter, value: str | None):
    """``--shard K/N`` as ``(K, N)``: whole numbers, ``1 <= K <= N``."""
    if value is None:
        return None
    match = re.fullmatch(r"([0-9]+)/([0-9]+)", value.strip())
    if match is None or int(match[2]) < 1:
        raise click.BadParameter(f"{value!r}: give K/N, such as 2/8 (N at least 1)")
    k, n = int(match[1]), int(match[2])
    if not 1 <= k <= n:
        raise click.BadParameter(f"{value!r}: K goes from 1 to N ({n})")
    return k, n


def _denoise(_ctx: click.Context, _param: click.Parameter, value: str) -> str | float:
    """``--denoise``: ``auto`` or a number from 0 to 1."""
    if value.strip().lower() == "auto":
        return "auto"
    try:
        number = float(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: give auto or a number from 0 to 1") from None
    if not 0.0 <= number <= 1.0:  # NaN fails this too
        raise click.BadParameter(f"{value!r}: give auto or a number from 0 to 1")
    return number + 0.0  # -0 is 0


def _engine_options(f, precision: str = "auto"):
    from srup.devices import PRECISIONS

    f = click.option(
        "--precision",
        default=precision,
        show_default=True,
        type=click.Choice(PRECISIONS),
        help="Arithmetic precision of the network (auto: fp32 on CPUs, where it is exact and "
        "tile-independent; fp16 on GPUs).",
    )(f)
    f = click.option(
        "--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps."
    )(f)
    f = click.option(
        "--tile",
        default="auto",
        show_default=True,
        help=f"Input tile side in pixels (at least {MIN_TILE}); 0 = whole image; "
        "auto = memory budget.",
    )(f)
    return f


def _weights_scale(weights: Path | None) -> float | None:
    """The scale a ``--weights`` file's header names: the default ``-s`` with it. None
    without weights or when the header does not say (loading then reports what is wrong)."""
    if weights is None:
        return None
    from srup.errors import BadWeightsError
    from srup.models.weights import read_weights_header

    try:
        scale = read_weights_header(weights).scale
    except BadWeightsError:
        return None
    return float(scale) if scale else None


def _background(value: str) -> tuple[int, int, int]:
    """``--background``: a colour name or #rrggbb (Pillow's ImageColor) → RGB 0–255."""
    from PIL import ImageColor

    try:
        rgb = ImageColor.getrgb(value.strip())
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: give a colour name (white, black, gray, ...) or #rrggbb",
            param_hint="--background",
        ) from None
    if len(rgb) == 4 and rgb[3] != 255:
        raise click.BadParameter(
            f"{value!r}: a background is opaque; give #rrggbb", param_hint="--background"
        )
    return rgb[0], rgb[1], rgb[2]


class ByteSize(click.ParamType):
    """A size in bytes: a number with an optional K, M, G or T (powers of 1024, an optional
    B or iB after it): ``8G``, ``512MiB``, ``1.5g``, ``0``."""

    name = "size"
    _UNITS: ClassVar[dict[str, int]] = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().upper().removesuffix("IB").removesuffix("B")
        unit = text[-1:] if text[-1:] in self._UNITS else ""
        number = text[: len(text) - len(unit)].strip()
        try:
            size = float(number) * self._UNITS[unit]
        except ValueError:
            self.fail(f"{value!r}: give a size such as 8G, 512M or 0 (no limit)", param, ctx)
        if not size >= 0 or size == float("inf"):
            self.fail(f"{value!r}: a size is a positive number", param, ctx)
        return int(size)


# ---------------------------------------------------------------------------------- upscale


@cli.command()
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
@click.option("--weights", type=click.Path(path_type=Path), help="A .safetensors file to use.")
@click.option(
    "--denoise",
    default="auto",
    show_default=True,
    callback=_denoise,
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
@_engine_options
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
    callback=_shard,
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
    type=ByteSize(),
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
@_debug_option
def upscale(
    inputs,
    scale,
    width,
    height,
    fit,
    output,
    model,
    weights,
    denoise,
    tile,
    device,
    precision,
    fmt,
    quality,
    recursive,
    overwrite,
    skip_existing,
    shard,
    max_pixels,
    max_memory,
    background,
    reference,
    codec,
    crf,
    preset,
    start,
    end,
    frame_count,
    frames_to,
    as_json,
    quiet,
) -> int:
    """Upscale images, videos or folders of them.

    \b
      srup upscale board.jpg -s 3 -o board_x3.png
      srup upscale photos/ -s 2 -o photos_x2/ --recursive
      srup upscale clip.mp4 -s 2 -o clip_x2.mp4      (pip install 'srup[video]')

    A file that fails is one line on stderr (and its --json record); the batch goes on
    and exits 3. Inputs that are not regular files, and pictures over --max-pixels or
    --max-memory, are refused before they are decoded.
    """
    with _startup():
        from PIL import Image

        from srup import batch
        from srup.cli.display import BatchDisplay
        from srup.media import pictures as imageio
        from srup.runtime.allocator import keep_freed_memory

    if overwrite and skip_existing:
        raise click.UsageError("--overwrite and --skip-existing exclude each other")
    if start is not None and end is not None and end <= start:
        raise click.UsageError("--end must come after --start")
    fit_source = click.get_current_context().get_parameter_source("fit")
    if fit_source not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP) and not (
        width and height
    ):
        raise click.UsageError(
            f"--fit {fit} needs both --width and --height (the box a picture is fitted to)"
        )
    if reference is not None and not reference.exists():
        raise click.BadParameter(f"{reference}: no such file or folder", param_hint="--reference")
    fill = _background(background)
    if codec is not None:
        from srup.media.video import check_codec

        check_codec(codec)
    tile_px = _tile(tile)
    # Process-wide settings belong to the program, not to the library: srup applies its own
    # --max-pixels, and keeps freed memory for the next tile (see srup.runtime.allocator).
    Image.MAX_IMAGE_PIXELS = None
    keep_freed_memory()
    from srup.imaging.sizing import Sizing

    if scale is None and width is None and height is None:
        scale = _weights_scale(weights) or 3.0
    sizing = Sizing(scale, width, height, fit)
    if reference is not None and sizing.integer_scale is None:
        raise click.UsageError("--reference needs a whole-number --scale")
    out_path = Path(output) if output is not None else None
    the_plan = batch.plan(
        list(inputs),
        out_path,
        _name_tag(sizing),
        FORMAT_NAMES[fmt.lower()] if fmt else None,
        recursive,
        output_text=output,
    )
    display = BatchDisplay(quiet=quiet, as_json=as_json, debug=debugging())
    display.check_stdout()  # closed at start (`>&-`): stop before any work
    # Every record has the same keys: null where the engine was never loaded.
    shard_field = {"shard": f"{shard[0]}/{shard[1]}"} if shard else {}
    display.context = {
        "scale": sizing.integer_scale or sizing.scale,
        "device": None,
        "precision": None,
        **shard_field,
    }
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
    from srup.media.video import VideoOptions

    video_options = VideoOptions(codec, crf, preset, start, end, frame_count, frames_to)
    if any(job.fmt == batch.VIDEO for job in the_plan.jobs):
        # SVT-AV1 logs its banner on stderr unless told otherwise (a trial of AV1 is enough).
        os.environ.setdefault("SVT_LOG", "1")
    refused = list(the_plan.refused) if first else []
    jobs = _checked_videos(batch, the_plan, video_options, sizing, frames_to, refused)
    if not jobs:
        for res in refused:
            display.result(res)
        display.summary()
        return EXIT_PARTIAL if display.failed else EXIT_OK
    from srup.runtime.auto import Engine

    up = Engine(sizing, model, weights, denoise, device=device, tile=tile_px, precision=precision)
    display.context = {
        "scale": sizing.integer_scale or sizing.scale,
        "device": str(up.device),
        "precision": up.precision,
        **shard_field,
    }
    for res in refused:  # after the engine: their records name the device as the others do
        display.result(res)
    where = f"on {up.device.type}, {up.precision}"
    display.start(len(jobs), f"{up.name} {_size_text(sizing)} {where}")
    denoise_source = click.get_current_context().get_parameter_source("denoise")
    if denoise == "auto" and denoise_source == ParameterSource.COMMANDLINE:
        # Asked for, and nothing to choose among: said once, not per file.
        if weights is not None:
            display.note("--denoise auto: a --weights file is one weight set; it runs as it is")
        elif model != "auto":
            display.note(f"--denoise auto chooses per file with -m auto only: {model} as named")
    elif denoise == "auto" and model != "auto" and weights is None:
        _hint_variants_for_jpeg(display, model, sizing.integer_scale, jobs)
    for text in up.new_notes():  # a strength that runs as another: said once per run
        display.note(text)
    results = batch.run_jobs(
        up,
        jobs,
        video=video_options,
        overwrite=overwrite,
        skip_existing=skip_existing,
        quality=quality,
        max_pixels=max_pixels or imageio.DEFAULT_MAX_PIXELS,
        max_memory=batch.default_max_memory() if max_memory is None else (max_memory or None),
        background=fill,
        reference=reference,
        reference_scale=sizing.integer_scale,
        progress_for=lambda job: display.file(job.src),
    )
    for res in results:
        for text in up.new_notes():  # once per run, as it first arises, not per file
            display.note(text)
        display.result(res)
    display.summary()
    return EXIT_PARTIAL if display.failed or display.partial else EXIT_OK


def _checked_videos(batch, the_plan, video_options, sizing, frames_to, refused: list) -> list:
    """The plan's jobs less the videos that cannot be written as asked (a codec the
    container refuses, an odd typed --width), checked before any work. When the command's
    one input is that video, its :class:`UsageError` ends the command (exit 2); in a batch it
    is that video's failure, added to ``refused``, and the other inputs are done."""
    if frames_to is not None:
        return list(the_plan.jobs)
    from srup.media.video import check_output

    jobs = []
    for job in the_plan.jobs:
        if job.fmt == batch.VIDEO:
            try:
                check_output(job.src, job.dst, video_options, sizing)
            except SrupError as e:
                if the_plan.single:
                    raise
                text = str(e) if str(job.src) in str(e) else f"{job.src}: {e}"
                refused.append(batch.Result(str(job.src), str(job.dst), "failed", text))
                continue
        jobs.append(job)
    return jobs


# ----------------------------------------------------------------------------------- models


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@_debug_option
def models(as_json: bool) -> None:
    """List the models, their shipped scales, cost and recorded quality."""
    from srup.cli.display import stdout_guard
    from srup.models.catalog import catalog

    rows = catalog()
    with stdout_guard():
        if as_json:
            click.echo(json.dumps(rows, indent=2))
            return
        from srup.cli.display import models_table

        models_table(rows)


# -------------------------------------------------------------------------------- benchmark


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-s", "--scale", "scales", default="2,3,4", show_default=True, help="Comma-separated scales."
)
@click.option(
    "-m",
    "--model",
    "model_names",
    default="all",
    show_default=True,
    help="Comma-separated model names; all: the clean models; real: the real-photo "
    "variants; bicubic: bicubic alone (it is always included).",
)
@click.option(
    "--degradation",
    default="clean",
    show_default=True,
    help="Degrade the LR before upscaling: clean (the protocol), real, or a spec such as "
    "clean,jpeg=75 (one fixed draw per image).",
)
@click.option(
    "--jpeg",
    type=click.IntRange(1, 100),
    help="Shorthand: JPEG-compress the LR at this quality (adds jpeg=Q to --degradation).",
)
@click.option(
    "--weights",
    type=click.Path(path_type=Path),
    multiple=True,
    help="Extra .safetensors files to score (their header names model and scale).",
)
@functools.partial(_engine_options, precision="fp32")  # exact published protocol
@click.option("--json", "json_file", type=click.Path(path_type=Path), help="Write results JSON.")
@click.option("--csv", "csv_file", type=click.Path(path_type=Path), help="Write results CSV.")
@click.option(
    "--save-images",
    type=click.Path(path_type=Path),
    help="Folder for side-by-side comparison pictures.",
)
@click.option("--per-image", is_flag=True, help="Also print a row per image.")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an existing --json or --csv file, or pictures in --save-images.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
@_debug_option
def benchmark(
    paths,
    scales,
    model_names,
    degradation,
    jpeg,
    weights,
    tile,
    device,
    precision,
    json_file,
    csv_file,
    save_images,
    per_image,
    overwrite,
    quiet,
) -> None:
    """Score models on data sets by the standard SR protocol (Y, shave = scale).

    PATH is a folder of HR images or NAME/ with HR/ and LR_bicubic/X{s}/.
    """
    from srup.errors import OutputError
    from srup.evaluation.run import BenchmarkRun, check_output_file, saved_images_present

    # What would be replaced is refused before any work (an hour's benchmark, then no file).
    for report_file in (json_file, csv_file):
        if report_file is not None:
            check_output_file(report_file, overwrite)
    if save_images is not None:
        if save_images.exists() and not save_images.is_dir():
            raise OutputError(f"--save-images {save_images}: exists and is not a folder")
        there = (
            None if overwrite else saved_images_present(save_images, list(paths), _scales(scales))
        )
        if there is not None:
            raise OutputError(f"{there}: exists; use --overwrite to replace it")
    if jpeg is not None:
        degradation = f"{degradation},jpeg={jpeg}:{jpeg}"
    run = BenchmarkRun(
        degradation=_degradation(degradation),
        paths=list(paths),
        scales=_scales(scales),
        models=model_names,
        weights=list(weights),
        device=device,
        tile=_tile(tile),
        precision=precision,
        save_images=save_images,
        overwrite=overwrite,
        quiet=quiet,
    )
    result = run.execute()
    from srup.cli.display import benchmark_tables, stderr_note, stdout_guard

    with stdout_guard():
        benchmark_tables(result, per_image=per_image)
    for note in result.notes:
        stderr_note(note)
    if json_file:
        result.write_json(json_file, overwrite=overwrite)
    if csv_file:
        result.write_csv(csv_file, overwrite=overwrite)


# ----------------------------------------------------------------------------------- export


@cli.command()
@click.option(
    "--onnx",
    "onnx_file",
    type=click.Path(path_type=Path),
    required=True,
    help="The .onnx file to write.",
)
@click.option("-m", "--model", default="auto", show_default=True, help="Model name.")
@click.option("-s", "--scale", type=click.IntRange(2, 8), default=3, show_default=True)
@click.option("--weights", type=click.Path(path_type=Path), help="A .safetensors file to use.")
@click.option(
    "--form",
    type=click.Choice(ONNX_FORMS),
    default="rgb",
    show_default=True,
    help="rgb: the whole pipeline, RGB in and out; y: the network on luma (OpenCV dnn_superres).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing file.")
@_debug_option
def export(onnx_file, model, scale, weights, form, overwrite) -> None:
    """Export a model to ONNX with dynamic batch, height and width.

    \b
      srup export --onnx espcn_x3.onnx -m espcn -s 3
    """
    from srup import load as load_upscaler
    from srup.errors import UsageError
    from srup.runtime.onnx import export_onnx

    if onnx_file.suffix.lower() != ".onnx":  # before anything is loaded or installed
        raise UsageError(f"--onnx {onnx_file}: give the ONNX file an .onnx extension")
    from srup.evaluation.run import check_output_file

    check_output_file(onnx_file, overwrite)  # exists, not a file, or under a file
    up = load_upscaler(
        model=model, scale=scale, device="cpu", weights=weights, tile=0, precision="fp32"
    )
    path = export_onnx(up, onnx_file, form=form)
    shape = "(N, 3, H, W) RGB" if form == "rgb" else "(N, 1, H, W) Y"
    click.echo(f"wrote {path}: {up.name} ×{scale}, input {shape} float32 in [0, 1]")


# ------------------------------------------------------------------------------------ train


@cli.command()
@click.argument("data", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-m", "--model", required=True, help="Architecture to train (see `srup models`).")
@click.option("-s", "--scale", type=click.IntRange(2, 8), required=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="The .safetensors file to write (best validation weights).",
)
@click.option("--val", type=click.Path(path_type=Path), help="Validation set (e.g. Set5).")
@click.option("--epochs", type=click.IntRange(1), default=100, show_default=True)
@click.option("--max-steps", type=click.IntRange(1), help="Stop after this many steps.")
@click.option("--batch-size", type=click.IntRange(1), default=32, show_default=True)
@click.option(
    "--patch-size",
    type=click.IntRange(4),
    default=24,
    show_default=True,
    help="LR patch side in pixels.",
)
@click.option(
    "--lr",
    type=click.FloatRange(min=0, min_open=True),
    default=1e-3,
    show_default=True,
    help="Peak learning rate (cosine decay).",
)
@click.option(
    "--loss",
    type=click.Choice(["l1", "mse"]),
    default="l1",
    show_default=True,
    help="Pixel loss; mse optimises PSNR directly (a good last stage).",
)
@click.option(
    "--degradation",
    default="clean",
    show_default=True,
    help="How LR patches are made: clean (MATLAB bicubic, the papers' protocol), real "
    "(blur, noise, JPEG as a phone camera), or a spec like real,jpeg=50:95 (see README).",
)
@click.option(
    "--val-degradation",
    help="How the validation LR is made (default: as --degradation, one fixed draw per "
    "image); e.g. phone for the fixed phone photo.",
)
@click.option(
    "--synthetic-text",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Fraction of patches cut from rendered boards of text (chalk, marker, print).",
)
@click.option("--init", type=click.Path(path_type=Path), help="Start from these weights.")
@click.option("--resume", is_flag=True, help="Continue from OUTPUT.ckpt.safetensors.")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Start afresh, replacing an existing OUTPUT and its checkpoint.",
)
@click.option(
    "--allow-changes",
    is_flag=True,
    help="With --resume: go on although options changed since the checkpoint (listed).",
)
@click.option(
    "--stop-at",
    type=click.IntRange(1),
    help="Leave off after this step: the weights so far and a checkpoint (continue later "
    "with --resume).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(0),
    default=1,
    show_default=True,
    help="Threads preparing batches while the network trains.",
)
@click.option("--device", default="auto", show_default=True)
@click.option(
    "--sampler",
    type=click.Choice(SAMPLERS),
    default="auto",
    show_default=True,
    help="Where batches are cut: host (NumPy, any degradation) or device (on the GPU, "
    "clean LR only); auto: device on a GPU when the data is clean.",
)
@click.option(
    "--checkpoint-minutes",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
)
@click.option(
    "--input",
    "input_space",
    type=click.Choice(["y", "rgb"]),
    default="y",
    show_default=True,
    help="What the network reads: y (BT.601 luma; chroma by bicubic, as the papers) or "
    "rgb (all three channels in and out; espcn and espcn7).",
)
@click.option("-q", "--quiet", is_flag=True)
@_debug_option
def train(
    data,
    model,
    scale,
    output,
    val,
    epochs,
    max_steps,
    batch_size,
    patch_size,
    lr,
    loss,
    degradation,
    val_degradation,
    synthetic_text,
    init,
    resume,
    overwrite,
    allow_changes,
    stop_at,
    seed,
    workers,
    device,
    sampler,
    checkpoint_minutes,
    input_space,
    quiet,
) -> None:
    """Train a model on folders of HR images.

    \b
      srup train T91/ BSD200/ -m espcn -s 3 -o espcn_x3.safetensors --val Set5/

    An existing OUTPUT or checkpoint is replaced only with --overwrite. --resume continues
    the run in OUTPUT.ckpt.safetensors and refuses options that changed since (listed)
    unless --allow-changes. Ctrl-C, SIGTERM and errors save a checkpoint first.
    """
    from srup.cli.display import TrainDisplay
    from srup.training.loop import TrainConfig
    from srup.training.loop import train as run_training

    cfg = TrainConfig(
        model=model,
        scale=scale,
        data=[str(d) for d in data],
        output=str(output),
        val=str(val) if val else None,
        epochs=epochs,
        max_steps=max_steps,
        batch_size=batch_size,
        patch_size=patch_size,
        lr=lr,
        loss=loss,
        degradation=_degradation(degradation),
        val_degradation=_degradation(val_degradation) if val_degradation else None,
        synthetic_text=synthetic_text,
        init=str(init) if init else None,
        resume=resume,
        overwrite=overwrite,
        allow_changes=allow_changes,
        stop_at=stop_at,
        seed=seed,
        workers=workers,
        device=device,
        sampler=sampler,
        checkpoint_minutes=checkpoint_minutes,
        input_space=input_space.upper(),
    )
    with TrainDisplay(quiet=quiet) as display:
        summary = run_training(cfg, progress=display.update)
    for note in summary.get("notes") or []:
        click.echo(f"note: {note}", err=True)
    if summary.get("stopped"):
        weights = f"weights so far in {summary['output']}, " if summary.get("output") else ""
        click.echo(
            f"stopped at step {summary['step']}: {weights}checkpoint {summary['checkpoint']}; "
            "continue with --resume"
        )
    elif summary.get("output"):
        psnr = summary.get("val_psnr")
        tail = f", validation PSNR {psnr:.3f} dB" if psnr else ""
        click.echo(
            f"wrote {summary['output']} ({summary['step']} steps, {summary['seconds']:.0f} s{tail})"
        )

"""``srup benchmark``: score models on data sets by the standard SR protocol; the scoring
itself is :mod:`srup.evaluation.run`, the tables :mod:`srup.cli.display`."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from srup.cli import options as opt
from srup.cli.options import debug_option, engine_options

__all__ = ["BenchmarkOptions", "benchmark"]


@dataclass(frozen=True)
class BenchmarkOptions:
    """``srup benchmark``'s arguments as Click parsed them."""

    paths: tuple[Path, ...]
    scales: str
    model_names: str
    degradation: str
    jpeg: int | None
    weights: tuple[Path, ...]
    tile: str
    device: str
    precision: str
    json_file: Path | None
    csv_file: Path | None
    save_images: Path | None
    per_image: bool
    overwrite: bool
    quiet: bool


def report_path(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """A report's file name; one that starts with ``-`` is an option taken as the value
    (``srup benchmark Set5 --json -q``: upscale's ``--json`` is a flag, benchmark's takes a
    file), refused rather than written to a file named ``-q``."""
    if value is not None and str(value).startswith("-"):
        raise click.BadParameter(
            f"{value} looks like an option, not a file name; benchmark's --json and --csv "
            "take the file to write (e.g. --json results.json)",
            ctx=ctx,
            param=param,
        )
    return value


def report_option(kind: str):  # type: ignore[no-untyped-def]
    """``--json FILE`` or ``--csv FILE``: where the results go, as ``kind``."""
    return click.option(
        f"--{kind}",
        f"{kind}_file",
        type=click.Path(path_type=Path),
        callback=report_path,
        help=f"Write results {kind.upper()} to this file.",
    )


@click.command()
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
    help="Extra weights files to score at their scale: srup's .safetensors, or another "
    "project's .pth/.ckpt/.safetensors (the models extra).",
)
@functools.partial(engine_options, precision="fp32")  # exact published protocol
@report_option("json")
@report_option("csv")
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
@debug_option
def benchmark(**options: Any) -> None:
    """Score models on data sets by the standard SR protocol (Y, shave = scale).

    PATH is a folder of HR images or NAME/ with HR/ and LR_bicubic/X{s}/.
    """
    o = BenchmarkOptions(**options)
    _refuse_replacing(o)
    result = _run(o).execute()
    _report(o, result)


def _refuse_replacing(o: BenchmarkOptions) -> None:
    """What would be replaced is refused before any work (an hour's benchmark, then no file)."""
    from srup.errors import OutputError
    from srup.evaluation.run import check_output_file, saved_images_present

    for report_file in (o.json_file, o.csv_file):
        if report_file is not None:
            check_output_file(report_file, o.overwrite)
    if o.save_images is not None:
        if o.save_images.exists() and not o.save_images.is_dir():
            raise OutputError(f"--save-images {o.save_images}: exists and is not a folder")
        there = (
            None
            if o.overwrite
            else saved_images_present(o.save_images, list(o.paths), opt.scales(o.scales))
        )
        if there is not None:
            raise OutputError(f"{there}: exists; use --overwrite to replace it")


def _run(o: BenchmarkOptions):
    """The run the options ask for (:class:`srup.evaluation.run.BenchmarkRun`)."""
    from srup.evaluation.run import BenchmarkRun

    degradation = o.degradation
    if o.jpeg is not None:
        degradation = f"{degradation},jpeg={o.jpeg}:{o.jpeg}"
    return BenchmarkRun(
        degradation=opt.degradation(degradation),
        paths=list(o.paths),
        scales=opt.scales(o.scales),
        models=o.model_names,
        weights=list(o.weights),
        device=o.device,
        tile=opt.tile(o.tile),
        precision=o.precision,
        save_images=o.save_images,
        overwrite=o.overwrite,
        quiet=o.quiet,
    )


def _report(o: BenchmarkOptions, result: Any) -> None:
    """The tables on stdout, notes on stderr, then the --json and --csv files."""
    from srup.cli.display import benchmark_tables, stderr_note, stdout_guard

    with stdout_guard():
        benchmark_tables(result, per_image=o.per_image)
    for note in result.notes:
        stderr_note(note)
    if o.json_file:
        result.write_json(o.json_file, overwrite=o.overwrite)
    if o.csv_file:
        result.write_csv(o.csv_file, overwrite=o.overwrite)

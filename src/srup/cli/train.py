"""``srup train``: train a model on folders of HR images. The options become a
:class:`srup.training.loop.TrainConfig` (its fields are the options, typed); the run is
:func:`srup.training.loop.train`, its progress :class:`srup.cli.display.TrainDisplay`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from srup.choices import SAMPLERS
from srup.cli import options as opt
from srup.cli.options import debug_option

if TYPE_CHECKING:
    from srup.training.loop import TrainSummary

__all__ = ["train"]


@click.command()
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
    "(blur, noise, JPEG as a phone camera), or a spec like real,jpeg=50:95 (see docs/training.md).",
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
@debug_option
def train(quiet: bool, **options: Any) -> None:
    """Train a model on folders of HR images.

    \b
      srup train T91/ BSD200/ -m espcn -s 3 -o espcn_x3.safetensors --val Set5/

    An existing OUTPUT or checkpoint is replaced only with --overwrite. --resume continues
    the run in OUTPUT.ckpt.safetensors and refuses options that changed since (listed)
    unless --allow-changes. Ctrl-C, SIGTERM and errors save a checkpoint first.
    """
    degradation = opt.degradation(options.pop("degradation"))
    val_degradation = options.pop("val_degradation")
    val_degradation = opt.degradation(val_degradation) if val_degradation else None
    from srup.cli.display import TrainDisplay
    from srup.training.loop import train as run_training

    cfg = _config(options, degradation, val_degradation)
    with TrainDisplay(quiet=quiet) as display:
        summary = run_training(cfg, progress=display.update)
    _report(summary)


def _config(o: dict[str, Any], degradation: str, val_degradation: str | None):
    """The :class:`~srup.training.loop.TrainConfig` of the options (paths as text, the
    degradations as parsed, the input space in capitals)."""
    from srup.training.loop import TrainConfig

    return TrainConfig(
        model=o["model"],
        scale=o["scale"],
        data=[str(d) for d in o["data"]],
        output=str(o["output"]),
        val=str(o["val"]) if o["val"] else None,
        epochs=o["epochs"],
        max_steps=o["max_steps"],
        batch_size=o["batch_size"],
        patch_size=o["patch_size"],
        lr=o["lr"],
        loss=o["loss"],
        degradation=degradation,
        val_degradation=val_degradation,
        synthetic_text=o["synthetic_text"],
        init=str(o["init"]) if o["init"] else None,
        resume=o["resume"],
        overwrite=o["overwrite"],
        allow_changes=o["allow_changes"],
        stop_at=o["stop_at"],
        seed=o["seed"],
        workers=o["workers"],
        device=o["device"],
        sampler=o["sampler"],
        checkpoint_minutes=o["checkpoint_minutes"],
        input_space=o["input_space"].upper(),
    )


def _report(summary: TrainSummary) -> None:
    """Notes on stderr, then one line on stdout: where the weights are, or where the run
    left off."""
    for note in summary.notes:
        click.echo(f"note: {note}", err=True)
    if summary.stopped:
        weights = f"weights so far in {summary.output}, " if summary.output else ""
        click.echo(
            f"stopped at step {summary.step}: {weights}checkpoint {summary.checkpoint}; "
            "continue with --resume"
        )
    elif summary.output:
        psnr = summary.val_psnr
        tail = f", validation PSNR {psnr:.3f} dB" if psnr else ""
        click.echo(f"wrote {summary.output} ({summary.step} steps, {summary.seconds:.0f} s{tail})")

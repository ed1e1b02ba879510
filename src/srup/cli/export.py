"""``srup export``: a model to ONNX with dynamic batch, height and width."""

from __future__ import annotations

from pathlib import Path

import click

from srup.choices import ONNX_FORMS
from srup.cli.options import debug_option
from srup.errors import UsageError

__all__ = ["export"]


@click.command()
@click.option(
    "--onnx",
    "onnx_file",
    type=click.Path(path_type=Path),
    required=True,
    help="The .onnx file to write.",
)
@click.option("-m", "--model", default="auto", show_default=True, help="Model name.")
@click.option(
    "-s",
    "--scale",
    type=click.IntRange(2, 8),
    default=None,
    help="The network's scale [default: a --weights file's own, else 3].",
)
@click.option("--weights", type=click.Path(path_type=Path), help="A .safetensors file to use.")
@click.option(
    "--form",
    type=click.Choice(ONNX_FORMS),
    default="rgb",
    show_default=True,
    help="rgb: the whole pipeline, RGB in and out; y: the network on luma (OpenCV dnn_superres).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing file.")
@debug_option
def export(onnx_file, model, scale, weights, form, overwrite) -> None:
    """Export a model to ONNX with dynamic batch, height and width.

    \b
      srup export --onnx espcn_x3.onnx -m espcn -s 3
    """
    if onnx_file.suffix.lower() != ".onnx":  # before anything is loaded or installed
        raise UsageError(f"--onnx {onnx_file}: give the ONNX file an .onnx extension")
    from srup import load as load_upscaler
    from srup.evaluation.run import check_output_file
    from srup.runtime.onnx import export_onnx

    check_output_file(onnx_file, overwrite)  # exists, not a file, or under a file
    up = load_upscaler(
        model=model, scale=scale, device="cpu", weights=weights, tile=0, precision="fp32"
    )
    path = export_onnx(up, onnx_file, form=form)
    shape = "(N, 3, H, W) RGB" if form == "rgb" else "(N, 1, H, W) Y"
    click.echo(f"wrote {path}: {up.name} ×{up.scale}, input {shape} float32 in [0, 1]")

"""Export an Upscaler's network to ONNX, with dynamic batch, height and width.

Two forms. ``rgb`` (the default) is the whole srup pipeline: ``(N, 3, H, W)`` RGB in [0, 1]
→ ``(N, 3, H*s, W*s)`` RGB in [0, 1], with the same symmetric border padding, colour
conversion and bicubic chroma as ``srup upscale``; round ×255 and it is srup's output.
``y`` is the network alone on BT.601 luma, ``(N, 1, H, W)`` → ``(N, 1, H*s, W*s)``, the
convention of OpenCV's dnn_superres (Cb/Cr are then upsampled by the caller).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from srup import arguments
from srup._moved import names_moved_from
from srup.choices import ONNX_FORMS
from srup.errors import ExportError, InvalidArgument, InvalidArgumentType, OutputError
from srup.files import write_file
from srup.models.layers import set_form, symmetric_pad
from srup.runtime.color_pipeline import ColorPipeline
from srup.runtime.upscaler import Upscaler

__all__ = ["export_module", "export_onnx"]

OPSET = 18


class _Bordered(nn.Module):
    """Pads symmetrically by the receptive radius, runs ``inner``, crops back: borders see
    mirrored pixels rather than the convolutions' zeros, exactly as the tiler arranges."""

    def __init__(self, inner: nn.Module, pad: int, scale: int, clamp: bool) -> None:
        super().__init__()
        self.inner, self.pad, self.scale, self.clamp = inner, pad, scale, clamp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.inner(symmetric_pad(x, self.pad, symbolic=True))
        q = self.pad * self.scale
        out = out[:, :, q : out.shape[2] - q, q : out.shape[3] - q]
        return out.clamp(0, 1) if self.clamp else out


def export_module(up: Upscaler, form: str = "rgb") -> nn.Module:
    """The float32, NCHW module that :func:`export_onnx` writes (also handy for tests).
    Arguments and errors as :func:`export_onnx`."""
    if not isinstance(up, Upscaler):
        raise InvalidArgumentType(
            f"up must be an Upscaler (from srup.load), got {type(up).__name__}"
        )
    arguments.choice("form", form, ONNX_FORMS)
    if up.descriptor.foreign:
        # Their forward passes branch on sizes in Python (padding to a multiple, windows),
        # which a trace would fix to the probe's size and batch.
        raise ExportError(
            f"{up.name}: srup exports its own networks only; another project's network "
            "traces to one fixed size (export it with that project's tools)"
        )
    if form == "y" and up.descriptor.channels != 1:
        raise InvalidArgument(f"{up.name} reads RGB, not luma: export it with --form rgb")
    # The weights' own export form, not the one tuned for a tiler.
    net = up.descriptor.build("export").to(memory_format=torch.contiguous_format)
    inner: nn.Module = ColorPipeline(net, up.scale) if form == "rgb" else net
    set_form(inner, "export")
    module = _Bordered(inner, up.overlap, up.scale, clamp=form == "rgb").eval()
    return module.requires_grad_(False)


@contextlib.contextmanager
def _export_errors():
    try:
        yield
    except Exception as e:  # the exporter's many error types: one line for the user
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        major, minor = (int(p) for p in torch.__version__.split(".")[:2])
        hint = "; it needs torch 2.7 or newer" if (major, minor) < (2, 7) else ""
        raise ExportError(f"ONNX export failed ({type(e).__name__}: {first}){hint}") from None


def export_onnx(up: Upscaler, path: str | os.PathLike[str], form: str = "rgb") -> Path:
    """Write ``up``'s network as ONNX (opset 18) to ``path``, atomically; returns the path.

    The graph's input is float32 ``(N, C, H, W)`` in [0, 1] with N, H and W dynamic (any
    batch, any size ≥ 1): C = 3 for ``form="rgb"``, 1 for ``"y"``.

    Raises :class:`~srup.errors.InvalidArgumentType` when ``up`` is not an
    :class:`~srup.runtime.upscaler.Upscaler` or ``path`` not a path;
    :class:`~srup.errors.InvalidArgument` for a ``path`` not ending in ``.onnx`` or a
    ``form`` other than rgb and y (and y for a network that reads RGB);
    :class:`~srup.errors.ExportError` when onnx/onnxscript are missing or the exporter fails;
    :class:`~srup.errors.OutputError` when the file cannot be written."""
    # What the user asked is checked before what is installed: a wrong form or file name
    # is worth knowing before installing anything.
    path = arguments.path("path", path)
    if path.suffix.lower() != ".onnx":
        raise InvalidArgument(f"{path}: give the ONNX file an .onnx extension")
    module = export_module(up, form)
    try:
        import onnx
        import onnxscript  # noqa: F401  (torch's exporter needs it)
    except ImportError:
        raise ExportError(
            "ONNX export needs the onnx and onnxscript packages: pip install 'srup[onnx]'"
        ) from None

    program = _trace(module, form)
    model = program.model_proto
    onnx.helper.set_model_props(model, _properties(up, form))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a file where a folder should be (FileExistsError), permissions
        raise OutputError(f"{path}: cannot create its folder ({e.strerror or e})") from None
    blob = model.SerializeToString()
    write_file(path, lambda f: f.write(blob))
    return path


def _properties(up: Upscaler, form: str) -> dict[str, str]:
    """The ONNX model's properties: what srup wrote, and what the weights record."""
    info = {
        "srup_model": up.name,
        "srup_scale": str(up.scale),
        "srup_form": form,
        "srup_input": "float32 NCHW in [0, 1]; RGB" if form == "rgb" else "BT.601 Y in [0, 1]",
    }
    for key in ("set5_psnr", "steps", "data"):
        if key in up.metadata:
            info[f"srup_{key}"] = up.metadata[key]
    return info


def _trace(module: nn.Module, form: str) -> torch.onnx.ONNXProgram:
    """``module`` exported by torch's dynamo exporter, with dynamic batch, height and width,
    quietly: the exporter reports its steps on stdout and logs about optional packages, and
    the CLI's output stays for what the user asked."""
    channels = 3 if form == "rgb" else 1
    # A batch of 2 in the example: the exporter takes a dimension of 1 for a constant
    # (0/1 specialisation), and the graph would then refuse any other batch size.
    example = torch.rand(2, channels, 40, 48)
    dims = {
        0: torch.export.Dim("batch", min=1),
        2: torch.export.Dim("height", min=1),
        3: torch.export.Dim("width", min=1),
    }
    quiet_log = logging.getLogger("torch.onnx")
    level = quiet_log.level
    quiet_log.setLevel(logging.ERROR)
    try:
        with (
            _export_errors(),
            contextlib.redirect_stdout(io.StringIO()),
            warnings.catch_warnings(),
            torch.inference_mode(False),
        ):
            warnings.simplefilter("ignore")
            return torch.onnx.export(
                module,
                (example,),
                dynamo=True,
                input_names=["rgb" if form == "rgb" else "y"],
                output_names=["rgb_sr" if form == "rgb" else "y_sr"],
                dynamic_shapes={"x": dims},
                opset_version=OPSET,
            )
    finally:
        quiet_log.setLevel(level)


# Names that lived here before 0.2.0 (old users import them through srup._moved's aliases).
__getattr__ = names_moved_from(
    __name__,
    "srup.export",
    {"FORMS": ("srup.choices", "ONNX_FORMS")},
)

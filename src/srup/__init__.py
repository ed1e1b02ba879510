"""srup: image super-resolution with small convolutional networks.

The public API::

    import srup
    up = srup.load(scale=3)            # best fast shipped model for ×3
    big = up.upscale(PIL.Image.open("board.jpg"))
    srup.psnr(sr, hr, crop_border=3)   # Y-channel PSNR as SR papers report it
    srup.describe("espcn", 3)          # what a weight set is, without building it
    srup.export_onnx(up, "up.onnx")    # (N, 3, H, W) RGB in [0, 1], N, H, W dynamic

Heavy modules (torch) load on first use, so ``import srup`` is cheap.

Every function checks its arguments and raises srup's errors (:mod:`srup.errors`), never an
AttributeError or ZeroDivisionError from deep inside: ``InvalidArgumentType`` (also a
TypeError) for a wrong type, dtype or shape, ``InvalidArgument`` (also a ValueError) for a
value out of range; each docstring lists what it raises.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from srup import _moved

__version__ = "0.2.0"

__all__ = [
    "SrupError",
    "Upscaler",
    "__version__",
    "describe",
    "export_onnx",
    "imresize",
    "load",
    "mse",
    "psnr",
    "ssim",
]

_HOME = {
    "load": "runtime.upscaler",
    "Upscaler": "runtime.upscaler",
    "imresize": "imaging.resize",
    "psnr": "imaging.metrics",
    "ssim": "imaging.metrics",
    "mse": "imaging.metrics",
    "SrupError": "errors",
    "describe": "models.descriptor",
    "export_onnx": "runtime.onnx",
}

_moved.install()

if TYPE_CHECKING:
    from srup.errors import SrupError
    from srup.imaging.metrics import mse, psnr, ssim
    from srup.imaging.resize import imresize
    from srup.models.descriptor import describe
    from srup.runtime.onnx import export_onnx
    from srup.runtime.upscaler import Upscaler, load


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(import_module(f".{_HOME[name]}", __name__), name)
    raise AttributeError(f"module 'srup' has no attribute {name!r}")

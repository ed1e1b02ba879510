"""The model registry: one frozen :class:`ModelSpec` per architecture, one file per model.

Each module in ``srup.models.arch`` defines ``SPEC``; :data:`ARCHITECTURES` lists those
modules explicitly (a new architecture is one file there and one line here). The registry
imports them on first use, so importing srup fills no global state, and a duplicate name is
an error rather than a silent overwrite.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from srup.errors import UnknownModelError

if TYPE_CHECKING:
    from torch import nn

__all__ = ["ModelSpec", "get", "names", "specs"]


@dataclass(frozen=True)
class ModelSpec:
    """What srup knows about an architecture without building it.

    ``build(scale)`` returns a :class:`~srup.models.layers.BicubicResidual` mapping LR Y
    ``(N, 1, H, W)`` in [0, 1] to ``(N, 1, H*scale, W*scale)``. ``receptive_radius(scale)``
    bounds, in LR pixels, how far an input pixel can influence the output: the tiler
    overlaps tiles by at least this much. ``input_spaces``: what the network may read, BT.601
    Y (the colour pipeline carries chroma and alpha by bicubic) and, where offered, RGB
    (:meth:`create`); ``precisions``: those its learned layers may run in.
    """

    name: str
    title: str
    paper: str
    build: Callable[..., nn.Module]
    receptive_radius: Callable[[int], int]
    scales: tuple[int, ...] = (2, 3, 4)
    input_spaces: tuple[str, ...] = ("Y",)
    precisions: tuple[str, ...] = ("fp32", "fp16", "bf16")

    def create(self, scale: int, input_space: str = "Y") -> nn.Module:
        """``build(scale)`` for ``input_space`` Y, or the RGB-in, RGB-out network where the
        architecture offers one."""
        if input_space not in self.input_spaces:
            raise UnknownModelError(
                f"{self.name} reads {' or '.join(self.input_spaces)}, not {input_space}"
            )
        if input_space == "Y":
            return self.build(scale)
        return self.build(scale, channels=3)  # type: ignore[call-arg]

    def overlap(self, scale: int) -> int:
        """The tiles' overlap at ``scale``: the receptive radius, and at least the bicubic
        path's 2 input pixels."""
        return max(self.receptive_radius(scale), 2)

    def parameters(self, scale: int) -> int:
        """Number of trainable parameters at ``scale``."""
        return sum(p.numel() for p in self.build(scale).parameters())

    def macs_per_pixel(self, scale: int, input_space: str = "Y") -> float:
        """Multiply-accumulates per output pixel, counted on a probe input (convolutions,
        transposed convolutions and the fixed bicubic path)."""
        return _count_macs(self.create(scale, input_space), scale)


def _count_macs(module: nn.Module, scale: int, size: int = 24) -> float:
    """Multiply-accumulates per output pixel of ``module`` (a
    :class:`~srup.models.layers.BicubicResidual`) on a ``size``² probe."""
    import torch
    import torch.nn.functional as F
    from torch.overrides import TorchFunctionMode

    # Every convolution the forward pass runs, functional ones (the bicubic path, FSRCNN's
    # sub-pixel form) included. torch's FlopCounterMode would do, but importing it pulls in
    # the compiler stack: a second of start-up for every `srup upscale`.
    conv = {F.conv2d, torch.conv2d}
    transposed = {F.conv_transpose2d, torch.conv_transpose2d}

    class Count(TorchFunctionMode):
        macs = 0

        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            if func in conv or func in transposed:
                x = args[0] if args else kwargs["input"]
                w = args[1] if len(args) > 1 else kwargs["weight"]
                # conv: Cin/g·kh·kw per output value; transposed: Cout/g·kh·kw per input.
                Count.macs += (out if func in conv else x).numel() * w[0].numel()
            return out

    with torch.no_grad(), Count():
        module(torch.zeros(1, module.channels, size, size))
    return Count.macs / (size * scale) ** 2


# The architecture modules under srup.models.arch, each defining SPEC.
ARCHITECTURES: tuple[str, ...] = ("srcnn", "fsrcnn", "espcn", "espcn7")


def _discover() -> dict[str, ModelSpec]:
    found: dict[str, ModelSpec] = {}
    for module in ARCHITECTURES:
        spec = importlib.import_module(f"srup.models.arch.{module}").SPEC
        if spec.name in found:
            raise RuntimeError(f"two models are named {spec.name!r}")
        found[spec.name] = spec
    return found


@lru_cache(maxsize=1)
def _registry() -> dict[str, ModelSpec]:
    return _discover()


def names() -> list[str]:
    """Registered model names, sorted."""
    return sorted(_registry())


def specs() -> list[ModelSpec]:
    """Registered specs, sorted by name."""
    return [_registry()[n] for n in names()]


def get(name: str) -> ModelSpec:
    """The spec called ``name``; :class:`UnknownModelError` lists the known ones."""
    try:
        return _registry()[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown model {name!r}; available: {', '.join(names())}"
        ) from None

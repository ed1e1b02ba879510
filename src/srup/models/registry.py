"""The model registry: one frozen :class:`ModelSpec` per architecture, one file per model.

Each module in ``srup.models`` (other than this one and ``layers``) defines ``SPEC``; the
registry imports them explicitly on first use, so importing srup fills no global state and a
duplicate name is an error rather than a silent overwrite.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from ..errors import UnknownModelError

if TYPE_CHECKING:
    from torch import nn

__all__ = ["ModelSpec", "get", "names", "specs"]


@dataclass(frozen=True)
class ModelSpec:
    """What srup knows about an architecture without building it.

    ``build(scale)`` returns a module mapping LR Y ``(N, 1, H, W)`` in [0, 1] to
    ``(N, 1, H*scale, W*scale)``. ``receptive_radius(scale)`` bounds, in LR pixels, how far
    an input pixel can influence the output: the tiler overlaps tiles by at least this much.
    """

    name: str
    title: str
    paper: str
    build: Callable[[int], nn.Module]
    receptive_radius: Callable[[int], int]
    scales: tuple[int, ...] = (2, 3, 4)

    def parameters(self, scale: int) -> int:
        """Number of trainable parameters at ``scale``."""
        return sum(p.numel() for p in self.build(scale).parameters())

    def macs_per_pixel(self, scale: int) -> float:
        """Multiply-accumulates per output pixel, counted on a probe input (convolutions,
        transposed convolutions and the fixed bicubic path)."""
        return _count_macs(self.build(scale), scale)


def _count_macs(module: nn.Module, scale: int, size: int = 24) -> float:
    import torch
    from torch import nn

    total = 0

    def conv(m: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(m, nn.ConvTranspose2d):
            k = m.kernel_size[0] * m.kernel_size[1]
            total += inputs[0].numel() * m.out_channels * k // m.groups
        elif isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1]
            total += out.numel() * m.in_channels * k // m.groups

    hooks = [m.register_forward_hook(conv) for m in module.modules()]
    try:
        with torch.no_grad():
            module(torch.zeros(1, 1, size, size))
    finally:
        for h in hooks:
            h.remove()
    # Bicubic layers use F.conv2d directly: 25 MACs per output pixel and channel.
    bicubic = sum(1 for m in module.modules() if type(m).__name__ == "BicubicUpsample")
    return total / (size * scale) ** 2 + 25 * bicubic


def _discover() -> dict[str, ModelSpec]:
    from .. import models as package

    found: dict[str, ModelSpec] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name in {"registry", "layers"}:
            continue
        spec = getattr(importlib.import_module(f"{package.__name__}.{info.name}"), "SPEC", None)
        if not isinstance(spec, ModelSpec):
            continue
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

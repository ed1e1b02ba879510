"""How far another project's network sees, measured on its weights, and what tiling it
can therefore be given.

srup's tiles overlap by the network's receptive radius, so a tiled picture equals the
untiled one (:mod:`srup.runtime.tilers.plan`). For srup's own architectures the radius is
computed from their layers; for another project's it is **measured**, not guessed:

- **Reach**: one NaN is put into an otherwise even probe strip and run through the
  network in float32. NaN survives every arithmetic operation (``NaN · 0`` is NaN), so the
  output pixels that come out NaN are exactly those that the input pixel can influence,
  through any path, whatever the weights' values: a structural bound, where a gradient
  would miss paths through a ReLU that happens to be off. When the NaN reaches the probe's
  edge, a probe of :data:`MAX_PROBE` pixels is tried; a reach beyond that is recorded as
  unbounded (global pooling, global attention, or just very deep).
- **Equivariance**: a network whose windows or strides are anchored to the picture's
  corner (windowed attention, U-Nets) computes a pixel differently when the picture is
  cut elsewhere, however wide the overlap. The probe's output is compared with the output
  for the same probe cut 1, 2, 4, … pixels further in, away from the ends: the first shift
  under which it is the same is the network's period, and tiles then start on its grid.

A network with a bounded reach of at most :data:`MAX_EXACT_RADIUS` that is equivariant gets
the **exact** guarantee: overlap = reach, tiled equals untiled. Any other gets the
**bounded** one: an overlap of :data:`BOUNDED_OVERLAP` input pixels (more where its reach
is bounded and wider than that, up to :data:`MAX_EXACT_RADIUS`), with the difference from
an untiled run measured per architecture family (``benchmarks/byo.py``, docs/models.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = [
    "BOUNDED_OVERLAP",
    "MAX_EXACT_RADIUS",
    "MAX_PERIOD",
    "MAX_PROBE",
    "PERIODS",
    "Reach",
    "measure",
    "thickened",
]

MAX_EXACT_RADIUS = 64  # input pixels; beyond it, tiles would be mostly overlap: bounded instead
BOUNDED_OVERLAP = 32
_MARGIN = 2  # a NaN this close to the probe's edge may have been cut off by it
# The larger probe's side: a reach up to MAX_EXACT_RADIUS fits inside it, and a wider one
# needs no number (the tiling is bounded either way).
MAX_PROBE = 2 * (MAX_EXACT_RADIUS + _MARGIN) + 16
MAX_PERIOD = 32  # windows up to this wide: SwinIR's 8, HAT's 16, windows of 32
PERIODS = tuple(2**k for k in range(6))  # 1, 2, 4, … MAX_PERIOD


@dataclass(frozen=True)
class Reach:
    """What was measured: ``radius`` (input pixels an input pixel reaches in the output, the
    widest over the positions of one period; None when beyond :data:`MAX_EXACT_RADIUS` or
    the whole picture) and ``period`` (the shift, in input pixels, under which the network
    computes the same function: 1 for a convolutional network, the window for windowed
    attention; None when none up to :data:`MAX_PERIOD` is). From them: ``guarantee``
    (``exact`` or ``bounded``), ``overlap`` (the tiles' overlap, input pixels) and
    ``alignment`` (the period tiles start on)."""

    radius: int | None
    period: int | None

    @property
    def guarantee(self) -> str:
        bounded = self.radius is None or self.radius > MAX_EXACT_RADIUS or self.period is None
        return "bounded" if bounded else "exact"

    @property
    def overlap(self) -> int:
        if self.guarantee == "exact":
            return max(self.radius or 0, 2)
        return max(BOUNDED_OVERLAP, min(self.radius or 0, MAX_EXACT_RADIUS))

    @property
    def alignment(self) -> int:
        return self.period or 1

    @property
    def why(self) -> str:
        """One line: why this guarantee."""
        if self.guarantee == "exact" and self.period == 1:
            return f"convolutional, receptive radius {self.radius} px: tiled equals untiled"
        if self.guarantee == "exact":
            return (
                f"windows every {self.period} px, reach {self.radius} px: tiles start on the "
                "window grid, tiled equals untiled"
            )
        if self.radius is None:
            return f"reach beyond {MAX_EXACT_RADIUS} px, up to the whole picture: overlap bounded"
        return (
            f"reach {self.radius} px, but not the same function wherever a tile starts: "
            "overlap bounded"
        )


Run = Callable[["torch.Tensor"], "torch.Tensor"]
_STRIP = 8  # the probes' short side: reach along one axis needs no width across it


def _strip(channels: int, length: int, axis: int, fill: object) -> torch.Tensor:
    """A ``_STRIP``-thick probe ``length`` long along ``axis`` (0: rows, 1: columns)."""
    import torch

    shape = (1, channels, length, _STRIP) if axis == 0 else (1, channels, _STRIP, length)
    if callable(fill):
        return fill(shape)
    return torch.full(shape, float(fill))  # type: ignore[arg-type]


def thickened(run: Run, thickness: int) -> Run:
    """``run`` on probes padded across their :data:`_STRIP`-pixel thickness to
    ``thickness`` (edge pixels repeated, the output cropped back), for networks that cannot
    take so thin a picture (SwinIR with 32-pixel windows reflects a 16-pixel side into 32).
    The NaN sits mid-strip, away from the repeated edges, and the reach is read along the
    strip: what is measured is unchanged."""
    import torch.nn.functional as F

    def run_thick(x: torch.Tensor) -> torch.Tensor:
        across = 3 if x.shape[3] == _STRIP else 2
        before = (thickness - _STRIP) // 2
        pads = [0, 0, 0, 0]
        pads[2 * (3 - across) : 2 * (3 - across) + 2] = [before, thickness - _STRIP - before]
        out = run(F.pad(x, pads, mode="replicate"))
        scale = out.shape[across] // thickness
        return out.narrow(across, before * scale, _STRIP * scale)

    return run_thick


def _nan_radius(run: Run, channels: int, scale: int, length: int, phase: int = 0) -> int | None:
    """The reach of input pixel ``c + phase`` (``c`` the probe's middle) along each axis, the
    wider of the two, on strips ``length`` long; None when a NaN touches a strip's end."""
    import torch

    c = length // 2 + phase
    reach = 0
    for axis in (0, 1):
        x = _strip(channels, length, axis, 0.5)
        index = (
            (slice(None), slice(None), c, _STRIP // 2)
            if axis == 0
            else (slice(None), slice(None), _STRIP // 2, c)
        )
        x[index] = float("nan")
        with torch.inference_mode():
            out = run(x)
        along = torch.isnan(out[0]).any(dim=0).any(dim=1 - axis).nonzero()[:, 0] // scale
        if along.numel() == 0:
            continue
        if int(along.min()) < _MARGIN or int(along.max()) >= length - _MARGIN:
            return None
        reach = max(reach, int((along - c).abs().max()))
    return reach


def _equivariant(run: Run, channels: int, scale: int, margin: int, shift: int) -> bool:
    """Whether cutting a probe ``shift`` pixels further in, along each axis, leaves its
    output alone beyond ``margin`` pixels of the cut ends (to float32 rounding)."""
    import torch
    from torch import nn

    length = 2 * margin + 2 * shift + 24
    g = torch.Generator().manual_seed(0)
    for axis in (0, 1):
        base = _strip(channels, length + shift, axis, lambda shape: torch.rand(shape, generator=g))
        # Smooth it a little: a picture-like probe, not a worst case of the weights.
        base = nn.functional.avg_pool2d(base, 3, stride=1, padding=1)
        with torch.inference_mode():
            a = run(base.narrow(2 + axis, 0, length))
            b = run(base.narrow(2 + axis, shift, length))
        inner = a.narrow(2 + axis, (margin + shift) * scale, (length - 2 * margin - shift) * scale)
        moved = b.narrow(2 + axis, margin * scale, (length - 2 * margin - shift) * scale)
        if not torch.allclose(inner, moved, atol=1e-4, rtol=0):
            return False
    return True


def measure(run: Run, channels: int, scale: int, start: int = 64) -> Reach:
    """The :class:`Reach` of ``run`` (``(1, C, h, w)`` → ``(1, C, h·s, w·s)``, float32 on
    the CPU): the reach from ``start``-pixel strips (or :data:`MAX_PROBE` where they touch
    their ends), the period as the first of 1, 2, 4, … :data:`MAX_PERIOD` that holds, and
    the reach again at every position of that period. Each probe is a strip
    :data:`_STRIP` pixels thick along one axis, then the other: a reach along an axis needs
    no more, and it costs a fraction of a square's work."""
    radius = None
    for length in (start, MAX_PROBE):
        radius = _nan_radius(run, channels, scale, length)
        if radius is not None:
            break
    if radius is None or radius > MAX_EXACT_RADIUS:
        return Reach(radius, None)
    period = next((p for p in PERIODS if _equivariant(run, channels, scale, radius + p, p)), None)
    if period is None or period == 1:
        return Reach(radius, period)
    length = 2 * (radius + period + _MARGIN) + 2 * period + 8
    phases = [_nan_radius(run, channels, scale, length, k) for k in range(period)]
    if any(r is None for r in phases):
        return Reach(None, period)
    return Reach(max(r for r in phases if r is not None), period)

"""Output sizes other than the network's own: ``-s 2.5``, ``--width``, ``--height``, ``--fit``.

Pure arithmetic, no pixels: what size a picture should come out at, and which shipped
network scale gets it there. The network runs at the smallest shipped scale that reaches
the wanted size, and an antialiased MATLAB bicubic resize (srup.imaging.resize) makes the
exact size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from srup.errors import UsageError

__all__ = ["FITS", "Sizing", "network_scale"]

FITS = ("contain", "cover", "stretch")
# Any enlargement goes through the network: even at ×1.25 the ×2 network and a downscale
# beat plain bicubic by 3.3 dB on Set5 + Set14 (benchmarks/fractional.py). Only a picture
# that does not grow is resized alone.
MIN_NETWORK_FACTOR = 1.0


@dataclass(frozen=True)
class Sizing:
    """How big each output is: ``scale`` (a real number) or ``width``/``height`` in pixels;
    with both width and height, ``fit`` says what to do with another aspect ratio:
    contain (fit inside, keeping the aspect), cover (fill, keeping the aspect, centre cut
    off) or stretch (exactly that size)."""

    scale: float | None = None
    width: int | None = None
    height: int | None = None
    fit: str = "contain"

    def __post_init__(self) -> None:
        if self.scale is None and self.width is None and self.height is None:
            raise UsageError("give a scale, a width or a height")
        if self.scale is not None and (self.width or self.height):
            raise UsageError("give either a scale or --width/--height, not both")
        if self.scale is not None and not (math.isfinite(self.scale) and self.scale > 0):
            raise UsageError(f"scale must be a positive number, got {self.scale}")
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(f"--{name} must be at least 1, got {value}")
        if self.fit not in FITS:
            raise UsageError(f"--fit must be one of {', '.join(FITS)}, got {self.fit!r}")

    @property
    def integer_scale(self) -> int | None:
        """The scale when it is a whole number and no size is asked: the plain case."""
        if self.scale is not None and float(self.scale).is_integer():
            return int(self.scale)
        return None

    def resized(self, w: int, h: int) -> tuple[int, int]:
        """(width, height) to resize a ``w``×``h`` picture to, before any cut (cover)."""
        if self.scale is not None:
            return max(1, round(w * self.scale)), max(1, round(h * self.scale))
        if self.width is not None and self.height is not None:
            if self.fit == "stretch":
                return self.width, self.height
            pick = min if self.fit == "contain" else max
            f = pick(self.width / w, self.height / h)
            return max(1, round(w * f)), max(1, round(h * f))
        if self.width is not None:
            return self.width, max(1, round(h * self.width / w))
        assert self.height is not None
        return max(1, round(w * self.height / h)), self.height

    def final(self, w: int, h: int) -> tuple[int, int]:
        """(width, height) of the output of a ``w``×``h`` picture."""
        if self.fit == "cover" and self.width is not None and self.height is not None:
            return self.width, self.height
        return self.resized(w, h)

    def factor(self, w: int, h: int) -> float:
        """How much the picture grows, along the axis that grows most."""
        rw, rh = self.resized(w, h)
        return max(rw / w, rh / h)


def network_scale(factor: float, available: list[int]) -> int | None:
    """The shipped scale to run for a ``factor``: the smallest one at least as large (the
    largest when none is; bicubic then does the rest), or None when the picture does not
    grow (:data:`MIN_NETWORK_FACTOR`): a plain resize then."""
    if factor <= MIN_NETWORK_FACTOR or not available:
        return None
    reaching = [s for s in sorted(available) if s >= factor - 1e-9]
    return reaching[0] if reaching else max(available)

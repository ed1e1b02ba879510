"""What ``srup upscale`` runs for each picture: which model, at which network scale, and the
resize to the exact output size asked for.

``--model auto`` takes the real-photo variant for a lossy file (JPEG, lossy WebP,
JPEG-in-TIFF) and the clean model for the rest; a scale other than a shipped one (``-s 2.5``,
``--width``) runs the network at the smallest shipped scale that reaches the size and resizes
the result (MATLAB bicubic, antialiased). Each Upscaler is loaded on first use and kept.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from . import imageio
from .catalog import default_model
from .errors import UnknownModelError
from .resize import resize_pixels
from .sizing import Sizing, network_scale
from .upscale import Progress, Upscaler, load, scaled_dpi
from .weights import read_weights_header, shipped, split_name

if TYPE_CHECKING:
    import torch

__all__ = ["Engine"]


def _substitute_note(name: str, asked: int, ran: int) -> str:
    return f"{name} has no ×{asked} network: ran ×{ran}, then resized to ×{asked} (MATLAB bicubic)"


class Engine:
    """Per picture: the model and network scale, then the exact output size.

    ``model``: a shipped name or ``auto``; ``weights``: a safetensors file (its scale is
    then the only network scale); ``options``: device, tile and precision for
    :func:`srup.load`.
    """

    def __init__(
        self,
        sizing: Sizing,
        model: str = "auto",
        weights: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> None:
        self.sizing, self.model, self.weights, self.options = sizing, model, weights, options
        self._loaded: dict[tuple[int, bool], Upscaler] = {}
        if weights is not None:
            # Checked: a header scale of "abc" or "2.0" is a one-line BadWeightsError.
            scale = read_weights_header(weights).scale
            self.scales = [scale] if scale is not None else []
        elif model == "auto":
            self.scales = sorted({s for (n, s) in shipped() if not split_name(n)[1]})
        else:
            self.scales = sorted({s for (n, s) in shipped() if n == model})
        # A bad model, scale, device or precision fails now, before any file is read.
        first = self._scale_for(1000, 1000) or (self.scales[0] if self.scales else 2)
        self.first = self._upscaler(first, lossy=False)

    def _scale_for(self, w: int, h: int) -> int | None:
        exact = self.sizing.integer_scale
        if exact is not None and (exact in self.scales or self.weights is not None):
            return exact
        if exact is not None and exact > 1 and not self.scales:
            return exact  # let load() say that nothing is shipped for it
        return network_scale(self.sizing.factor(w, h), self.scales)

    def _upscaler(self, scale: int, lossy: bool) -> Upscaler:
        lossy = lossy and self.model == "auto" and self.weights is None
        key = (scale, lossy)
        if key not in self._loaded:
            self._loaded[key] = load(
                self.model, scale, weights=self.weights, lossy=lossy, **self.options
            )
        return self._loaded[key]

    def pick(self, picture: imageio.Picture) -> Upscaler | None:
        """The upscaler ``picture`` gets; None when it does not grow (a plain resize)."""
        w, h = picture.size
        scale = self._scale_for(w, h)
        return None if scale is None else self._upscaler(scale, picture.lossy)

    def process(
        self, picture: imageio.Picture, progress: Progress | None = None
    ) -> tuple[imageio.Picture, str]:
        """``picture`` at its output size, and what made it (a model name or "bicubic").

        The pixels come back C-contiguous, in the input's layout and dtype; alpha is
        resampled premultiplied at every step (network, resize: Porter & Duff 1984), so
        colour under α = 0 never shows. The DPI grows with the resize, per axis, keeping
        the print size; a ``--fit cover`` cut removes pixels at that same density."""
        w, h = picture.size
        up = self.pick(picture)
        out, name = (picture, "bicubic") if up is None else up.process(picture, progress)
        asked = self.sizing.integer_scale
        if up is not None and asked is not None and asked != up.scale:
            # -s 4 with a model shipped at ×3 only, or -s 5: say what ran, never silently.
            out = replace(out, notes=[*out.notes, _substitute_note(name, asked, up.scale)])
        rw, rh = self.sizing.resized(w, h)
        pixels = resize_pixels(out.pixels, (rw, rh))
        fw, fh = self.sizing.final(w, h)
        if (fw, fh) != (rw, rh):  # --fit cover: the centre of the resized picture
            y, x = (rh - fh) // 2, (rw - fw) // 2
            # A copy: the writers need C-contiguous rows, and the rest can be freed.
            pixels = np.ascontiguousarray(pixels[y : y + fh, x : x + fw])
        return replace(out, pixels=pixels, dpi=scaled_dpi(picture.dpi, (w, h), (rw, rh))), name

    @property
    def name(self) -> str:
        """What the banner says: the model(s) auto may pick, or the model asked for. With
        --width/--height the network scale is picked per picture, so no one model is named:
        ``auto, network scale per picture (×2–×4)``."""
        if self.sizing.scale is None and self.weights is None and len(self.scales) > 1:
            span = f"×{self.scales[0]}–×{self.scales[-1]}"
            return f"{self.model}, network scale per picture ({span})"
        if self.model != "auto" or self.weights is not None:
            return self.first.name
        scale = self.first.scale
        try:
            real = default_model(scale, lossy=True)
        except UnknownModelError:
            real = self.first.name
        if real == self.first.name:
            return f"auto: {real}"
        return f"auto: {self.first.name} (lossless), {real} (JPEG, lossy WebP)"

    @property
    def device(self) -> torch.device:
        return self.first.device

    @property
    def precision(self) -> str:
        return self.first.precision

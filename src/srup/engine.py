"""What ``srup upscale`` runs for each picture: which model, at which network scale, and the
resize to the exact output size asked for.

``--model auto`` with ``--denoise auto`` takes the clean model for a lossless file and,
for a lossy one (JPEG, lossy WebP, JPEG-in-TIFF), a point of the model's family (clean →
real-photo → capture variant, weights interpolated between: :mod:`srup.denoise`) chosen
from what the file says: its JPEG quality, its noise and blur (:mod:`srup.estimate`,
estimated once per file). ``--denoise S`` puts every file at strength S. A video's frames
are lossy pictures without tables: the real variant, as before (no per-frame estimate).
A scale other than a shipped one (``-s 2.5``, ``--width``) runs the network at the smallest
shipped scale that reaches the size and resizes the result (MATLAB bicubic, antialiased).
Each Upscaler is loaded on first use and kept; the interpolated ones (a few strengths at a
time, :data:`MIXES_KEPT`) are kept while they are among the last used.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from . import denoise as dn
from . import imageio
from .errors import InvalidArgument, UnknownModelError
from .resize import resize_pixels
from .sizing import Sizing, network_scale
from .upscale import Progress, Upscaler, load, scaled_dpi
from .weights import read_weights_header, shipped, split_name

if TYPE_CHECKING:
    import torch

    from .estimate import Estimate

__all__ = ["MIXES_KEPT", "Choice", "Engine"]

# Interpolated weight sets kept built at once (least recently used dropped): a batch of JPEGs
# of varied quality moves among a few strengths (rounded to srup.denoise.STEP).
MIXES_KEPT = 4


@dataclass(frozen=True)
class Choice:
    """What one picture gets: ``upscaler`` (None: it does not grow, a plain resize), the
    ``denoise`` strength (None where none applies: a named model or a --weights file under
    --denoise auto), the ``estimate`` made of the file (None unless --denoise auto estimated
    it: lossy pictures under -m auto), and ``note``: what was estimated and chosen, in words
    (None when nothing was estimated)."""

    upscaler: Upscaler | None
    denoise: float | None = None
    estimate: Estimate | None = None
    note: str | None = None


def _substitute_note(name: str, asked: int, ran: int) -> str:
    return f"{name} has no ×{asked} network: ran ×{ran}, then resized to ×{asked} (MATLAB bicubic)"


class Engine:
    """Per picture: the model and network scale, then the exact output size.

    ``model``: a shipped name or ``auto``; ``weights``: a safetensors file (its scale is
    then the only network scale); ``denoise``: ``"auto"`` (with ``auto``, a strength per
    picture: 0 for lossless files, from the estimate for lossy ones; with a named model or
    ``weights``, that weight set as it is) or a strength from 0 to 1 for every picture
    (``auto`` or a clean model's name only: :func:`srup.denoise.choose`); ``options``:
    device, tile and precision for :func:`srup.load`. ``builds`` counts the weight sets
    built.
    """

    def __init__(
        self,
        sizing: Sizing,
        model: str = "auto",
        weights: str | os.PathLike[str] | None = None,
        denoise: str | float = "auto",
        **options: Any,
    ) -> None:
        self.sizing, self.model, self.weights, self.options = sizing, model, weights, options
        self.denoise = dn.parse(denoise)
        if self.denoise != "auto" and weights is not None:
            raise InvalidArgument(
                f"--denoise {self.denoise:g}: a --weights file is one weight set, with "
                "nothing to interpolate; leave --denoise at auto"
            )
        # The models named or taken for lossless input, kept; interpolated ones, a few.
        self._loaded: dict[tuple, Upscaler] = {}
        self._mixes: OrderedDict[tuple, Upscaler] = OrderedDict()
        self._keys: dict[tuple[int, float | None], tuple] = {}
        self.builds = 0
        if weights is not None:
            # Checked: a header scale of "abc" or "2.0" is a one-line BadWeightsError.
            scale = read_weights_header(weights).scale
            self.scales = [scale] if scale is not None else []
        elif model == "auto":
            self.scales = sorted({s for (n, s) in shipped() if not split_name(n)[1]})
        else:
            self.scales = sorted({s for (n, s) in shipped() if n == model})
        # A bad model, scale, device, precision or strength fails now, before any file is read.
        first = self._scale_for(1000, 1000) or (self.scales[0] if self.scales else 2)
        fixed = None if self.denoise == "auto" else self.denoise
        if fixed is None and model == "auto" and weights is None:
            fixed = 0.0  # auto: what lossless input gets
        self.first = self._upscaler(first, fixed)

    def _scale_for(self, w: int, h: int) -> int | None:
        exact = self.sizing.integer_scale
        if exact is not None and (exact in self.scales or self.weights is not None):
            return exact
        if exact is not None and exact > 1 and not self.scales:
            return exact  # let load() say that nothing is shipped for it
        return network_scale(self.sizing.factor(w, h), self.scales)

    def _upscaler(self, scale: int, strength: float | None) -> Upscaler:
        """The Upscaler at ``scale`` for ``strength`` (None: the model or file as named),
        built once: two strengths that mean the same weights (beyond the last member of a
        family) share it."""
        key = self._keys.get((scale, strength))
        if key is None:  # which weights: read from the weights' headers once per strength
            same = None if strength is None else dn.choose(self.model, scale, strength).key
            key = self._keys[(scale, strength)] = (scale, same)
        if key in self._loaded:
            return self._loaded[key]
        if key in self._mixes:
            self._mixes.move_to_end(key)
            return self._mixes[key]
        if strength is None:
            up = load(self.model, scale, weights=self.weights, **self.options)
        else:
            up = load(self.model, scale, denoise=strength, **self.options)
        self.builds += 1
        if up.descriptor is not None and up.descriptor.mix:
            self._mixes[key] = up
            while len(self._mixes) > MIXES_KEPT:
                self._mixes.popitem(last=False)
        else:
            self._loaded[key] = up
        return up

    def _strength(self, picture: imageio.Picture) -> tuple[float | None, Estimate | None]:
        """The strength ``picture`` gets, and the estimate it came from (None when none was
        made): see :meth:`choose`."""
        if self.denoise != "auto":
            return float(self.denoise), None
        if self.model != "auto" or self.weights is not None:
            return None, None
        if not picture.lossy:
            return 0.0, None
        if picture.format == "VIDEO":  # no per-frame estimate: the real variant, as before
            return dn.REAL, None
        from .estimate import estimate

        est = estimate(dn.rgb8(picture.pixels), picture.quantization)
        return dn.rounded(dn.strength(est)), est

    def choose(self, picture: imageio.Picture) -> Choice:
        """What ``picture`` gets (:class:`Choice`). Under ``-m auto --denoise auto``: a
        lossless picture the clean model (strength 0, nothing estimated); a lossy one the
        strength :func:`srup.denoise.strength` gives its estimate, rounded to
        :data:`srup.denoise.STEP`; a video frame the real variant (0.5)."""
        w, h = picture.size
        scale = self._scale_for(w, h)
        if scale is None:
            return Choice(None)
        strength, est = self._strength(picture)
        up = self._upscaler(scale, strength)
        note = None
        if est is not None:
            said = est.describe()
            if est.jpeg_quality is None:
                kind = f"lossy {picture.format}" if picture.format else "lossy"
                said = f"{kind} (no quantization tables){', ' + said if said else ''}"
            note = f"{said} → denoise {strength:.2f} ({up.name})"
        return Choice(up, strength, est, note)

    def pick(self, picture: imageio.Picture) -> Upscaler | None:
        """The upscaler ``picture`` gets; None when it does not grow (a plain resize)."""
        return self.choose(picture).upscaler

    def process(
        self,
        picture: imageio.Picture,
        progress: Progress | None = None,
        choice: Choice | None = None,
    ) -> tuple[imageio.Picture, str]:
        """``picture`` at its output size, and what made it (a model name or "bicubic");
        ``choice``: :meth:`choose`'s for it, when the caller made it already.

        The pixels come back C-contiguous, in the input's layout and dtype; alpha is
        resampled premultiplied at every step (network, resize: Porter & Duff 1984), so
        colour under α = 0 never shows. The DPI grows with the resize, per axis, keeping
        the print size; a ``--fit cover`` cut removes pixels at that same density."""
        w, h = picture.size
        up = (choice or self.choose(picture)).upscaler
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
        if self.denoise != "auto":
            return f"auto: {self.first.name}"
        scale = self.first.scale
        try:
            family = dn.auto_family(scale)
        except UnknownModelError:
            return f"auto: {self.first.name}"
        if len(family.members) < 2 and family.span == self.first.name:
            return f"auto: {self.first.name}"
        return (
            f"auto: {self.first.name} (lossless), {family.span} by denoise auto (JPEG, lossy WebP)"
        )

    @property
    def device(self) -> torch.device:
        return self.first.device

    @property
    def precision(self) -> str:
        return self.first.precision

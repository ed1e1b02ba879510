"""What ``srup upscale`` runs for each picture: which model, at which network scale, and the
resize to the exact output size asked for.

``--model auto`` with ``--denoise auto`` takes the clean model for a lossless file and,
for a lossy one (JPEG, lossy WebP, JPEG-in-TIFF, AVIF, HEIF, JPEG 2000 but a reversible
one), a point of the model's family (clean → real-photo → capture variant, weights
interpolated between: :mod:`srup.models.denoise`) chosen from what the file says: its JPEG
quality, an earlier save, its blockiness, noise and blur (:mod:`srup.imaging.estimate`, estimated
once per file, on at most its centre 2 MP). ``--denoise S`` puts every file at strength S
(to the nearest 0.05). A video's frames are lossy pictures without tables: the real
variant, as before (no per-frame estimate), unless its codec is lossless (FFV1, HuffYUV,
Ut Video, PNG, QuickTime RLE, raw video: :data:`srup.media.video_codecs.LOSSLESS_CODECS`), whose
frames get the clean model as a lossless picture does. A scale other than a shipped one
(``-s 2.5``, ``--width``) runs the network at the smallest shipped scale that reaches the
size and resizes the result (MATLAB bicubic, antialiased). Each Upscaler is loaded on first
use and kept for the run, interpolated ones included: at most :data:`MIXES_KEPT` (19) mixes
per family and scale, at most 0.4 MB each (espcn7).

What runs is what is recorded: :class:`Choice` carries the strength that ran and, when it
differs, the one asked for; why it differs (a family without capture weights at that
scale, a strength used to the nearest 0.05) is said once per run (:attr:`Engine.notes`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from srup.errors import InvalidArgument, UnknownModelError, UnsupportedPrecision
from srup.imaging.resize import resize_pixels
from srup.imaging.sizing import Sizing, network_scale
from srup.media import pictures as imageio
from srup.models import denoise as dn
from srup.models.descriptor import weights_scale
from srup.models.weights import shipped, split_name
from srup.runtime.tilers.tiler import Progress
from srup.runtime.upscaler import Upscaler, load, scaled_dpi

if TYPE_CHECKING:
    import torch

    from srup.imaging.estimate import Estimate

__all__ = ["MIXES_KEPT", "Choice", "Engine"]

# The most interpolated weight sets a run builds per family and scale, all kept: strengths
# are used to the nearest srup.models.denoise.STEP (0.05), 21 points, of which the members' own
# (0, 0.5, 1: their files, no arithmetic) are no mix, so at most 19 (with the real member
# missing). Each costs about its weights in float32 and its inference form: measured 0.4 MB
# of RSS for espcn7 at ×3, the largest network (fsrcnn 0.04 MB), so all 19 are under 8 MB
# and a batch cycling through every strength never rebuilds one.
MIXES_KEPT = 19


@dataclass(frozen=True)
class Choice:
    """What one picture gets: ``upscaler`` (None: it does not grow, a plain resize), the
    ``denoise`` strength (None where none applies: a named model or a --weights file under
    --denoise auto), the ``estimate`` made of the file (None unless --denoise auto estimated
    it: lossy pictures under -m auto), ``note``: what was estimated and chosen, in words
    (None when nothing was estimated), and ``asked``."""

    upscaler: Upscaler | None
    denoise: float | None = None
    estimate: Estimate | None = None
    note: str | None = None
    # The strength asked for (given, or chosen by --denoise auto), when it is not the one
    # that ran (``denoise``): rounded to 0.05, or beyond the family's last member shipped.
    asked: float | None = None


def _substitute_note(name: str, asked: int, ran: int) -> str:
    return f"{name} has no ×{asked} network: ran ×{ran}, then resized to ×{asked} (MATLAB bicubic)"


class Engine:
    """Per picture: the model and network scale, then the exact output size (a
    :class:`~srup.runtime.processor.PictureProcessor`, as an Upscaler is).

    ``model``: a shipped name or ``auto``; ``weights``: a safetensors file (its scale is
    then the only network scale); ``denoise``: ``"auto"`` (with ``auto``, a strength per
    picture: 0 for lossless files, from the estimate for lossy ones; with a named model or
    ``weights``, that weight set as it is) or a strength from 0 to 1 for every picture
    (``auto`` or a clean model's name only: :func:`srup.models.denoise.choose`); ``options``:
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
        if options.get("precision") == "int8" and model == "auto" and weights is None:
            # auto's members include weight sets without an int8 calibration (the -real
            # and -capture ones, and their mixes): int8 is asked for one named weight set at
            # a time.
            raise UnsupportedPrecision(
                "precision int8 runs a named model only (-m srcnn, fsrcnn, espcn or espcn7 "
                "at a calibrated scale, as srup models lists them), not -m auto"
            )
        if self.denoise != "auto" and weights is not None:
            raise InvalidArgument(
                f"--denoise {self.denoise:g}: a --weights file is one weight set, with "
                "nothing to interpolate; leave --denoise at auto"
            )
        # Every weight set built, kept for the run (members and mixes alike).
        self._loaded: dict[tuple, Upscaler] = {}
        # (scale, strength asked) → the weights' key, the Blend, why it runs another strength
        self._keys: dict[tuple[int, float | None], tuple[tuple, dn.Blend | None, list[str]]] = {}
        self._notes: dict[str, None] = {}  # said once per run, in order
        self._said = 0
        self.builds = 0
        if weights is not None:
            # Checked: a header scale of "abc" or "2.0" is a one-line BadWeightsError; another
            # project's file says its scale through spandrel.
            scale = weights_scale(weights)
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
        self.first = self._upscaler(first, fixed)[0]

    def limit_whole(self, budget: int) -> None:
        """As :meth:`Upscaler.limit_whole`, for the weight set a ``--weights`` file names
        (srup's own networks never run whole by preference)."""
        if self.weights is not None:
            self.first.limit_whole(budget)

    def working_bytes(self, width: int, height: int) -> int | None:
        """As :meth:`Upscaler.working_bytes`, for the weight set a ``width``×``height``
        picture runs with when a ``--weights`` file names it (None otherwise)."""
        return self.first.working_bytes(width, height) if self.weights is not None else None

    @property
    def estimates(self) -> bool:
        """Whether lossy pictures are estimated (:mod:`srup.imaging.estimate`): ``-m auto`` with
        ``--denoise auto``."""
        return self.denoise == "auto" and self.model == "auto" and self.weights is None

    @property
    def notes(self) -> list[str]:
        """What the run is told once, not per file, in the order it arose: why a strength
        runs as another (a family without capture weights at a scale, a strength used to
        the nearest 0.05). Each text once per run."""
        return list(self._notes)

    def new_notes(self) -> list[str]:
        """The :attr:`notes` that arose since this was last called."""
        fresh = list(self._notes)[self._said :]
        self._said = len(self._notes)
        return fresh

    def _scale_for(self, w: int, h: int) -> int | None:
        exact = self.sizing.integer_scale
        if exact is not None and exact in self.scales:
            return exact
        if exact is not None and exact > 1 and not self.scales:
            return exact  # let load() say that nothing is shipped for it
        return network_scale(self.sizing.factor(w, h), self.scales)

    def _upscaler(self, scale: int, strength: float | None) -> tuple[Upscaler, dn.Blend | None]:
        """The Upscaler at ``scale`` for ``strength`` (None: the model or file as named),
        built once and kept, and the :class:`srup.models.denoise.Blend` it stands for (None for
        none): two strengths that mean the same weights (beyond the last member of a
        family, or rounded onto one another) share it. A strength given (``--denoise S``)
        is refused on a family of the clean model alone; one chosen by ``--denoise auto``
        runs that model (:func:`srup.models.denoise.choose`)."""
        found = self._keys.get((scale, strength))
        if found is None:  # which weights: read from the weights' headers once per strength
            blend, why = None, []
            if strength is not None:
                blend = dn.choose(self.model, scale, strength, strict=self.denoise != "auto")
                why = self._why(scale, blend)
            key = (scale, None if blend is None else blend.key)
            found = self._keys[(scale, strength)] = (key, blend, why)
        key, blend, why = found
        for text in why:  # said once per run, when first a picture runs it
            self._notes.setdefault(text)
        if key not in self._loaded:
            if blend is None:
                up = load(self.model, scale, weights=self.weights, **self.options)
            elif blend.b is None:  # a member (where clamped too): its file as it is
                up = load(blend.a.name, scale, **self.options)
            else:  # a mix, at the strength that runs (on the grid, within the chain)
                up = load(self.model, scale, denoise=blend.strength, **self.options)
            self.builds += 1
            self._loaded[key] = up
        return self._loaded[key], blend

    @staticmethod
    def _why(scale: int, blend: dn.Blend) -> list[str]:
        """Why ``blend`` runs another strength than it was asked, in one line each (none
        when it runs as asked)."""
        if not blend.differs:
            return []
        asked = float(blend.asked)
        r, why = dn.rounded(asked), []
        if r != asked:
            why.append(
                f"--denoise {asked:g} runs as {r:.2f}: strengths are used to the nearest "
                f"{dn.STEP:g}"
            )
        if r != blend.strength:
            beyond = dn.family(split_name(blend.a.name)[0], scale).beyond(r)
            if beyond is not None:
                why.append(beyond)
        return why

    def _strength(self, picture: imageio.Picture) -> tuple[float | None, Estimate | None]:
        """The strength asked for ``picture``, and the estimate it came from (None when
        none was made): see :meth:`choose`."""
        if self.denoise != "auto":
            return float(self.denoise), None
        if not self.estimates:
            return None, None
        if not picture.lossy:
            return 0.0, None
        if picture.format == "VIDEO":  # no per-frame estimate: the real variant, as before
            return dn.REAL, None
        from srup.imaging.estimate import centre, estimate

        est = estimate(dn.rgb8(centre(picture.pixels)), picture.quantization)
        return dn.rounded(dn.strength(est)), est

    def choose(self, picture: imageio.Picture) -> Choice:
        """What ``picture`` gets (:class:`Choice`). Under ``-m auto --denoise auto``: a
        lossless picture (a frame of a lossless codec's video too) the clean model
        (strength 0, nothing estimated); a lossy one the strength
        :func:`srup.models.denoise.strength` gives its estimate, rounded to
        :data:`srup.models.denoise.STEP`; a lossy video's frame the real variant (0.5). The
        Choice's ``denoise`` is the strength that runs, ``asked`` the one asked for when
        that differs."""
        w, h = picture.size
        scale = self._scale_for(w, h)
        if scale is None:
            return Choice(None)
        strength, est = self._strength(picture)
        up, blend = self._upscaler(scale, strength)
        ran = strength if blend is None else blend.strength
        asked = blend.asked if blend is not None and blend.differs else None
        note = None
        if est is not None:
            said = est.describe()
            if est.jpeg_quality is None:
                kind = f"lossy {picture.format}" if picture.format else "lossy"
                what = "no quantization tables"
                if picture.quantization:
                    what = "quantization tables invalid (a step of 0): quality unknown"
                said = f"{kind} ({what}){', ' + said if said else ''}"
            chosen = f"denoise {ran:.2f}"
            if asked is not None:
                chosen = f"denoise {asked:.2f}, runs {ran:.2f}"
            note = f"{said} → {chosen} ({up.name})"
        return Choice(up, ran, est, note, asked)

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
        return f"auto: {self.first.name} (lossless), {family.span} by denoise auto (lossy input)"

    @property
    def device(self) -> torch.device:
        return self.first.device

    @property
    def precision(self) -> str:
        return self.first.precision

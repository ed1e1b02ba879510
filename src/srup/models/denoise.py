"""``--denoise``: how hard a model works against what a file went through, as one number.

A *family* is one architecture at one scale, trained along a chain of degradations, each
member fine-tuned from the one before it, so all of them share an initialisation:

    ARCH_xS (clean) ──▶ ARCH-real_xS (phone photo) ──▶ ARCH-capture_xS (handheld capture)

The members sit at fixed points of one *denoise scale*, 0 = clean, 0.5 = real,
1 = capture, and a strength ``s`` in [0, 1] between two members interpolates their weights
tensor by tensor, ``θ = (1 − t)·θ_a + t·θ_b`` in float32 with ``t`` how far ``s`` lies
from ``a`` to ``b``: Deep Network Interpolation (Wang et al., "Deep Network Interpolation for
Continuous Imagery Effect Transition", CVPR 2019), which Real-ESRGAN exposes as its
``-dn`` option (a general model interpolated with its WDN denoising variant). Networks
fine-tuned from one another stay close enough in weight space for the mix to behave as a
model between the two. A member that is not shipped for a scale shortens the chain: the
points stay where they are, and a strength beyond the last member shipped clamps to it
(with no capture weights, 0.5–1 all mean the real model), so ``--denoise 0.5`` means the
real model whatever else is installed. What ran is what is recorded: the strength of a
clamped blend is the member's point (:attr:`Blend.strength`), the strength asked for is
kept beside it (:attr:`Blend.asked`) and :meth:`Family.beyond` says why, in one line, for
the run's notes. A family of the clean model alone has nothing to walk: a strength given
for it (``-m espcn7 -s 2 --denoise 0.8``) is refused (:func:`choose`), unless it is 0,
the clean model itself. At a member's own point its file is loaded as it is (no
arithmetic): its output is bit for bit that of ``-m ARCH-VARIANT``.

Strengths are used to the nearest :data:`STEP` (0.05), given or chosen alike
(:func:`rounded`): ``--denoise 0.33`` runs 0.35, so a mix's name (two decimals) always
says what ran, and a batch builds at most 21 weight sets per family.

``--denoise auto`` (the default, with ``-m auto``) chooses a strength per file from what the
file says (:func:`strength`, from :func:`srup.imaging.estimate.estimate`): 0 for a lossless input
(the clean model ``auto`` has always taken, bit for bit), and for a JPEG a strength from
its quantization tables' quality (or that of an earlier, coarser save its pixels still
show), raised by its blockiness, noise and blur (:class:`Policy`). Auto strengths are
rounded to :data:`STEP` too, so a batch of JPEGs of varied quality builds a few weight
sets, not one per file (:class:`srup.runtime.auto.Engine` keeps every one it built).

Names: a member is named as ``srup models`` lists it (``fsrcnn``, ``fsrcnn-real``); a mix
is ``ARCH-A+B@S``, its two members' variants (``clean`` for the clean model) and the
strength on the denoise scale with two decimals: ``fsrcnn-clean+real@0.20`` (40 % of the
way from fsrcnn to fsrcnn-real), ``fsrcnn-real+capture@0.60``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from srup.errors import BadWeightsError, InvalidArgument, InvalidArgumentType, UnknownModelError
from srup.models.weights import read_header, shipped, split_name

if TYPE_CHECKING:
    import torch

    from srup.imaging.estimate import Estimate

__all__ = [
    "CHAIN",
    "POLICY",
    "STEP",
    "Blend",
    "Family",
    "Member",
    "Policy",
    "auto_family",
    "choose",
    "family",
    "interpolate",
    "mix_states",
    "parse",
    "rounded",
    "strength",
]

# The chain of a family: each variant and its point on the denoise scale.
CHAIN: tuple[tuple[str, float], ...] = (("", 0.0), ("real", 0.5), ("capture", 1.0))
REAL = 0.5  # the real variant's point: what ``auto`` took for every lossy file before


@dataclass(frozen=True)
class Policy:
    """What ``--denoise auto`` does with an estimate (:class:`srup.imaging.estimate.Estimate`).

    Every number is a calibration, to be set against the capture benchmark; change them
    here only. First values, by hand: the quality points from the training presets (the
    real variants saw JPEG 50–95, the capture ones JPEG 40–90, both validated at 65–75).
    The noise and blur raises start late and stay small: on Set14 at ×3, LR pictures
    compressed at JPEG 75 read noise σ ≈ 1.0 and edges ≈ 7.5 px (medians) whether or not
    the phone preset's blur σ 0.7 and noise σ 3 came first (JPEG removes most of the noise;
    photos' own soft edges dominate the width), and clean photos saved at JPEG 95 read σ up
    to 8 (texture) and edges up to 10 px."""

    # JPEG quality (IJG scale) → strength, piecewise linear through these points and flat
    # beyond the ends: q 75 is exactly the real model (the phone-photo validation's JPEG).
    quality: tuple[tuple[float, float], ...] = ((55.0, 1.0), (75.0, REAL), (95.0, 0.2))
    # A lossy file without quantization tables (lossy WebP, JPEG inside TIFF, AVIF, HEIF,
    # JPEG 2000), or with invalid ones (a step of 0): the real model.
    lossy_without_tables: float = REAL
    # A JPEG whose tables read this quality or more (quality 100: every step 1) is taken as
    # lossless, as a PNG is: strength 0, and noise and blur do not raise it (a lossless file
    # is not estimated at all). An earlier save or blockiness still does (below).
    lossless_quality: float = 100.0
    # An earlier, coarser save the pixels show (Estimate.earlier_quality, a JPEG at 10 saved
    # again at 95) counts by its quality, through the same points, when that gives more.
    # Blockiness (srup.imaging.estimate.blockiness) at or above the first point sets a floor,
    # piecewise linear through these points and flat beyond: single saves of Set14 photos
    # read up to 1.4 at quality 75 and 1.25 at 95 (so neither is raised), boards JPEG'd at
    # 10 read about 1.5, photos 2–5 (tests/imaging/test_estimate.py).
    blockiness: tuple[tuple[float, float], ...] = ((1.4, REAL), (2.4, 1.0))
    # Noise σ on Y (8-bit levels, srup.imaging.estimate.noise_sigma) above the floor raises the
    # strength by the gain per level, by at most noise_most.
    noise_floor: float = 3.0
    noise_gain: float = 0.05
    noise_most: float = 0.15
    # Blur as srup.imaging.estimate.edge_width measures it (edge width in pixels: about 2 when
    # sharp, plus about 2.5 per pixel of Gaussian σ, L/2 for a motion blur of length L) above the
    # floor raises it by the gain per pixel, by at most blur_most.
    blur_floor: float = 8.0
    blur_gain: float = 0.05
    blur_most: float = 0.15
    # A document-like picture (Estimate.flat, the flat fraction: boards and pages 0.5–0.85,
    # Set14's photos 0.04–0.40, its slide 0.40) that the quality curve already puts past the
    # real model (a JPEG below quality 75) moves the rest of the way toward 1 by the
    # fraction these points give (none at 0.45, all of it at 0.6): the capture variants were
    # trained for such photos (40 % rendered boards under handheld blur, noise and JPEG).
    # Calibrated at ×3 on benchmarks/capture.py (CER: fsrcnn-capture 28.7 %, fsrcnn-real
    # 31.4 %, bicubic 31.3 %) against docs/quality.md's legibility boards (JPEG 75, blur σ 0.7),
    # where every strength above 0.5 read worse at 20 px (0.6: 27.4 %, 0.75: 28.6 %,
    # capture: 30.3 %, against fsrcnn-real's 26.5 %), so a board at quality 75 or above is
    # left to the quality curve; on Set14 JPEG 75 fsrcnn-capture gives up 0.49 dB to
    # fsrcnn-real, and no photo there reaches 0.45.
    document: tuple[tuple[float, float], ...] = ((0.45, 0.0), (0.6, 1.0))


POLICY = Policy()
STEP = 0.05  # strengths, given or chosen, are used to the nearest: 21 weight sets per family


# ------------------------------------------------------------------------------ strength


def parse(value: object) -> str | float:
    """A ``denoise`` argument: ``"auto"``, or a number from 0 to 1 (a ``float``).
    :class:`~srup.errors.InvalidArgumentType` for another type (a bool, None, a list),
    :class:`~srup.errors.InvalidArgument` for another string, NaN, ±inf or a number out of
    range."""
    if isinstance(value, str):
        if value == "auto":
            return value
        raise InvalidArgument(f"denoise must be auto or a number from 0 to 1, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidArgumentType(
            f"denoise must be 'auto' or a number from 0 to 1, got {value!r} "
            f"({type(value).__name__})"
        )
    number = float(value)
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise InvalidArgument(f"denoise must be a number from 0 to 1 (or auto), got {value!r}")
    return number + 0.0  # -0.0 is 0.0


def rounded(s: float) -> float:
    """``s`` on the :data:`STEP` grid (0.05), in [0, 1]: 0.62 → 0.6, 0.63 → 0.65, −0.0 →
    0.0 (halfway, as Python rounds: to the even multiple of the step)."""
    return round(min(1.0, max(0.0, round(s / STEP) * STEP)), 2) + 0.0


def _through(points: Sequence[tuple[float, float]], x: float) -> float:
    """The piecewise-linear function through ``points`` (x ascending) at ``x``, flat beyond
    the first and last point."""
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return float(np.interp(x, xs, ys))


def strength(est: Estimate, policy: Policy | None = None) -> float:
    """The strength ``policy`` (:data:`POLICY`) gives a lossy file of estimate ``est``, on
    the denoise scale (0 clean, 0.5 real, 1 capture), in [0, 1], not rounded: from the JPEG
    quality (``est.jpeg_quality``; without tables, ``lossy_without_tables``; at or above
    ``lossless_quality``, 0), or from an earlier save's (``est.earlier_quality``) when that
    gives more, at least what ``est.blockiness`` sets (``blockiness``), plus ``noise_gain``
    per level of ``est.noise_sigma`` above ``noise_floor`` (at most ``noise_most``), plus
    ``blur_gain`` per pixel of ``est.blur`` above ``blur_floor`` (at most ``blur_most``),
    then, for a strength already past the real model's, toward 1 by the fraction
    ``document`` gives for ``est.flat`` (a board or a page); each only when measured.
    Noise and blur do not raise a lossless-like file (quality 100 with no earlier save or
    blockiness found): 0, as a PNG."""
    p = policy or POLICY
    q = None if est.jpeg_quality is None else float(est.jpeg_quality)
    lossless = q is not None and q >= p.lossless_quality
    s = p.lossy_without_tables if q is None else _through(p.quality, q)
    if lossless:
        s = 0.0
    earlier = getattr(est, "earlier_quality", None)
    if earlier is not None:
        s, lossless = max(s, _through(p.quality, float(earlier))), False
    blocks = getattr(est, "blockiness", None)
    if blocks is not None and float(blocks) >= p.blockiness[0][0]:
        s, lossless = max(s, _through(p.blockiness, float(blocks))), False
    if lossless:
        return 0.0
    if est.noise_sigma is not None:
        s += min(p.noise_most, p.noise_gain * max(0.0, float(est.noise_sigma) - p.noise_floor))
    if est.blur is not None:
        s += min(p.blur_most, p.blur_gain * max(0.0, float(est.blur) - p.blur_floor))
    flat = getattr(est, "flat", None)
    if flat is not None and float(flat) >= p.document[0][0] and s > REAL:
        s += (1.0 - min(1.0, s)) * _through(p.document, float(flat))
    return min(1.0, max(0.0, s))


def rgb8(pixels: np.ndarray) -> np.ndarray:
    """A :class:`~srup.media.pictures.Picture`'s ``(H, W, C)`` uint8/uint16 pixels (C 1–4) as the
    ``(H, W, 3)`` uint8 RGB :func:`srup.imaging.estimate.estimate` reads: grey repeated, alpha left
    out, 16-bit samples' high byte. A view when the pixels are already 8-bit RGB."""
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.dtype == np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)
    if pixels.shape[2] in (1, 2):
        return np.repeat(pixels[:, :, :1], 3, axis=2)
    return pixels[:, :, :3]


# -------------------------------------------------------------------------------- family


@dataclass(frozen=True)
class Member:
    """One weights file of a family: its model ``name`` (``fsrcnn-real``), its ``point``
    on the denoise scale and its ``path``."""

    name: str
    point: float
    path: Path

    @property
    def variant(self) -> str:
        """``clean``, ``real`` or ``capture``."""
        return split_name(self.name)[1] or "clean"


@dataclass(frozen=True)
class Blend:
    """What a strength means in one family: the weights ``(1 − t)·θ_a + t·θ_b``; ``b`` is
    None (and ``t`` 0) at a member's own point, or beyond the chain's ends. ``strength``:
    the point on the denoise scale these weights stand for, what runs (beyond the chain's
    ends, the nearest member's point); ``asked``: the strength asked for (None: the same
    as ``strength``)."""

    strength: float
    a: Member
    b: Member | None = None
    t: float = 0.0
    asked: float | None = None

    @property
    def differs(self) -> bool:
        """The strength that runs is not the one asked for (rounded to :data:`STEP`, or
        clamped to the chain)."""
        return self.asked is not None and self.asked != self.strength

    @property
    def name(self) -> str:
        """``fsrcnn-real`` at a member, ``fsrcnn-clean+real@0.20`` between two."""
        if self.b is None:
            return self.a.name
        arch = split_name(self.a.name)[0]
        return f"{arch}-{self.a.variant}+{self.b.variant}@{self.strength:.2f}"

    @property
    def key(self) -> tuple[str, str | None, float]:
        """What the weights are, whatever strength asked for them (two strengths that clamp
        to one member share its key)."""
        return self.a.name, None if self.b is None else self.b.name, round(self.t, 6)

    @property
    def mix(self) -> tuple[tuple[Path, float], ...]:
        """The files and their coefficients; empty at a member (its file alone)."""
        if self.b is None:
            return ()
        return (self.a.path, 1.0 - self.t), (self.b.path, self.t)


def _layout(path: Path) -> tuple[str, tuple[tuple[str, tuple[int, ...]], ...]]:
    """What must match for two files to be interpolated: the input space and every
    tensor's name and shape (from the header, without torch)."""
    header = read_header(path)
    meta = header.get("__metadata__") or {}
    tensors = sorted((k, tuple(v["shape"])) for k, v in header.items() if k != "__metadata__")
    return meta.get("input_space", "Y"), tuple(tensors)


@dataclass(frozen=True)
class Family:
    """The shipped members of ``arch`` at ``scale``, in chain order (clean, real, capture);
    a member whose file does not match the first one's tensors or input space (it could not
    be interpolated with it) is left out."""

    arch: str
    scale: int
    members: tuple[Member, ...]

    def blend(self, s: float, asked: float | None = None) -> Blend:
        """The weights at strength ``s`` (0–1): a member at its point, the mix of the two
        members around ``s`` between them, the nearest member beyond the chain's ends (its
        point then the blend's ``strength``, ``s`` its ``asked``). ``asked``: what ``s``
        came from when it was rounded (kept as the blend's ``asked``)."""
        if not self.members:
            raise UnknownModelError(f"no shipped {self.arch} weights for ×{self.scale}")
        asked = s if asked is None else asked
        first, last = self.members[0], self.members[-1]
        if s <= first.point:
            return Blend(first.point, first, asked=asked)
        if s >= last.point:
            return Blend(last.point, last, asked=asked)
        for a, b in zip(self.members, self.members[1:], strict=False):
            if s == b.point:
                return Blend(s, b, asked=asked)
            if a.point < s < b.point:
                return Blend(s, a, b, (s - a.point) / (b.point - a.point), asked=asked)
        raise AssertionError(f"strength {s} outside the chain")  # unreachable: clamped above

    def beyond(self, s: float) -> str | None:
        """Why strength ``s`` runs another (a member's point, the chain being shorter than
        :data:`CHAIN`), in one line, or None when it lies within the chain: ``no
        fsrcnn-capture weights at ×2: strengths above 0.5 run fsrcnn-real``."""
        if not self.members:
            return None
        first, last = self.members[0], self.members[-1]
        if s > last.point:
            missing = [v for v, point in CHAIN if point > last.point]
            side, end, member = "above", last.point, last
        elif s < first.point:
            missing = [v for v, point in CHAIN if point < first.point]
            side, end, member = "below", first.point, first
        else:
            return None
        names = " or ".join(f"{self.arch}-{v}" if v else self.arch for v in missing)
        return f"no {names} weights at ×{self.scale}: strengths {side} {end:g} run {member.name}"

    @property
    def span(self) -> str:
        """The chain in a few characters: ``fsrcnn-clean..real``, or one member's name."""
        if len(self.members) < 2:
            return self.members[0].name if self.members else self.arch
        return f"{self.arch}-{self.members[0].variant}..{self.members[-1].variant}"


def family(arch: str, scale: int) -> Family:
    """The family of ``arch`` at ``scale`` from the shipped files (no torch, headers only)."""
    files = shipped()
    members: list[Member] = []
    ref = None
    for variant, point in CHAIN:
        name = f"{arch}-{variant}" if variant else arch
        path = files.get((name, scale))
        if path is None:
            continue
        layout = _layout(path)
        if ref is None:
            ref = layout
        elif layout != ref:
            continue  # another layout (e.g. an RGB-in file): cannot be interpolated
        members.append(Member(name, point, path))
    return Family(arch, scale, tuple(members))


def auto_family(scale: int) -> Family:
    """The family ``-m auto`` walks at ``scale``: that of the model ``auto`` takes for lossy
    input (:func:`srup.models.shipped.default_model`), fsrcnn at ×2–×4 today."""
    from srup.models.shipped import default_model

    return family(split_name(default_model(scale, lossy=True))[0], scale)


def _walkable(scale: int) -> list[str]:
    """The architectures whose family at ``scale`` has a member beside the clean one (what
    a strength can walk), by name."""
    arches = sorted({split_name(n)[0] for (n, sc) in shipped() if sc == scale})
    out = []
    for arch in arches:
        fam = family(arch, scale)
        if len(fam.members) > 1 and fam.members[0].name == arch:
            out.append(arch)
    return out


def choose(model: str, scale: int, s: float, strict: bool = True) -> Blend:
    """The weights ``model`` at ``scale`` gets at strength ``s``, used to the nearest
    :data:`STEP` (:func:`rounded`; the blend's ``asked`` keeps ``s``): with ``auto``, 0 is
    the clean model ``auto`` takes for lossless input (:func:`srup.models.shipped.default_model`:
    the same as today, which at ×4 is espcn7, not fsrcnn) and above 0 a point of
    :func:`auto_family`; a clean model's name (``fsrcnn``) walks its own family; beyond
    the chain's ends, the nearest member (:meth:`Family.blend`, :meth:`Family.beyond`).
    :class:`~srup.errors.InvalidArgument` for a variant's name (``fsrcnn-real``: a strength
    is a point on a family, named by its clean model), and, when ``strict`` (a strength
    given, not chosen by ``--denoise auto``), for a strength above 0 on a family of the
    clean model alone (``-m espcn7 -s 2 --denoise 0.8``: no real or capture weights, so
    nothing to walk; the message names the models that have them);
    :class:`~srup.errors.UnknownModelError` for a model or scale srup does not ship."""
    from srup.models.catalog import model_names
    from srup.models.shipped import default_model

    r = rounded(s)
    if model == "auto":
        if r == 0.0:
            clean = default_model(scale)
            return Blend(0.0, Member(clean, 0.0, shipped()[(clean, scale)]), asked=s)
        fam = auto_family(scale)
        arch = fam.arch
    else:
        arch, variant = split_name(model)
        if model not in model_names():
            raise UnknownModelError(
                f"unknown model {model!r}; available: {', '.join(model_names())}"
            )
        if variant:
            raise InvalidArgument(
                f"denoise walks a model family from its clean member: give the model {arch} "
                f"(-m {arch}) or auto with it, not {model}"
            )
        fam = family(arch, scale)
        if not fam.members or fam.members[0].name != arch:
            have = sorted(s_ for (n, s_) in shipped() if n == arch)
            raise UnknownModelError(
                f"no shipped {arch} weights for ×{scale}; available scales for {arch}: "
                f"{', '.join(map(str, have)) or 'none'}"
            )
    if strict and len(fam.members) < 2 and r not in {m.point for m in fam.members}:
        others = [a for a in _walkable(scale) if a != arch]
        ways = [f"-m {a}" for a in others] + ["--denoise 0"]
        use = ", ".join(ways[:-1]) + (" or " if len(ways) > 1 else "") + ways[-1]
        who = arch if model != "auto" else f"auto's model at ×{scale}, {arch},"
        raise InvalidArgument(
            f"--denoise {s:g}: {who} has no real or capture weights at ×{scale}; use {use}"
        )
    return fam.blend(r, asked=s)


# ------------------------------------------------------------------------- interpolation


def interpolate(
    a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor], t: float
) -> dict[str, torch.Tensor]:
    """``(1 − t)·a + t·b`` per tensor, in float32 (DNI, Wang et al. 2019): ``t = 0`` gives
    ``a``'s values, ``t = 1`` ``b``'s, ``t = 0.5`` their average, exactly. Non-float
    tensors (counters) must be equal and are taken from ``a``.
    :class:`~srup.errors.BadWeightsError` when the two do not hold the same tensors of the
    same shapes."""
    return mix_states([(a, 1.0 - t), (b, t)])


def mix_states(
    parts: Sequence[tuple[Mapping[str, torch.Tensor], float]], source: object = "weights"
) -> dict[str, torch.Tensor]:
    """``Σ wᵢ·θᵢ`` per tensor over ``parts`` = ``[(state, w), ...]``, in float32, summed in
    the order given (so two parts give ``(1 − t)·θ_a + t·θ_b``). ``source`` names the
    files in errors."""
    import torch

    first = parts[0][0]
    for state, _ in parts[1:]:
        if set(state) != set(first):
            odd = sorted(set(state) ^ set(first))[:3]
            raise BadWeightsError(f"{source}: cannot interpolate: tensors differ ({odd})")
    out: dict[str, torch.Tensor] = {}
    for key, tensor in first.items():
        shapes = {tuple(state[key].shape) for state, _ in parts}
        if len(shapes) > 1:
            raise BadWeightsError(
                f"{source}: cannot interpolate: tensor {key} has shapes {sorted(shapes)}"
            )
        if not tensor.is_floating_point():
            if any(not torch.equal(state[key], tensor) for state, _ in parts[1:]):
                raise BadWeightsError(f"{source}: cannot interpolate: tensor {key} differs")
            out[key] = tensor.clone()
            continue
        total = None
        for state, w in parts:
            term = float(w) * state[key].to(torch.float32)
            total = term if total is None else total + term
        out[key] = total
    return out


def load_mix(mix: Sequence[tuple[Path, float]]) -> dict[str, torch.Tensor]:
    """The interpolated state of a :attr:`Blend.mix` (each file checked by
    :func:`srup.models.weights.load_state`)."""
    from srup.models.weights import load_state

    parts = [(load_state(path)[0], w) for path, w in mix]
    names = " + ".join(f"{w:.3g}×{path.name}" for path, w in mix)
    return mix_states(parts, source=names)

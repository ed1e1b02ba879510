"""What a weight set is, apart from how it runs (after spandrel's ``ModelDescriptor``).

A :class:`ModelDescriptor` names one set of weights (``fsrcnn-real`` at ×3, or a file the
user trained) and says everything a runner needs to know about it: the architecture, the
scale, what it reads (BT.601 Y, or RGB), the precisions it runs in, how far it sees,
the degradation it was trained for, and how to build each of its forms (``train``,
``infer``, ``export``: :mod:`srup.models.layers`). The runners (the host tiler, the
device-resident tiler, ONNX export) take it from there and own the numerics; nothing about a
device lives here. What a runner asks of a weight set is all here: its ``name``, ``scale``,
``channels``, ``receptive_radius``, ``metadata`` and ``denoise``, whether it runs in a
precision (:meth:`ModelDescriptor.require_precision`, else
:class:`~srup.errors.UnsupportedPrecision`) and the network to run
(:meth:`ModelDescriptor.runnable`); a weight set of another kind is another descriptor.

A network in hand (one being trained, validated as it trains) is a descriptor too
(:meth:`ModelDescriptor.from_network`), run by the same Upscaler as a file's weights.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from srup import arguments
from srup.devices import precision_name
from srup.errors import BadWeightsError, InvalidArgument, UnknownModelError, UnsupportedPrecision
from srup.models import registry
from srup.models.catalog import model_names
from srup.models.denoise import Blend, choose
from srup.models.denoise import parse as parse_denoise
from srup.models.shipped import default_model
from srup.models.weights import (
    load_into,
    load_state,
    path_for,
    read_weights_header,
    shipped,
    split_name,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["DEFAULT_SCALE", "ModelDescriptor", "describe", "weights_scale"]

DEFAULT_SCALE = 3  # the scale asked for when neither a scale nor a weights file says


@dataclass(frozen=True)
class ModelDescriptor:
    """One weight set. Build it with :func:`describe` (a shipped model or a weights file)
    or :meth:`from_network` (a network in hand)."""

    name: str  # as `srup models` lists it: fsrcnn, fsrcnn-real, or the architecture's name
    spec: registry.ModelSpec
    scale: int
    path: Path | None = None  # the weights file; None for a network in hand
    metadata: Mapping[str, str] = field(default_factory=dict)
    # --denoise (srup.models.denoise): the strength this weight set stands for, None when none was
    # asked; ``mix``: the files whose weights are interpolated and their coefficients
    # (empty: ``path`` alone).
    denoise: float | None = None
    mix: tuple[tuple[Path, float], ...] = ()
    # A network in hand (:meth:`from_network`), whose weights are used as they are.
    network: nn.Module | None = field(default=None, compare=False, repr=False)
    # The form the runners run (:meth:`runnable`): ``infer`` for weights files; ``train``
    # for a network being trained, scored exactly as it trains.
    runs_as: str = "infer"

    @classmethod
    def from_network(
        cls,
        net: nn.Module,
        spec: registry.ModelSpec,
        scale: int,
        input_space: str | None = None,
        runs_as: str = "train",
    ) -> ModelDescriptor:
        """The weight set of ``net``, a network of ``spec`` at ``scale``, as it is now (each
        build copies it). ``input_space``: what it reads, Y or RGB; by default what its
        channels say (every srup network is a :class:`~srup.models.layers.BicubicResidual`).
        It runs in its ``train`` form by default, so that a training run's validation
        scores the very function it trains (the ``infer`` rewrites move a PSNR in its last
        digits, and the best weights are picked by it)."""
        if input_space is None:
            input_space = "RGB" if net.channels == 3 else "Y"
        meta = {"model": spec.name, "scale": str(scale), "input_space": input_space}
        return cls(spec.name, spec, scale, metadata=meta, network=net, runs_as=runs_as)

    @property
    def input_space(self) -> str:
        """What the network reads: ``Y`` (BT.601 luma; chroma and alpha go by bicubic) or
        ``RGB`` (weights trained with ``srup train --input rgb``), from the header."""
        return self.metadata.get("input_space", "Y")

    @property
    def channels(self) -> int:
        """Channels of the network's input and output."""
        return 3 if self.input_space == "RGB" else 1

    @property
    def macs_per_pixel(self) -> float:
        """Multiply-accumulates per output pixel (the network and its bicubic path)."""
        return self.spec.macs_per_pixel(self.scale, self.input_space)

    @property
    def precisions(self) -> tuple[str, ...]:
        """The precisions its learned layers run in (fp32 always; fp16 and bf16 where the
        quality bound of benchmarks/precision.py holds; int8, on CPUs, where the weights
        file has a calibration beside it: :mod:`srup.models.int8`)."""
        if self._int8_calibrated():
            return (*self.spec.precisions, "int8")
        return self.spec.precisions

    def _int8_calibrated(self) -> bool:
        """Whether these weights are a plain weights file of srup's, Y in, whose bytes
        ``int8.json`` beside it calibrates (:func:`srup.models.int8.calibrated`)."""
        if self.network is not None or self.mix or self.foreign or self.input_space != "Y":
            return False
        from srup.models.int8 import calibrated

        return calibrated(self.path)

    @property
    def receptive_radius(self) -> int:
        """How far, in input pixels, an input pixel reaches into the output: the overlap
        every tiler gives its tiles (at least the bicubic path's 2)."""
        return self.spec.overlap(self.scale)

    @property
    def tiling(self) -> tuple[str, str]:
        """The tiling guarantee and why, in one line: ``exact`` (tiled equals untiled: the
        overlap is the receptive radius, computed from srup's layers or measured on another
        project's weights) or ``bounded`` (an overlap whose difference from an untiled run
        is measured per architecture family: :mod:`srup.models.foreign.reach`)."""
        why = f"receptive radius {self.receptive_radius} px, from the layers: tiled equals untiled"
        return self.metadata.get("tiling", "exact"), self.metadata.get("tiling_why", why)

    @property
    def tile_alignment(self) -> int:
        """The period, in input pixels, on which every tile's read must start for the tiling
        to hold (1 for srup's networks: they compute every pixel alike; a windowed-attention
        network's window, measured: :mod:`srup.models.foreign.reach`)."""
        return int(self.metadata.get("tile_alignment", 1))

    @property
    def foreign(self) -> bool:
        """Whether the weights are another project's (recognised by spandrel)."""
        return "loader" in self.metadata

    @property
    def degradation(self) -> str:
        """The input it was trained for, as ``srup train --degradation`` spells it."""
        return self.metadata.get("degradation", "clean")

    def require_precision(self, precision: str) -> None:
        """Nothing when the weight set runs in ``precision`` (fp32, fp16, bf16, int8);
        :class:`~srup.errors.UnsupportedPrecision`, naming those it runs in, otherwise."""
        if precision not in self.precisions:
            if precision == "int8":
                from srup.models.int8 import calibrated_names, table_problem
                from srup.models.weights import weights_dir

                have = ", ".join(calibrated_names(weights_dir())) or "no weight set here"
                broken = None if self.path is None else table_problem(self.path.parent)
                if broken:
                    raise UnsupportedPrecision(
                        f"{self.name} ×{self.scale} has no int8 calibration: {broken}"
                    )
                if self.path is not None and self.path.parent != weights_dir():
                    # A --weights file: its name, and what would calibrate it.
                    raise UnsupportedPrecision(
                        f"{self.path.name} has no int8 calibration (no int8.json beside it "
                        f"lists its sha256); int8 runs only the shipped {have}"
                    )
                raise UnsupportedPrecision(
                    f"{self.name} ×{self.scale} has no int8 calibration; int8 runs only {have}"
                )
            why = self.metadata.get(f"{precision}_left_out")
            raise UnsupportedPrecision(
                f"{self.name} does not run in {precision}{f' ({why})' if why else ''}; use "
                f"{' or '.join(self.precisions)}"
            )

    def runnable(self, dtype: torch.dtype) -> nn.Module:
        """The network a runner runs in ``dtype``, on the CPU: :meth:`build` in the form
        :attr:`runs_as` says, once :meth:`require_precision` has let ``dtype`` through. For
        int8 (``torch.qint8``) the float32 infer form with its learned layers quantized
        (:func:`srup.models.int8.quantize`), to run in float32 around them."""
        precision = precision_name(dtype)
        self.require_precision(precision)
        if precision != "int8":
            return self.build(self.runs_as, dtype)
        from srup.models.int8 import CalibrationError, quantize, stored_calibration

        try:
            return quantize(self.build("infer"), stored_calibration(self.path))
        except CalibrationError as e:
            # Checked here, when int8 runs: a damaged entry does not stop float32.
            name = self.path.name if self.path is not None else self.name
            raise UnsupportedPrecision(
                f"{name}: its int8 calibration in int8.json cannot be used ({e}); "
                "run --precision fp32, or calibrate again (benchmarks/int8.py --calibrate)"
            ) from None

    def build(self, form: str = "train", dtype: torch.dtype | None = None) -> nn.Module:
        """The network with these weights, on the CPU, in ``form``: ``train`` (plain,
        differentiable), ``infer`` (rewritten for speed under a tiler, for ``dtype``, float32
        by default) or ``export`` (float32, NCHW, ops an exporter can trace)."""
        import torch

        from srup.models.forms import for_inference
        from srup.models.layers import FORMS, set_form

        arguments.choice("form", form, FORMS)
        net = self._weighted()
        if form == "infer":
            return for_inference(net, dtype or torch.float32)
        set_form(net, form)
        return net.eval() if form == "export" else net

    def _weighted(self) -> nn.Module:
        """A fresh network in its ``train`` form holding these weights, on the CPU."""
        if self.network is not None:
            import copy

            return copy.deepcopy(self.network).cpu()
        if self.mix:
            from srup.models.denoise import load_mix

            state = load_mix(self.mix)
        else:
            state, _meta = load_state(self.path)
        net = self.spec.create(self.scale, self.input_space)
        load_into(net, state, self.path)
        return net


def describe(
    model: str = "auto",
    scale: int | None = None,
    weights: str | os.PathLike[str] | None = None,
    lossy: bool = False,
    denoise: str | float = "auto",
) -> ModelDescriptor:
    """The weight set :func:`srup.load` would run: a shipped ``model`` (``auto``: the best
    fast shipped model for ``scale``, its real-photo variant when ``lossy``), or the file
    ``weights``: srup's (its header names its architecture and scale) or another project's
    (``.pth``, ``.ckpt``, ``.safetensors``: :mod:`srup.models.foreign`, with the
    ``srup[models]`` extra). ``scale``: None for the file's own, or ×3 without a file.

    ``denoise``: ``"auto"`` (the above), or a strength from 0 to 1 on the family of
    ``model`` (``auto`` or a clean model's name such as ``fsrcnn``): 0 the clean model,
    0.5 the real-photo variant, 1 the capture variant, the weights of the two around it
    interpolated in between (:mod:`srup.models.denoise`); strengths are used to the nearest 0.05,
    and beyond the family's last (or first) member shipped, that member runs; ``name``
    then says what was built (``fsrcnn-clean+real@0.30``) and ``denoise`` the strength
    that runs.

    Raises :class:`~srup.errors.InvalidArgumentType` for arguments of the wrong type (a
    ``scale`` that is not an integer, a ``model`` that is not a string);
    :class:`~srup.errors.UnknownModelError` for a name or scale srup does not offer, saying
    what it does (every name ``model`` accepts: ``auto``, the shipped models and their
    variants); :class:`~srup.errors.BadWeightsError` for a weights file that is not srup's
    or whose header does not parse; :class:`~srup.errors.InvalidArgument` for a strength
    out of range, or with ``weights``, ``lossy=True`` or a variant's name (``fsrcnn-real``),
    where it has no family to walk, and for a strength above 0 on a model with neither
    real nor capture weights at ``scale`` (``espcn7`` at ×2)."""
    model = arguments.text("model", model)
    if scale is None:  # the file's own scale, or ×3
        scale = (weights_scale(weights) if weights is not None else None) or DEFAULT_SCALE
    scale = arguments.integer("scale", scale)
    lossy = arguments.boolean("lossy", lossy)
    strength = parse_denoise(denoise)
    if strength != "auto":
        if weights is not None:
            raise InvalidArgument(
                "denoise: a --weights file is one weight set, with nothing to interpolate; "
                "leave denoise at auto, or use -m auto / a shipped clean model"
            )
        if lossy:
            raise InvalidArgument("give lossy=True or a denoise strength, not both")
        return _blended(model, scale, float(strength))
    if weights is not None:
        weights = arguments.path("weights", weights)
        if _is_foreign(weights, model):
            return _foreign(weights, model, scale)
        model, path, meta = _from_file(model, scale, weights)
    else:
        model, path, meta = _shipped(model, scale, lossy)
    spec = registry.get(split_name(model)[0])
    if scale not in spec.scales:
        raise UnknownModelError(
            f"{model} does not support ×{scale}; scales: {', '.join(map(str, spec.scales))}"
        )
    space = meta.get("input_space", "Y")
    if space not in spec.input_spaces:
        raise UnknownModelError(f"{path}: {spec.name} cannot read {space}")
    return ModelDescriptor(name=model, spec=spec, scale=scale, path=path, metadata=meta)


def _is_foreign(weights: Path, model: str) -> bool:
    """Whether ``weights`` is another project's file: a pickle (``.pth``, ``.ckpt``), or a
    safetensors file whose header names no architecture of srup's (a headerless one is
    srup's when ``--model`` names the architecture). A ``.safetensors`` file that is not
    safetensors (damaged, or a pickle renamed) is srup's to report, in its words."""
    from srup.models.foreign.checkpoint import file_kind

    if not weights.is_file():
        return False  # srup's reading says it is missing
    try:
        kind = file_kind(weights)
    except OSError:
        return False
    if kind != "safetensors":
        return weights.suffix.lower() != ".safetensors"
    named = read_weights_header(weights).model
    if named is not None:
        return named not in registry.names()
    return model == "auto" or not _names_fit(weights, model)


def _names_fit(weights: Path, model: str) -> bool:
    """Whether the tensors of the headerless safetensors file ``weights`` are named as the
    srup architecture ``model`` names its own (an unknown ``model``: taken as fitting,
    for :func:`describe` to refuse by name)."""
    from srup.models.weights import read_header

    arch = split_name(model)[0]
    if arch not in registry.names():
        return True
    spec = registry.get(arch)
    own = set(spec.create(spec.scales[0]).state_dict())
    return set(read_header(weights)) - {"__metadata__"} <= own


def _foreign(weights: Path, model: str, scale: int) -> ModelDescriptor:
    """The descriptor of another project's weights file, at its own scale."""
    from srup.errors import MissingExtraError
    from srup.models.foreign.describe import describe_file

    if model != "auto":
        raise UnknownModelError(
            f"{weights}: --model names srup's architectures; another project's file runs "
            "as the file says (drop --model)"
        )
    named = read_weights_header(weights).model if weights.suffix == ".safetensors" else None
    try:
        described = describe_file(weights)
    except (MissingExtraError, BadWeightsError) as e:
        if named is not None:  # a header naming what srup does not have: say what it has
            raise BadWeightsError(
                f"{weights}: the header names model {named!r}, which is not an architecture "
                f"srup has ({', '.join(registry.names())}), and {_reason(e)}"
            ) from None
        if weights.suffix.lower() == ".safetensors" and isinstance(e, MissingExtraError):
            raise MissingExtraError(
                f"{weights}: the header names no model: pass --model for srup's own weights; "
                f"{_reason(e)}"
            ) from None
        raise
    if described.scale != scale:
        raise UnknownModelError(
            f"{weights}: these weights are for ×{described.scale}, not ×{scale}"
        )
    return described


def _reason(error: Exception) -> str:
    """An error's text without the path it starts with."""
    return str(error).split(": ", 1)[-1]


def weights_scale(weights: str | os.PathLike[str]) -> int | None:
    """The scale of the weights file ``weights``: its header's for srup's files, the one
    spandrel reads from the tensors for another project's; None where srup's header does
    not say. Raises what :func:`describe` raises for a file it cannot use."""
    path = arguments.path("weights", weights)
    if _is_foreign(path, "auto"):
        from srup.models.foreign.describe import describe_file

        return describe_file(path).scale
    return read_weights_header(path).scale


def _from_file(model: str, scale: int, weights: Path) -> tuple[str, Path, dict[str, str]]:
    """The model name, path and metadata of the weights file ``weights`` asked for as
    ``model`` (``auto``: the one its header names) at ``scale``, checked against its
    header (:func:`describe` says how)."""
    header = read_weights_header(weights)
    named = header.model or ""
    if named and named not in registry.names():
        raise BadWeightsError(
            f"{weights}: the header names model {named!r}, which is not an architecture "
            f"srup has ({', '.join(registry.names())})"
        )
    if model == "auto":
        model = named
        if not model:
            raise UnknownModelError(f"{weights}: the header names no model; pass --model")
    elif named and split_name(model)[0] != named:
        raise UnknownModelError(
            f"{weights}: these weights are for {named}, not {model}; drop --model or "
            f"pass --model {named}"
        )
    if header.scale is not None and header.scale != scale:
        raise UnknownModelError(f"{weights}: these weights are for ×{header.scale}, not ×{scale}")
    return model, Path(weights), header.metadata


def _shipped(model: str, scale: int, lossy: bool) -> tuple[str, Path, dict[str, str]]:
    """The model name, path and metadata of the shipped ``model`` (``auto``: what it means
    at ``scale`` for ``lossy`` input) at ``scale``."""
    if model == "auto":
        model = default_model(scale, lossy)
    arch, _variant = split_name(model)
    if arch not in registry.names() or model not in model_names():
        raise UnknownModelError(f"unknown model {model!r}; available: {', '.join(model_names())}")
    path = path_for(model, scale)
    if not path.is_file():
        have = sorted(s for (n, s) in shipped() if n == model)
        raise UnknownModelError(
            f"no shipped {model} weights for ×{scale}; available scales for {model}: "
            f"{', '.join(map(str, have)) or 'none'}"
        )
    return model, path, read_weights_header(path).metadata


def _blended(model: str, scale: int, strength: float, strict: bool = True) -> ModelDescriptor:
    """The weight set at ``strength`` on ``model``'s family (:func:`srup.models.denoise.choose`,
    ``strict`` as there): its ``denoise`` is the strength that runs (to the nearest 0.05,
    or a member's point beyond the chain's ends); the metadata keeps the one asked for
    (``denoise_asked``) when it differs."""
    blend = choose(model, scale, strength, strict)
    return from_blend(blend, scale)


def from_blend(blend: Blend, scale: int) -> ModelDescriptor:
    """The weight set of ``blend`` (:class:`srup.models.denoise.Blend`) at ``scale``."""
    described = describe(blend.a.name, scale)
    meta = dict(described.metadata)
    meta["denoise"] = f"{blend.strength:g}"
    if blend.differs:
        meta["denoise_asked"] = f"{blend.asked:g}"
    if blend.b is not None:
        # What was mixed, for whoever reads the metadata: the two files and their shares.
        meta["interpolated"] = f"{1 - blend.t:.4g}×{blend.a.name} + {blend.t:.4g}×{blend.b.name}"
    return ModelDescriptor(
        name=blend.name,
        spec=described.spec,
        scale=scale,
        path=described.path,
        metadata=meta,
        denoise=blend.strength,
        mix=blend.mix,
    )

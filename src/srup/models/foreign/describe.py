"""A weights file of another project as srup's :class:`~srup.models.descriptor.ModelDescriptor`.

The file is read safely (:mod:`srup.models.foreign.checkpoint`), its architecture and
hyper-parameters are recognised by spandrel (chaiNNer's loader, about 40 architectures:
``spandrel.MAIN_REGISTRY``), and what spandrel says about it becomes the descriptor:

- scale, channels (3: RGB; 1: gray, which srup runs on the picture's luma and carries the
  chroma by bicubic), precisions (fp32; fp16 and bf16 where spandrel says the architecture
  supports them), size requirements (padded inside every tile), spandrel's tiling advice;
- the tiling guarantee, measured on the weights (:mod:`srup.models.foreign.reach`);
- for ``srup models --inspect``: parameters, purpose, tags, license where the file says.

Only super-resolution models of one picture are taken (spandrel's purpose ``SR``, the same
channels in and out, 1 or 3): face restoration, inpainting and 1× restoration models are
refused in one line.
"""

from __future__ import annotations

import math
import os
import warnings
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srup.errors import BadWeightsError, MissingExtraError, UnknownModelError
from srup.models.foreign.checkpoint import file_kind, read_state_dict
from srup.models.foreign.measured import Measured, remembered
from srup.models.foreign.reach import Reach, measure, thickened
from srup.models.foreign.spandrel_import import spandrel
from srup.models.foreign.working import working_bytes_per_out_px

if TYPE_CHECKING:
    from srup.models.descriptor import ModelDescriptor
    from srup.models.foreign.network import ForeignNetwork

__all__ = ["describe_file"]


def _descriptor(path: Path) -> Any:
    """spandrel's descriptor for the weights in ``path`` (one line for each way it fails)."""
    try:
        sp = spandrel()
    except MissingExtraError as e:
        raise MissingExtraError(f"{path}: {e}") from None
    state = sp.canonicalize_state_dict(read_state_dict(path))
    _check_layout(path, state)
    try:
        with warnings.catch_warnings():  # their code's deprecation warnings: not the user's
            warnings.simplefilter("ignore")
            desc = sp.ModelLoader().load_from_state_dict(state)
    except sp.UnsupportedModelError:
        raise BadWeightsError(
            f"{path}: not an architecture srup or spandrel {sp.__version__} recognises "
            f"({len(sp.MAIN_REGISTRY.architectures())} known; `srup models` lists srup's)"
        ) from None
    except Exception as e:  # an architecture's loader on a state dict it half-matches
        raise BadWeightsError(
            f"{path}: spandrel could not build the model ({_why_not_built(e)}); is the "
            "file complete, and of one model?"
        ) from None
    _check_dtypes(path, desc, state)
    return desc


def _check_layout(path: Path, state: dict[str, Any]) -> None:
    """Refuse, before spandrel builds anything, a state dict whose shape would make it build
    a network far larger than the file: spandrel reads the number of blocks from the
    highest layer number in the keys and window sizes from tensor shapes, and builds the
    whole network before loading checks a tensor (a 73 KB file with one key numbered 10⁸
    grew past 6 GB). A real network numbers its layers densely, a few numbers per tensor
    at most (ReLUs have none), and none of its tensors is empty."""
    most = 4 * len(state) + 16
    for key, value in state.items():
        if value.numel() == 0:
            raise BadWeightsError(
                f"{path}: tensor {key} has no values (shape {tuple(value.shape)}); not weights "
                "as a network saves them"
            )
        numbers = [int(part) for part in key.split(".") if part.isdigit()]
        if numbers and max(numbers) > most:
            raise BadWeightsError(
                f"{path}: key {key[:80]} numbers a layer {max(numbers)}, but the file holds "
                f"{len(state)} tensors; its numbering would build a network far larger "
                "than the file"
            )


def _why_not_built(e: Exception) -> str:
    """What an architecture's loader said, in one line: a key it looked up and did not
    find (a bare ``KeyError``), or the first lines of PyTorch's ``load_state_dict`` error
    (missing, unexpected and mis-shaped tensors)."""
    if isinstance(e, KeyError) and len(e.args) == 1 and isinstance(e.args[0], str):
        return f"tensor {e.args[0]} is missing"
    lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
    return " ".join(lines[:2])[:300] if lines else type(e).__name__


def _check_dtypes(path: Path, desc: Any, state: dict[str, Any]) -> None:
    """Refuse integer or boolean tensors where the network has floating-point weights
    (loading would cast them, and the network would turn every picture black or white)."""
    own = desc.model.state_dict()
    for key, value in state.items():
        mine = own.get(key)
        if mine is not None and mine.is_floating_point() and not value.is_floating_point():
            raise BadWeightsError(
                f"{path}: tensor {key} is {str(value.dtype).removeprefix('torch.')}, "
                "the network needs floating-point weights"
            )


def _check_kind(path: Path, desc: Any) -> None:
    sp = spandrel()
    name = desc.architecture.name
    if not isinstance(desc, sp.ImageModelDescriptor):
        raise UnknownModelError(f"{path}: {name} is an inpainting model, not super-resolution")
    if desc.purpose == "FaceSR":
        raise UnknownModelError(
            f"{path}: {name} restores aligned faces, not whole pictures; srup runs "
            "super-resolution models"
        )
    if desc.scale < 2:
        raise UnknownModelError(
            f"{path}: a ×{desc.scale} {desc.purpose.lower()} model of {name}; srup runs "
            "super-resolution models (×2 and up)"
        )
    if desc.input_channels != desc.output_channels or desc.input_channels not in (1, 3):
        raise UnknownModelError(
            f"{path}: {name} maps {desc.input_channels} channels to {desc.output_channels}; "
            "srup runs models of 3 channels (RGB) or 1 (gray)"
        )


_PROBE = 20  # pixels a side: not a multiple of common windows, nor a size built for
_THICK = 64  # the reach probes' thickness for networks that cannot take 8 pixels


def _precisions(desc: Any, net: ForeignNetwork) -> tuple[tuple[str, ...], dict[str, str]]:
    """The precisions the network runs in: fp32, and fp16 and bf16 where spandrel says the
    architecture supports them and a copy of the network, in that precision, runs a small
    probe on the CPU (SwinIR says bf16, then builds float32 attention masks at sizes other
    than the one it was built for). And why each one spandrel claims is left out."""
    import copy

    import torch

    claimed = {"fp16": desc.supports_half, "bf16": desc.supports_bfloat16}
    runs, why = ["fp32"], {}
    for name, dtype in (("fp16", torch.float16), ("bf16", torch.bfloat16)):
        if not claimed[name]:
            continue
        failure = _probe_failure(copy.deepcopy(net).to(dtype))
        # A probe float32 cannot run either is the probe's size, not the precision: as
        # spandrel says (SwinIR with 32-pixel windows cannot reflect 20 pixels into 32).
        if failure is None or _probe_failure(net) is not None:
            runs.append(name)
        else:
            why[name] = f"declared by spandrel, but fails here: {failure[:100]}"
    return tuple(runs), why


def _probe_failure(net: ForeignNetwork) -> str | None:
    """The first line of what ``net`` raises on a :data:`_PROBE`-pixel square, or None
    when it runs."""
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net.picture(torch.rand(1, net.channels, _PROBE, _PROBE))
    except RuntimeError as e:
        return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return None


def _requirements(desc: Any) -> str:
    req = desc.size_requirements
    parts = [f"at least {req.minimum} px"] * (req.minimum > 0)
    parts += [f"a multiple of {req.multiple_of} px"] * (req.multiple_of > 1)
    parts += ["square"] * bool(req.square)
    return ", ".join(parts) or "none"


def _alignment(desc: Any, reach: Reach) -> int:
    """The period every tile starts on: the measured one for an exact tiling; for a bounded
    one (a network that sees the whole picture, where no period can be measured) the
    window its hyper-parameters name (``window_size``: SwinIR, HAT, OmniSR), so that at
    least its windows fall where the whole picture's do, else 1."""
    if reach.guarantee == "exact":
        return reach.alignment
    window = getattr(desc.model, "window_size", None)
    if isinstance(window, (tuple, list)):
        window = math.lcm(*[int(w) for w in window]) if window else None
    return int(window) if isinstance(window, int) and 1 <= window <= 64 else 1


def _metadata(path: Path, desc: Any, reach: Reach) -> dict[str, str]:
    sp = spandrel()
    params = sum(math.prod(p.shape) for p in desc.model.parameters())
    meta = {
        "model": desc.architecture.id,
        "architecture": desc.architecture.name,
        "scale": str(desc.scale),
        "input_space": "RGB" if desc.input_channels == 3 else "Y",
        "parameters": str(params),
        "purpose": desc.purpose,
        "tags": ", ".join(desc.tags),
        "size_requirements": _requirements(desc),
        "spandrel_tiling": desc.tiling.name.lower(),
        "tiling": reach.guarantee,
        "overlap": str(reach.overlap),
        "tile_alignment": str(_alignment(desc, reach)),
        "receptive_radius": "unbounded" if reach.radius is None else str(reach.radius),
        "tiling_why": reach.why,
        "loader": f"spandrel {sp.__version__}",
    }
    if file_kind(path) == "safetensors":
        from srup.models.weights import read_metadata

        carried = read_metadata(path)
        for key in ("license", "author", "source", "description"):
            for k, v in carried.items():
                if k.lower().endswith(key) and key not in meta:
                    meta[key] = v
    return meta


@lru_cache(maxsize=32)
def _described(path: Path, _stamp: tuple[int, int]) -> ModelDescriptor:
    from srup.models.descriptor import ModelDescriptor
    from srup.models.foreign.network import ForeignNetwork
    from srup.models.registry import ModelSpec

    desc = _descriptor(path)
    _check_kind(path, desc)
    desc.model.float().eval()
    net = ForeignNetwork(desc)
    loader = f"spandrel {spandrel().__version__}"

    def measured() -> Measured:
        try:
            reach = measure(net.picture, net.channels, net.scale)
        except RuntimeError:  # too thin a probe for its windows: measured on thicker ones
            reach = measure(thickened(net.picture, _THICK), net.channels, net.scale)
        runs, why = _precisions(desc, net)
        return Measured(reach, working_bytes_per_out_px(net), runs, tuple(why.items()))

    reach, net.measured_bytes_per_out_px, precisions, left_out = remembered(path, loader, measured)
    meta = _metadata(path, desc, reach)
    meta["working_bytes_per_out_px"] = f"{net.measured_bytes_per_out_px:.0f}"

    def build(scale: int, channels: int = net.channels) -> ForeignNetwork:
        import copy

        return copy.deepcopy(net)

    for name, text in left_out:
        meta[f"{name}_left_out"] = text
    spec = ModelSpec(
        name=desc.architecture.id,
        title=desc.architecture.name,
        paper="",
        build=build,
        receptive_radius=lambda _scale: reach.overlap,
        scales=(net.scale,),
        input_spaces=(meta["input_space"],),
        precisions=precisions,
    )
    name = f"{desc.architecture.id}:{path.name}"
    return ModelDescriptor(
        name, spec, net.scale, path=path, metadata=meta, network=net, runs_as="train"
    )


def describe_file(path: str | os.PathLike[str]) -> ModelDescriptor:
    """The descriptor of the weights file ``path`` of another project (the module doc says
    what it holds), built once per file version in a process.

    Raises :class:`~srup.errors.MissingExtraError` without spandrel,
    :class:`~srup.errors.BadWeightsError` for a file that cannot be read safely or is no
    architecture spandrel recognises, :class:`~srup.errors.UnknownModelError` for a model
    that is not single-picture super-resolution."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError as e:
        raise BadWeightsError(f"{path}: weights file not found ({e.strerror or e})") from None
    return _described(path.resolve(), (st.st_mtime_ns, st.st_size))

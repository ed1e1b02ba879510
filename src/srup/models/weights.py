"""Weights files: safetensors only, with srup's metadata in the header.

Header metadata (all strings, as safetensors requires): ``model``, ``scale``, and what is
known of the training: ``data``, ``steps``, ``seconds``, ``val_psnr``, ``set5_psnr``,
``command``. Nothing is ever unpickled.

What a file says is checked before it is used, and every way it can be wrong is a one-line
:class:`~srup.errors.BadWeightsError`: a header that is not safetensors' (tensor entries
without a dtype, a shape or offsets; metadata that is not strings), srup fields that do not
parse (:func:`read_weights_header`: ``scale`` "abc" or "2.0", ``input_space`` other than Y
or RGB), and tensors holding NaN or ±Inf (:func:`load_state`), which would otherwise load
and turn every picture black.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srup.errors import BadWeightsError

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "INPUT_SPACES",
    "WeightsHeader",
    "check_tensors",
    "load_state",
    "parameter_count",
    "path_for",
    "read_header",
    "read_metadata",
    "read_weights_header",
    "save_state",
    "shipped",
    "split_name",
    "weights_dir",
]

_PICKLE_MAGIC = (b"\x80", b"PK\x03\x04")
INPUT_SPACES = ("Y", "RGB")  # what a network may read; the header's ``input_space``
MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit
# Bits per value of every dtype the safetensors format names.
_DTYPE_BITS = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "F64": 64,
    "I64": 64,
    "U64": 64,
    "C64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}


def weights_dir() -> Path:
    """The shipped weights: ``$SRUP_WEIGHTS`` if set, else inside the package in a wheel,
    else at the repository root (source checkout or editable install)."""
    override = os.environ.get("SRUP_WEIGHTS")
    if override:
        return Path(override)
    package = Path(__file__).resolve().parents[1]  # src/srup, or site-packages/srup
    for candidate in (package / "weights", package.parents[1] / "weights"):
        if candidate.is_dir():
            return candidate
    return package / "weights"


def path_for(model: str, scale: int) -> Path:
    return weights_dir() / f"{model}_x{scale}.safetensors"


def split_name(name: str) -> tuple[str, str]:
    """A shipped model's name is ``ARCH`` or ``ARCH-VARIANT``: ``fsrcnn-real`` →
    ``("fsrcnn", "real")``, ``espcn`` → ``("espcn", "")``."""
    arch, _, variant = name.partition("-")
    return arch, variant


def shipped() -> dict[tuple[str, int], Path]:
    """``(model, scale) → path`` for every shipped weights file."""
    found = {}
    for path in sorted(weights_dir().glob("*_x*.safetensors")):
        name, _, scale = path.stem.rpartition("_x")
        if scale.isdigit():
            found[(name, int(scale))] = path
    return found


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise BadWeightsError(f"{path}: weights file not found")
    try:
        with open(path, "rb") as f:
            head = f.read(9)
    except OSError as e:
        raise BadWeightsError(f"{path}: cannot read ({e.strerror or e})") from None
    # A safetensors file is an 8-byte header length and then a JSON object; its first byte
    # may well be 0x80, so only files that are not that are checked for pickle magic.
    size = int.from_bytes(head[:8], "little")
    if len(head) == 9 and head[8:9] == b"{" and 0 < size <= path.stat().st_size - 8:
        return
    if head.startswith(_PICKLE_MAGIC):
        raise BadWeightsError(
            f"{path}: a pickle/PyTorch checkpoint, which can run code when loaded, named as "
            "safetensors; srup reads checkpoints safely only as .pth or .ckpt (srup[models])"
        )
    raise BadWeightsError(f"{path}: not a safetensors file")


def read_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON header of a safetensors file: tensor names, dtypes and shapes, and
    ``__metadata__`` (no tensors are read)."""
    path = Path(path)
    _check_file(path)
    try:
        with open(path, "rb") as f:
            size = int.from_bytes(f.read(8), "little")
            if size <= 0 or size > MAX_HEADER_BYTES or size > path.stat().st_size - 8:
                raise ValueError("bad header length")
            header = json.loads(f.read(size))
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise BadWeightsError(f"{path}: not a valid safetensors file ({reason})") from None
    except OSError as e:
        raise BadWeightsError(f"{path}: cannot read ({e.strerror or e})") from None
    problem = _header_problem(header, path.stat().st_size - 8 - size)
    if problem:
        raise BadWeightsError(f"{path}: not a valid safetensors file ({problem})")
    return header


def _header_problem(header: object, data_bytes: int) -> str | None:
    """What is wrong with a parsed safetensors header, or None: the layout the format's
    specification gives (github.com/huggingface/safetensors, "Format"), checked so that no
    reader further on meets a missing key or a string where a number belongs."""
    if not isinstance(header, dict):
        return "header is not an object"
    for key, entry in header.items():
        if key == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                return "__metadata__ must map names to strings"
            continue
        if not isinstance(entry, dict):
            return f"tensor {key!r} is not described by an object"
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if not isinstance(dtype, str) or not dtype:
            return f"tensor {key!r} has no dtype"
        if dtype not in _DTYPE_BITS:
            return f"tensor {key!r} has an unknown dtype {dtype!r}"
        if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
            return f"tensor {key!r} has no valid shape ({shape!r})"
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(type(n) is int for n in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= data_bytes
        ):
            return f"tensor {key!r} has data offsets {offsets!r} outside the file's data"
        if math.ceil(math.prod(shape) * _DTYPE_BITS[dtype] / 8) != offsets[1] - offsets[0]:
            return f"tensor {key!r}: {offsets[1] - offsets[0]} bytes cannot hold {dtype} {shape}"
    return None


def parameter_count(path: str | os.PathLike[str]) -> int:
    """Number of values in a weights file's tensors, from the shapes in its header."""
    header = read_header(path)
    return sum(math.prod(t["shape"]) for k, t in header.items() if k != "__metadata__")


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The header metadata of a safetensors file (no tensors are read)."""
    meta = read_header(path).get("__metadata__") or {}
    return {str(k): str(v) for k, v in meta.items()}


@dataclass(frozen=True)
class WeightsHeader:
    """srup's fields of a weights file's header, parsed and checked.

    ``model``: the architecture the header names (not checked against the registry here:
    that needs torch; :func:`srup.models.descriptor.describe` does it), None when absent.
    ``scale``: the integer scale, None when absent. ``input_space``: ``Y`` or ``RGB``
    (``Y`` when absent). ``metadata``: every header field, as strings."""

    model: str | None
    scale: int | None
    input_space: str
    metadata: dict[str, str]


def read_weights_header(path: str | os.PathLike[str]) -> WeightsHeader:
    """The checked srup fields of a weights file (no tensors are read).

    Raises :class:`~srup.errors.BadWeightsError`, one line naming the field, when the file
    is not safetensors or a field does not parse: ``scale`` must be a whole number written
    in decimal digits, 2 or more ("abc", "2.0", "-2", "1" are refused; a file's scale is
    never guessed); ``input_space`` must be Y or RGB; ``model`` must not be empty when
    present."""
    path = Path(path)
    meta = read_metadata(path)
    model = meta.get("model")
    if model is not None and not model.strip():
        raise BadWeightsError(f"{path}: the header's model is empty")
    scale_text = meta.get("scale")
    scale = None
    if scale_text is not None:
        # isdecimal alone takes other scripts' digits; the length bound keeps int() cheap.
        if not (scale_text.isascii() and scale_text.isdecimal() and len(scale_text) <= 4):
            raise BadWeightsError(
                f"{path}: the header's scale {scale_text!r} is not a whole number such as 2"
            )
        scale = int(scale_text)
        if scale < 2:
            raise BadWeightsError(f"{path}: the header's scale {scale} is below 2")
    space = meta.get("input_space", "Y")
    if space not in INPUT_SPACES:
        raise BadWeightsError(
            f"{path}: the header's input_space {space!r} is not one of {', '.join(INPUT_SPACES)}"
        )
    return WeightsHeader(model=model, scale=scale, input_space=space, metadata=meta)


def load_state(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file, on the CPU.

    Raises :class:`~srup.errors.BadWeightsError` when the file cannot be read, when a
    tensor has a dtype srup cannot run (float8 kinds, complex: only float16, bfloat16,
    float32, float64 and integer tensors are taken), and when a floating-point tensor
    holds NaN or ±Inf (the message names the first such tensor and
    counts its bad values): such weights would load and turn every output black or white,
    reported as done."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    meta = read_metadata(path)
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError, TypeError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BadWeightsError(f"{path}: cannot read weights ({reason})") from None
    check_tensors(path, tensors)
    return tensors, meta


def check_tensors(path: object, tensors: dict[str, torch.Tensor]) -> None:
    """Refuse, in one :class:`~srup.errors.BadWeightsError` line, a tensor of a dtype srup
    cannot run (float8 kinds, complex) and a floating-point tensor holding NaN or ±Inf,
    naming the file ``path`` and the tensor."""
    import torch

    runnable = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
    for key, tensor in tensors.items():
        if (tensor.is_floating_point() or tensor.is_complex()) and tensor.dtype not in runnable:
            kind = str(tensor.dtype).removeprefix("torch.")
            raise BadWeightsError(
                f"{path}: tensor {key} is {kind}, which srup cannot run; weights must be "
                "float32, float16, bfloat16 or float64 (convert them, e.g. to float32)"
            )
        if tensor.is_floating_point():
            bad = int((~torch.isfinite(tensor)).sum())
            if bad:
                raise BadWeightsError(
                    f"{path}: tensor {key} holds {bad} NaN or infinite value"
                    f"{'s' if bad > 1 else ''} of {tensor.numel()}; these weights are "
                    "damaged (a diverged training run?) and would give black pictures"
                )


def load_into(module: nn.Module, state: dict[str, torch.Tensor], source: object) -> None:
    """Copy ``state`` into ``module``, with a readable error on any mismatch."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise BadWeightsError(
            f"{source}: weights do not fit this model (missing {missing[:3]}, "
            f"unexpected {unexpected[:3]}); check --model and --scale"
        )
    for key, tensor in state.items():
        if own[key].is_floating_point() and not tensor.is_floating_point():
            raise BadWeightsError(
                f"{source}: tensor {key} is {str(tensor.dtype).removeprefix('torch.')}, "
                "the model needs floating-point weights"
            )
        if tensor.shape != own[key].shape:
            raise BadWeightsError(
                f"{source}: tensor {key} has shape {tuple(tensor.shape)}, the model needs "
                f"{tuple(own[key].shape)}; check --model and --scale"
            )
    module.load_state_dict(state)


def save_state(
    path: str | os.PathLike[str], tensors: dict[str, torch.Tensor], metadata: dict[str, object]
) -> None:
    """Write a safetensors file atomically (temporary file, fsync, rename)."""
    from safetensors.torch import save

    from srup.files import write_file

    blob = save(
        {k: v.detach().cpu().contiguous() for k, v in tensors.items()},
        metadata={k: str(v) for k, v in metadata.items()},
    )
    write_file(path, lambda f: f.write(blob))

"""Weights files: safetensors only, with srup's metadata in the header.

Header metadata (all strings, as safetensors requires): ``model``, ``scale``, and what is
known of the training: ``data``, ``steps``, ``seconds``, ``val_psnr``, ``set5_psnr``,
``command``. Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import BadWeightsError

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "load_state",
    "parameter_count",
    "path_for",
    "read_header",
    "read_metadata",
    "save_state",
    "shipped",
    "split_name",
    "weights_dir",
]

_PICKLE_MAGIC = (b"\x80", b"PK\x03\x04")


def weights_dir() -> Path:
    """The shipped weights: ``$SRUP_WEIGHTS`` if set, else inside the package in a wheel,
    else at the repository root (source checkout or editable install)."""
    override = os.environ.get("SRUP_WEIGHTS")
    if override:
        return Path(override)
    here = Path(__file__).resolve().parent
    for candidate in (here / "weights", here.parents[1] / "weights"):
        if candidate.is_dir():
            return candidate
    return here / "weights"


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
    with open(path, "rb") as f:
        head = f.read(9)
    # A safetensors file is an 8-byte header length and then a JSON object; its first byte
    # may well be 0x80, so only files that are not that are checked for pickle magic.
    size = int.from_bytes(head[:8], "little")
    if len(head) == 9 and head[8:9] == b"{" and 0 < size <= path.stat().st_size - 8:
        return
    if head.startswith(_PICKLE_MAGIC):
        raise BadWeightsError(
            f"{path}: this is a pickle/PyTorch checkpoint, which can run code when loaded; "
            "srup only loads .safetensors files"
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
            if size <= 0 or size > 100_000_000 or size > path.stat().st_size - 8:
                raise ValueError("bad header length")
            header = json.loads(f.read(size))
    except (ValueError, UnicodeDecodeError) as e:
        raise BadWeightsError(f"{path}: not a valid safetensors file ({e})") from None
    if not isinstance(header, dict):
        raise BadWeightsError(f"{path}: not a valid safetensors file (header is not an object)")
    return header


def parameter_count(path: str | os.PathLike[str]) -> int:
    """Number of values in a weights file's tensors, from the shapes in its header."""
    header = read_header(path)
    return sum(math.prod(t["shape"]) for k, t in header.items() if k != "__metadata__")


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The header metadata of a safetensors file (no tensors are read)."""
    path = Path(path)
    meta = read_header(path).get("__metadata__") or {}
    if not isinstance(meta, dict):
        raise BadWeightsError(f"{path}: malformed safetensors metadata")
    return {str(k): str(v) for k, v in meta.items()}


def load_state(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file, on the CPU."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    meta = read_metadata(path)
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise BadWeightsError(f"{path}: cannot read weights ({e})") from None
    return tensors, meta


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

    from .imageio import write_file

    blob = save(
        {k: v.detach().cpu().contiguous() for k, v in tensors.items()},
        metadata={k: str(v) for k, v in metadata.items()},
    )
    write_file(path, lambda f: f.write(blob))

"""What `srup models` reports: every shipped model (variants included), read without torch.

A listing should not pay torch's import (1.5–3 s): what a model file's header does not say
(title, paper, MACs per pixel) comes from ``weights/architectures.json``, which
:func:`describe_architectures` writes from the registry and a test keeps equal to it.
Parameters are counted from the tensor shapes in the safetensors header. Weights in a folder
without that file (``SRUP_WEIGHTS``) are described through the registry, with torch.
"""

from __future__ import annotations

import json
from contextlib import suppress
from functools import lru_cache
from pathlib import Path
from typing import Any

from srup._moved import names_moved_from
from srup.errors import SrupError
from srup.models.int8 import calibrated
from srup.models.weights import parameter_count, read_metadata, shipped, split_name, weights_dir

__all__ = [
    "ARCHITECTURES_FILE",
    "catalog",
    "describe_architectures",
    "macs_per_pixel",
    "model_names",
]

ARCHITECTURES_FILE = "architectures.json"


def _macs_key(input_space: str) -> str:
    """Where architectures.json keeps the MACs of an input space: ``macs_per_pixel`` for Y,
    ``macs_per_pixel_rgb`` for RGB."""
    return "macs_per_pixel" + ("" if input_space == "Y" else "_" + input_space.lower())


def describe_architectures() -> dict[str, dict[str, Any]]:
    """Title, paper and MACs per output pixel at each scale of every registered model."""
    from srup.models import registry

    return {
        spec.name: {
            "title": spec.title,
            "paper": spec.paper,
            "input_spaces": list(spec.input_spaces),
            **{
                _macs_key(space): {
                    str(s): round(spec.macs_per_pixel(s, space), 1) for s in spec.scales
                }
                for space in spec.input_spaces
            },
        }
        for spec in registry.specs()
    }


@lru_cache(maxsize=4)
def _architectures(folder: Path) -> dict[str, dict[str, Any]]:
    path = folder / ARCHITECTURES_FILE
    with suppress(OSError, ValueError):
        return json.loads(path.read_text())
    return describe_architectures()


def _architecture(arch: str) -> dict[str, Any]:
    known = _architectures(weights_dir())
    if arch not in known:  # a model newer than the cached file
        known = describe_architectures()
    if arch not in known:
        from srup.errors import UnknownModelError

        raise UnknownModelError(f"unknown model {arch!r}; available: {', '.join(sorted(known))}")
    return known[arch]


def model_names() -> list[str]:
    """Every name ``srup.load(model=...)`` and ``srup upscale -m`` accept: ``auto``, then
    each shipped model and variant (``espcn``, ``espcn-real``, ``espcn-rgb``, …), grouped by
    architecture. Read from the weights folder, without torch."""
    names = sorted({n for n, _ in shipped()}, key=lambda n: (split_name(n)[0], n))
    return ["auto", *names]


def macs_per_pixel(arch: str, scale: int) -> float:
    """Multiply-accumulates per output pixel of ``arch`` at ``scale``."""
    return float(_architecture(arch)["macs_per_pixel"][str(scale)])


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def catalog() -> list[dict[str, Any]]:
    """One dict per shipped model name (``fsrcnn``, ``fsrcnn-real``, …): architecture,
    title, paper, scales, what it was trained for, its point on the ``--denoise`` scale
    (``denoise``: 0 clean, 0.5 real, 1 capture, None for a variant outside that chain such as
    ``espcn-rgb``: :mod:`srup.models.denoise`), and per scale (keys are strings, as in
    JSON) parameters, MACs per output pixel, recorded PSNRs and the training command."""
    from srup.models.denoise import CHAIN
    from srup.models.shipped import default_model  # shipped ranks by catalog's MACs

    files = shipped()
    defaults: dict[tuple[int, bool], str] = {}
    for scale in sorted({s for _, s in files}):
        for lossy in (False, True):
            with suppress(SrupError):
                defaults[(scale, lossy)] = default_model(scale, lossy)
    rows = []
    for name in sorted({n for n, _ in files}, key=lambda n: split_name(n)[::-1]):
        arch, variant = split_name(name)
        try:
            about = _architecture(arch)
        except SrupError:
            continue  # a file whose architecture srup does not have
        scales = sorted(s for (n, s) in files if n == name)
        metas = {s: read_metadata(files[(name, s)]) for s in scales}
        # The kind of input each was made for, named as the variant names it: a stage's own
        # degradation spec (espcn7-real ×2's last stage was JPEG only) is in its header.
        trained_for = (
            {variant or "clean"}
            if variant in ("", "real", "capture")
            else {m.get("degradation", "clean") for m in metas.values()}
        )
        space = next((m.get("input_space", "Y") for m in metas.values()), "Y")
        macs_key = _macs_key(space)
        rows.append(
            {
                "name": name,
                "architecture": arch,
                "variant": variant or "clean",
                "denoise": dict(CHAIN).get(variant),
                "trained_for": ", ".join(sorted(trained_for)),
                "input_space": space,
                "title": about["title"],
                "paper": about["paper"],
                "scales": scales,
                "parameters": {str(s): parameter_count(files[(name, s)]) for s in scales},
                # The scales whose weights run in --precision int8 (srup.models.int8).
                "int8_scales": [s for s in scales if calibrated(files[(name, s)])],
                "macs_per_pixel": {str(s): about[macs_key][str(s)] for s in scales},
                "set5_psnr": {str(s): _float(metas[s].get("set5_psnr")) for s in scales},
                "set14_psnr": {str(s): _float(metas[s].get("set14_psnr")) for s in scales},
                "training": {str(s): metas[s].get("command", "") for s in scales},
                "default_for": [s for (s, lossy), n in defaults.items() if n == name and not lossy],
                "default_for_lossy": [
                    s for (s, lossy), n in defaults.items() if n == name and lossy
                ],
            }
        )
    return rows


# default_model and FAST_MACS_1080P lived here before 0.2.0.
__getattr__ = names_moved_from(
    __name__,
    "srup.catalog",
    {
        "default_model": ("srup.models.shipped", "default_model"),
        "FAST_MACS_1080P": ("srup.models.shipped", "FAST_MACS_1080P"),
    },
)

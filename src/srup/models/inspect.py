"""What ``srup models --inspect FILE`` says about a weights file, srup's or another
project's: architecture, scale, parameters, precisions, size requirements, the tiling
guarantee, and the license where the file carries one."""

from __future__ import annotations

import os
from typing import Any

from srup import arguments
from srup.models.descriptor import describe, weights_scale
from srup.models.weights import parameter_count

__all__ = ["inspect_weights"]

# srup's header fields shown as they are, after the ones every file has.
_CARRIED = ("degradation", "data", "steps", "set5_psnr", "command", "license", "author", "source")


def inspect_weights(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The facts about the weights file ``path``, as a JSON-ready mapping (keys in the order
    they are shown). Raises what :func:`srup.models.descriptor.describe` raises for a file
    it cannot use (:class:`~srup.errors.BadWeightsError`, …;
    :class:`~srup.errors.MissingExtraError` for another project's file without spandrel)."""
    path = arguments.path("weights", path)
    scale = weights_scale(path)
    d = describe(weights=path, scale=scale if scale is not None else 3)
    meta = d.metadata
    guarantee, why = d.tiling
    facts: dict[str, Any] = {
        "file": str(path),
        "architecture": meta.get("architecture", d.spec.title),
        "loader": meta.get("loader", "srup"),
        "scale": d.scale,
        "input": "RGB" if d.channels == 3 else ("gray (run on luma)" if d.foreign else "Y"),
        "parameters": int(meta["parameters"]) if d.foreign else parameter_count(path),
        "precisions": list(d.precisions),
        "size_requirements": meta.get("size_requirements", "none"),
        "tiling": guarantee,
        "overlap": d.receptive_radius,
        "tiling_why": why,
    }
    for key in ("purpose", "tags", "spandrel_tiling"):
        if meta.get(key):
            facts[key] = meta[key]
    left_out = {p: meta[f"{p}_left_out"] for p in ("fp16", "bf16") if meta.get(f"{p}_left_out")}
    if left_out:  # claimed by spandrel, failed here: why
        facts["precisions_left_out"] = left_out
    if meta.get("working_bytes_per_out_px"):  # measured: srup.models.foreign.working
        facts["working_bytes_per_out_px"] = int(meta["working_bytes_per_out_px"])
    for key in _CARRIED:
        if meta.get(key):
            facts[key] = meta[key]
    return facts

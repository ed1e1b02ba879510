"""What `srup models` reports: every registered model, its shipped weights and their headers."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from .errors import SrupError
from .models import registry
from .upscale import default_model
from .weights import read_metadata, shipped

__all__ = ["catalog"]


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def catalog() -> list[dict[str, Any]]:
    """One dict per model: name, title, paper, scales (with shipped weights), and per scale
    (keys are strings, as in JSON) parameters, MACs per output pixel and recorded PSNRs."""
    files = shipped()
    defaults: dict[int, str] = {}
    for scale in sorted({s for _, s in files}):
        with suppress(SrupError):
            defaults[scale] = default_model(scale)
    rows = []
    for spec in registry.specs():
        scales = sorted(s for (name, s) in files if name == spec.name)
        metas = {s: read_metadata(files[(spec.name, s)]) for s in scales}
        rows.append(
            {
                "name": spec.name,
                "title": spec.title,
                "paper": spec.paper,
                "scales": scales,
                "parameters": {str(s): spec.parameters(s) for s in scales},
                "macs_per_pixel": {str(s): round(spec.macs_per_pixel(s), 1) for s in scales},
                "set5_psnr": {str(s): _float(metas[s].get("set5_psnr")) for s in scales},
                "set14_psnr": {str(s): _float(metas[s].get("set14_psnr")) for s in scales},
                "training": {str(s): metas[s].get("command", "") for s in scales},
                "default_for": [s for s, name in defaults.items() if name == spec.name],
            }
        )
    return rows

"""Validation during training: the run's network scored on held-out pictures, by the
benchmark protocol (:mod:`srup.evaluation.protocol`). This is the one place training runs a
network through the runtime (:class:`srup.runtime.upscaler.Upscaler`), as ``srup upscale``
would run the weights once written.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from srup.data import degrade
from srup.data.datasets import discover
from srup.evaluation import protocol

if TYPE_CHECKING:
    from torch import nn

    from srup.models import registry

__all__ = ["pairs", "validate"]


def pairs(folder: str | Path, scale: int, degradation: degrade.Degradation) -> list:
    """The (LR, HR) pairs of ``folder`` at ``scale``, the LR made by ``degradation``; read,
    and any picture too small to score refused (:class:`~srup.errors.DataError`), before
    training starts."""
    return protocol.pairs(discover(folder), scale, degradation=degradation)


def validate(net: nn.Module, spec: registry.ModelSpec, scale: int, val_pairs: list) -> float:
    """Mean Y-PSNR of ``net`` on the validation pairs, by the benchmark protocol.

    It runs on a copy (the descriptor's build copies ``net``): the Upscaler changes its
    network's memory layout and mode, and the network being trained must follow the same
    path whether or not it is validated. The copy runs in its ``train`` form, as trained."""
    import torch

    from srup.models.descriptor import ModelDescriptor
    from srup.runtime.upscaler import Upscaler

    device = next(net.parameters()).device
    weights = ModelDescriptor.from_network(net, spec, scale)
    up = Upscaler(weights, device, torch.float32, tile=0)
    scores = protocol.evaluate(up.upscale_array, val_pairs, scale)
    return float(np.mean([s.psnr for s in scores]))

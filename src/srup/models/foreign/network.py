"""Another project's network in the shape srup's colour pipeline runs.

srup's pipeline (:mod:`srup.runtime.color_pipeline`) runs networks shaped as
:class:`~srup.models.layers.BicubicResidual`: bicubic plus a learned ``detail``. A network
of another project computes the whole picture, so :class:`ForeignNetwork` hands the
pipeline its output less the same bicubic, and the pipeline's sum gives that output back
(to float32 rounding, about 1e-7 of full scale). Everything srup does around a network then
holds for it unchanged: alpha by bicubic, premultiplied, 16-bit levels, rounding once,
tiles.

Its input is what the pipeline gives an RGB network (RGB in [0, 1]; gray pictures as three
equal channels, the output's mean taken back) or, for a one-channel network, BT.601 luma in
full range [0, 1], the chroma carried by bicubic (srup's own recipe for Y networks). The
model runs through spandrel's descriptor call, which pads each tile to the model's size
requirements (reflecting at the bottom and right) and crops the result, and clamps it to
[0, 1].
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from srup.imaging.color import OFFSET, RGB_TO_YCC
from srup.models.layers import BicubicUpsample

__all__ = ["ForeignNetwork"]

_GAIN = float(RGB_TO_YCC[0].sum())  # 219/255: full-range luma to BT.601's studio range
_Y_OFFSET = float(OFFSET[0])


class ForeignNetwork(nn.Module):
    """``descriptor`` (a spandrel ``ImageModelDescriptor``) as a
    :class:`~srup.models.layers.BicubicResidual`: ``(N, C, h, w)`` float in [0, 1] →
    ``(N, C, h·s, w·s)``, C = ``channels`` (3: RGB; 1: studio-range BT.601 Y, which a
    one-channel network reads as full-range gray)."""

    # Its layers are the other project's, in one precision (no float32 first layer, no
    # per-layer casts as srup's networks have: srup.models.layers.run_low).
    mixed_precision = False
    # Float32 bytes kept alive per output pixel, measured on the network
    # (srup.models.foreign.working) when it is described; what the tilers size tiles by.
    measured_bytes_per_out_px: float | None = None

    def __init__(self, descriptor: Any) -> None:
        super().__init__()
        self.model = descriptor.model
        self._call = descriptor  # pads to the size requirements, clamps to [0, 1]
        self.scale = int(descriptor.scale)
        self.channels = 3 if descriptor.input_channels == 3 else 1
        self.upsample = BicubicUpsample(self.scale)
        self.form = "train"

    def _dtype(self) -> torch.dtype:
        param = next(self.model.parameters(), None)
        return torch.float32 if param is None else param.dtype

    def picture(self, x: torch.Tensor) -> torch.Tensor:
        """The model's output for ``x`` (``(N, C, h, w)``, in the model's reading: RGB or
        full-range gray), float32 ``(N, C, h·s, w·s)`` clamped to [0, 1]. Batches run one
        picture at a time (spandrel's call takes one)."""
        dtype = self._dtype()
        with warnings.catch_warnings():
            # Their code's own deprecation warnings (SwinIR's torch.meshgrid) are not the
            # user's to read on every run: srup prints one line per problem.
            warnings.simplefilter("ignore")
            outs = [self._call(x[i : i + 1].to(dtype)) for i in range(x.shape[0])]
        return torch.cat(outs).float()

    def _full_range(self, y: torch.Tensor) -> torch.Tensor:
        return (y - _Y_OFFSET) / _GAIN if self.channels == 1 else y

    def detail(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        """The model's output less bicubic, as ``(N, C·s², h, w)`` output phases in
        ``[c, i, j]`` order (:meth:`~srup.models.layers.BicubicResidual.detail`), float32,
        in ``x``'s units; and 0: every output pixel is computed."""
        x = x.float()
        full = self._full_range(x)
        detail = F.pixel_unshuffle(self.picture(full), self.scale) - self.upsample.phases(full)
        return (detail * _GAIN if self.channels == 1 else detail), 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, h, w)`` in the pipeline's units → ``(N, C, h·s, w·s)``."""
        out = self.picture(self._full_range(x.float()))
        return out * _GAIN + _Y_OFFSET if self.channels == 1 else out

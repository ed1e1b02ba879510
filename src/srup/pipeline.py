"""The colour pipeline as one torch module: pixels in, pixels out, the network on Y only.

RGB(A) is split into BT.601 Y (through the network) and Cb/Cr/alpha (MATLAB bicubic), then
merged back. Gray images go through the network as Y. The same module runs inside
:class:`~srup.upscale.Upscaler` tile by tile and is what ``srup export --onnx`` writes.
"""

from __future__ import annotations

import torch
from torch import nn

from .color import OFFSET, RGB_TO_YCC, YCC_TO_RGB
from .models.layers import BicubicUpsample

__all__ = ["ColorPipeline", "to_levels"]


class ColorPipeline(nn.Module):
    """``(N, C, H, W)`` float in [0, 1], C = 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA)
    → ``(N, C, H*s, W*s)`` float, not clamped. ``net`` maps ``(N, 1, h, w)`` Y to Y ×s."""

    def __init__(self, net: nn.Module, scale: int) -> None:
        super().__init__()
        self.net = net
        self.scale = scale
        self.bicubic = BicubicUpsample(scale)
        # Python floats, not tensors: a tensor-by-0-d-tensor product allocates and
        # broadcasts, where these become in-place scaled adds (5× faster at 1080p).
        self.to_ycc = (RGB_TO_YCC.tolist(), OFFSET.tolist())
        self.to_rgb = (YCC_TO_RGB.tolist(), (-YCC_TO_RGB @ OFFSET).tolist())
        self.gain, self.y_offset = float(RGB_TO_YCC[0].sum()), float(OFFSET[0])
        # The export form: plain functional ops for graph exporters, no writes into a
        # buffer (see models.layers).
        self.form = "train"

    def _net(self, y: torch.Tensor) -> torch.Tensor:
        # float32 in: the network runs its learned layers in its own precision (run_low).
        return self.net(y.contiguous(memory_format=torch.channels_last)).float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        if c >= 3 and self.form == "export":
            y, cb, cr = _combine([x[:, 0:1], x[:, 1:2], x[:, 2:3]], *self.to_ycc)
            rest = self.bicubic(torch.cat([cb, cr, x[:, 3:]], dim=1))
            rgb = _combine([self._net(y), rest[:, 0:1], rest[:, 1:2]], *self.to_rgb)
            return torch.cat([*rgb, rest[:, 2:]], dim=1)
        if c >= 3:
            ycc = _mix([x[:, 0:1], x[:, 1:2], x[:, 2:3]], *self.to_ycc, x.new_empty(n, 3, h, w))
            rest = self.bicubic(torch.cat([ycc[:, 1:], x[:, 3:]], dim=1))
            y_sr = self._net(ycc[:, :1])
            out = x.new_empty(n, c, y_sr.shape[2], y_sr.shape[3])
            _mix([y_sr, rest[:, 0:1], rest[:, 1:2]], *self.to_rgb, out[:, :3])
            if c == 4:
                out[:, 3:] = rest[:, 2:]
            return out
        y_sr = self._net(x[:, :1] * self.gain + self.y_offset)
        gray = (y_sr - self.y_offset) / self.gain
        if c == 1:
            return gray
        return torch.cat([gray, self.bicubic(x[:, 1:])], dim=1)


def to_levels(planes: torch.Tensor, maxv: float, dtype: torch.dtype) -> torch.Tensor:
    """``(C, h, w)`` float in [0, 1] (the pipeline's own output: changed in place) →
    ``(h, w, C)`` levels 0–``maxv`` in ``dtype``, clamped and rounded. Interleaved by torch,
    which copies on every thread (CPU) or in one device pass (GPU): a planar result would
    leave the transpose to a single-threaded NumPy stitch or to the host."""
    planes.clamp_(0, 1).mul_(maxv).round_()
    result = torch.empty(planes.shape[1:] + planes.shape[:1], dtype=dtype, device=planes.device)
    return result.copy_(planes.permute(1, 2, 0))


def _mix(
    planes: list[torch.Tensor], rows: list[list[float]], bias: list[float], out: torch.Tensor
) -> torch.Tensor:
    """``out[:, i] = Σ_j rows[i][j] · planes[j] + bias[i]``, written in place."""
    for i, (row, b) in enumerate(zip(rows, bias, strict=True)):
        o = out[:, i : i + 1]
        torch.mul(planes[0], row[0], out=o)
        for plane, weight in zip(planes[1:], row[1:], strict=True):
            o.add_(plane, alpha=weight)
        o.add_(b)
    return out


def _combine(
    planes: list[torch.Tensor], rows: list[list[float]], bias: list[float]
) -> list[torch.Tensor]:
    """The same sums as :func:`_mix`, as new tensors."""
    return [
        sum((p * w for p, w in zip(planes[1:], row[1:], strict=True)), planes[0] * row[0]) + b
        for row, b in zip(rows, bias, strict=True)
    ]

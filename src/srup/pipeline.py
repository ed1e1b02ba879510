"""The colour pipeline as one torch module: pixels in, pixels out, the network on Y only.

RGB(A) is split into BT.601 Y (through the network) and Cb/Cr/alpha (MATLAB bicubic), then
merged back. Gray images go through the network as Y. The same module runs inside
:class:`~srup.upscale.Upscaler` tile by tile and is what ``srup export --onnx`` writes.
"""

from __future__ import annotations

import torch
from torch import nn

from .color import torch_matrices
from .models.layers import BicubicUpsample

__all__ = ["ColorPipeline"]


class ColorPipeline(nn.Module):
    """``(N, C, H, W)`` float in [0, 1], C = 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA)
    → ``(N, C, H*s, W*s)`` float, not clamped. ``net`` maps ``(N, 1, h, w)`` Y to Y ×s."""

    def __init__(self, net: nn.Module, scale: int) -> None:
        super().__init__()
        self.net = net
        self.scale = scale
        self.bicubic = BicubicUpsample(scale)
        m, m_inv, offset = torch_matrices(torch.float32, torch.device("cpu"))
        self.register_buffer("m", m, persistent=False)
        self.register_buffer("m_inv", m_inv, persistent=False)
        self.register_buffer("offset", offset, persistent=False)

    def _net(self, y: torch.Tensor) -> torch.Tensor:
        dtype = next(self.net.parameters()).dtype
        y = y.to(dtype).contiguous(memory_format=torch.channels_last)
        return self.net(y).float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m, m_inv, off = self.m, self.m_inv, self.offset
        if x.shape[1] >= 3:
            r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
            y = m[0, 0] * r + m[0, 1] * g + m[0, 2] * b + off[0]
            cb = m[1, 0] * r + m[1, 1] * g + m[1, 2] * b + off[1]
            cr = m[2, 0] * r + m[2, 1] * g + m[2, 2] * b + off[2]
            rest = self.bicubic(torch.cat([cb, cr, x[:, 3:]], dim=1))
            yy = self._net(y) - off[0]
            cb, cr = rest[:, 0:1] - off[1], rest[:, 1:2] - off[2]
            planes = [m_inv[i, 0] * yy + m_inv[i, 1] * cb + m_inv[i, 2] * cr for i in range(3)]
            return torch.cat([*planes, rest[:, 2:]], dim=1)
        gain = m[0].sum()
        y_sr = self._net(x[:, :1] * gain + off[0])
        gray = (y_sr - off[0]) / gain
        if x.shape[1] == 1:
            return gray
        return torch.cat([gray, self.bicubic(x[:, 1:])], dim=1)

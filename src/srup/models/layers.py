"""Building blocks shared by the architectures."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..resize import upsample_phase_kernel


def symmetric_pad(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Pad the last two axes of ``x`` by ``pad``, mirroring with the edge repeated (MATLAB's
    'symmetric'); works for any size, 1 pixel included."""
    for dim in (-2, -1):
        n = x.shape[dim]
        idx = torch.arange(-pad, n + pad, device=x.device)
        # Tensor arithmetic throughout, so that ONNX export keeps the size symbolic.
        period = torch.full((), 2 * n, dtype=idx.dtype, device=x.device)
        idx = torch.remainder(idx, period)
        idx = torch.minimum(idx, period - 1 - idx)  # the mirror half, without a boolean
        x = x.index_select(dim, idx)
    return x


class BicubicUpsample(nn.Module):
    """MATLAB-compatible bicubic ×s upsampling of ``(N, C, H, W)`` as a fixed phase
    convolution plus pixel shuffle: exact at image borders, local (radius 2) for tiling."""

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale
        kernel = torch.tensor(upsample_phase_kernel(scale), dtype=torch.float32)
        self.register_buffer("kernel", kernel, persistent=False)

    def phases(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 1, H, W)`` → the ``(N, s², H, W)`` output phases, before the pixel shuffle:
        a sub-pixel network adds its own output here, at LR size, and shuffles once."""
        return F.conv2d(symmetric_pad(x, 2), self.kernel.to(dtype=x.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        y = self.phases(x.reshape(n * c, 1, h, w))
        return F.pixel_shuffle(y, self.scale).reshape(n, c, h * self.scale, w * self.scale)


BICUBIC_RADIUS = 2


def run_low(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module(x)`` in the module's own precision, returned in ``x``'s. With bf16/fp16
    weights only the learned correction is low precision: the bicubic path that carries the
    picture stays float32 (quantising it to bf16 would cost about 0.05 dB)."""
    dtype = next(module.parameters()).dtype
    return module(x.to(dtype)).to(x.dtype)


def zero_(layer: nn.Module) -> nn.Module:
    """Zero a layer's weights and bias: a residual network then starts as plain bicubic,
    a far better first guess than random noise added to it."""
    for p in layer.parameters():
        nn.init.zeros_(p)
    return layer

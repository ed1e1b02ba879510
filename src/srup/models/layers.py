"""Building blocks shared by the architectures, and the one switch between a model's forms.

A module computes the same function in each of its three forms, in different ways:

- ``train``: plain, differentiable ops, every output pixel computed (the default);
- ``infer``: the fast form under srup's tiler, which may skip work on output pixels within
  the receptive radius of the image edge (the tiler crops them) and use the fast pixel
  shuffle of channels-last tensors;
- ``export``: plain ops a graph exporter can trace (no writes into slices, the standard
  pixel shuffle).

Every module whose forward depends on the form has a ``form`` attribute; :func:`set_form`
sets it once, when the module is built for a purpose (``models.inference.for_inference``,
``export.export_module``), instead of flags scattered over modules or a look at whether an
exporter is running.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..resize import upsample_phase_kernel


def symmetric_pad(x: torch.Tensor, pad: int, pad_x: int | None = None) -> torch.Tensor:
    """Pad the last two axes of ``x`` by ``pad`` (the last by ``pad_x`` where given),
    mirroring with the edge repeated (MATLAB's 'symmetric'); works for any size, 1 pixel
    included."""
    for dim, width in ((-2, pad), (-1, pad if pad_x is None else pad_x)):
        n = x.shape[dim]
        idx = torch.arange(-width, n + width, device=x.device)
        # Tensor arithmetic throughout, so that ONNX export keeps the size symbolic.
        period = torch.full((), 2 * n, dtype=idx.dtype, device=x.device)
        idx = torch.remainder(idx, period)
        idx = torch.minimum(idx, period - 1 - idx)  # the mirror half, without a boolean
        x = x.index_select(dim, idx)
    return x


FORMS = ("train", "infer", "export")


def set_form(root: nn.Module, form: str) -> None:
    """Put every module under ``root`` that has a ``form`` into ``form``."""
    if form not in FORMS:
        raise ValueError(f"unknown form {form!r}; one of {', '.join(FORMS)}")
    for module in root.modules():
        if hasattr(module, "form"):
            module.form = form


def pixel_shuffle(x: torch.Tensor, scale: int, form: str = "train") -> torch.Tensor:
    """``F.pixel_shuffle``; in the ``infer`` form 2.4× faster on the channels-last tensors
    oneDNN convolutions return: there the s² phases of one pixel lie side by side in memory,
    and one permute copies them into place."""
    n, c, h, w = x.shape
    fast = form == "infer" and x.is_contiguous(memory_format=torch.channels_last)
    if c != scale * scale or not fast:
        return F.pixel_shuffle(x, scale)
    phases = x.permute(0, 2, 3, 1).reshape(n, h, w, scale, scale)
    return phases.permute(0, 1, 3, 2, 4).reshape(n, 1, h * scale, w * scale)


class BicubicUpsample(nn.Module):
    """MATLAB-compatible bicubic ×s upsampling of ``(N, C, H, W)`` as a fixed phase
    convolution plus pixel shuffle: exact at image borders, local (radius 2) for tiling."""

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale
        self.form = "train"
        kernel = torch.tensor(upsample_phase_kernel(scale), dtype=torch.float32)
        self.register_buffer("kernel", kernel, persistent=False)

    def phases(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 1, H, W)`` → the ``(N, s², H, W)`` output phases, before the pixel shuffle:
        a sub-pixel network adds its own output here, at LR size, and shuffles once."""
        return F.conv2d(symmetric_pad(x, 2), self.kernel.to(dtype=x.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        y = self.phases(x.reshape(n * c, 1, h, w))
        out = pixel_shuffle(y, self.scale, self.form)
        return out.reshape(n, c, h * self.scale, w * self.scale)


BICUBIC_RADIUS = 2


def run_low(module: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """``module(x)`` with each layer in its own precision, returned in ``x``'s dtype. With
    bf16/fp16 weights only the learned correction is low precision: the bicubic path that
    carries the picture stays float32 (in bf16 it would cost about 0.05 dB), and so may the
    first layer, the one that reads the picture (see :func:`keep_first_layer_fp32`)."""
    out = x
    for layer in module:
        param = next(layer.parameters(), None)
        if param is not None:
            out = out.to(param.dtype)
        out = layer(out)
    return out.to(x.dtype)


def keep_first_layer_fp32(net: nn.Module) -> nn.Module:
    """Return the first parametrised layer of each ``nn.Sequential`` in ``net`` to float32:
    it reads the picture, whose 8-bit levels bf16 cannot all hold (Set5: −0.03 → −0.01 dB
    for ESPCN ×3), and with one input channel it is a small share of the work."""
    for seq in [m for m in net.modules() if isinstance(m, nn.Sequential)]:
        first = next((m for m in seq if next(m.parameters(), None) is not None), None)
        if first is not None:
            first.float()
    return net


def zero_(layer: nn.Module) -> nn.Module:
    """Zero a layer's weights and bias: a residual network then starts as plain bicubic,
    a far better first guess than random noise added to it."""
    for p in layer.parameters():
        nn.init.zeros_(p)
    return layer

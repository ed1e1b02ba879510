"""Building blocks shared by the architectures, and the one switch between a model's forms.

A module computes the same function in each of its three forms, in different ways:

- ``train``: plain, differentiable ops, every output pixel computed (the default);
- ``infer``: the fast form under srup's tiler, which may skip work on output pixels within
  the receptive radius of the image edge (the tiler crops them) and use the fast pixel
  shuffle of channels-last tensors;
- ``export``: plain ops a graph exporter can trace (no writes into slices, the standard
  pixel shuffle).

Every module whose forward depends on the form has a ``form`` attribute; :func:`set_form`
sets it once, when the module is built for a purpose
(:func:`srup.models.forms.for_inference`, :func:`srup.runtime.onnx.export_module`), instead
of flags scattered over modules or a look at whether an exporter is running.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from srup.devices import device_constant
from srup.errors import InvalidArgument
from srup.imaging.resize import upsample_phase_kernel


def symmetric_pad(
    x: torch.Tensor, pad: int, pad_x: int | None = None, symbolic: bool = False
) -> torch.Tensor:
    """Pad the last two axes of ``x`` by ``pad`` (the last by ``pad_x`` where given),
    mirroring with the edge repeated (MATLAB's 'symmetric'); works for any size, 1 pixel
    included. ``symbolic``: the source indices computed from the size as tensor arithmetic,
    so that an ONNX export keeps the size symbolic; otherwise they are built once per size
    and device, as a GPU otherwise launches five small kernels per axis per call for them."""
    for dim, width in ((-2, pad), (-1, pad if pad_x is None else pad_x)):
        n = x.shape[dim]
        if symbolic:
            idx = torch.arange(-width, n + width, device=x.device)
            period = torch.full((), 2 * n, dtype=idx.dtype, device=x.device)
            idx = torch.remainder(idx, period)
            idx = torch.minimum(idx, period - 1 - idx)  # the mirror half, without a boolean
        else:
            idx = mirror_index(n, width, x.device)
        x = x.index_select(dim, idx)
    return x


@device_constant(maxsize=256)
def mirror_index(n: int, width: int, device: torch.device) -> torch.Tensor:
    """The source of each of ``n + 2·width`` symmetric-padded positions, on ``device``."""
    idx = np.remainder(np.arange(-width, n + width), 2 * n)
    idx = np.minimum(idx, 2 * n - 1 - idx)
    return torch.from_numpy(idx).to(device)


@device_constant(maxsize=64)
def filled(length: int, value: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``(length,)`` of ``value``: a convolution's constant bias, not filled per tile."""
    return torch.full((length,), value, dtype=dtype, device=device)


BICUBIC_RADIUS = 2  # MATLAB's cubic kernel reaches 2 input pixels each way

FORMS = ("train", "infer", "export")


def set_form(root: nn.Module, form: str) -> None:
    """Put every module under ``root`` that has a ``form`` into ``form``."""
    if form not in FORMS:
        raise InvalidArgument(f"unknown form {form!r}; one of {', '.join(FORMS)}")
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
        # The kernels of :meth:`interleaved` for 1–4 channels, built once: constants to an
        # exporter (OpenCV's importer rejects the ops that would build them) and no small
        # kernels launched per tile on a GPU. Output (ij, c) reads input channel c alone.
        for c in range(1, 5):
            dense = kernel.new_zeros(kernel.shape[0], c, c, *kernel.shape[2:])
            for channel in range(c):
                dense[:, channel, channel] = kernel[:, 0]
            dense = dense.flatten(0, 1).contiguous(memory_format=torch.channels_last)
            self.register_buffer(f"interleaved{c}", dense, persistent=False)

    def _padded(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` with the kernel's reach mirrored around it, channels-last for the
        convolution."""
        x = symmetric_pad(x, BICUBIC_RADIUS, symbolic=self.form == "export")
        return x.contiguous(memory_format=torch.channels_last)

    def phases(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` → the ``(N, C·s², H, W)`` output phases, before the pixel
        shuffle: a sub-pixel network adds its own output here, at LR size, and shuffles once.
        One grouped convolution for all channels, channels-last (3× faster on a CPU than
        the channels as a batch)."""
        c = x.shape[1]
        padded = self._padded(x)
        # A fresh weight even for one channel: the buffer, restrided channels-last with the
        # module, sends oneDNN down another path, 1 level off on 0.001 % of SRCNN's values.
        kernel = self.kernel.to(dtype=x.dtype).repeat(c, 1, 1, 1)
        return F.conv2d(padded, kernel.contiguous(memory_format=torch.channels_last), groups=c)

    def interleaved(self, x: torch.Tensor, offset: float = 0.0, pad: bool = True) -> torch.Tensor:
        """:meth:`phases` plus ``offset``, with the channels in ``[i, j, c]`` order (phase
        first, channel index ``(i·s + j)·C + c``) rather than ``[c, i, j]``: channels-last,
        output pixel ``(y·s + i, x·s + j)`` then lies ``s·C`` values from its neighbours as
        in an interleaved picture, and the final shuffle copies runs of ``s·C`` values
        instead of single ones (4.8× faster on a CPU, for 1 ms more convolution at 1080p).
        ``pad=False``: no padding, so the phases of input pixel ``(y, x)`` are at
        ``(y − 2, x − 2)``, and the outermost 2 pixels have none: for a tile whose kept
        pixels lie inside it, the pad's two copies of the input are not needed."""
        x = self._padded(x) if pad else x.contiguous(memory_format=torch.channels_last)
        dense = getattr(self, f"interleaved{x.shape[1]}").to(dtype=x.dtype)
        bias = None if offset == 0 else filled(dense.shape[0], offset, dense.dtype, dense.device)
        return F.conv2d(x, dense, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_shuffle(self.phases(x), self.scale, self.form)


class BicubicResidual(nn.Module):
    """A network that learns the correction to MATLAB bicubic: ``(N, C, h, w)`` in [0, 1]
    → ``(N, C, h*s, w*s)``, the bicubic upsampling plus :meth:`detail`; C = 1 (Y), or 3
    (RGB) where the architecture offers it.

    Every srup architecture has this shape, and the colour pipeline counts on it: bicubic is
    linear and keeps constants, so upscaling R, G and B by bicubic and adding the luma's
    detail to each (scaled by 255/219, the way a change of Y alone moves R, G and B) is the
    same function as converting to YCbCr, upscaling Y by the network and Cb/Cr by bicubic,
    and converting back, at a third of the passes over the output
    (:mod:`srup.runtime.color_pipeline`).
    """

    def __init__(self, scale: int, channels: int = 1) -> None:
        super().__init__()
        self.scale = scale
        self.channels = channels  # 1: BT.601 Y; 3: RGB (an architecture that offers it)
        self.upsample = BicubicUpsample(scale)
        self.form = "train"  # see the module doc

    def body_input(self, x: torch.Tensor) -> torch.Tensor:
        """What :attr:`body` reads, from ``x`` ``(N, C, h, w)``: ``x`` itself, except in a
        network that works at the output's size (SRCNN). Quantizers calibrate on it
        (:mod:`srup.models.int8`)."""
        return x

    def phases_of(self, body_out: torch.Tensor) -> torch.Tensor:
        """:attr:`body`'s output as :meth:`detail`'s output phases: itself, except in a
        network that works at the output's size (SRCNN: pixel-unshuffled)."""
        return body_out

    def detail(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        """The learned correction as ``(N, C·s², h', w')`` output phases in ``x``'s dtype
        (to be pixel-shuffled; channel-first, ``[c, i, j]``), and the offset of its first row
        and column in the phases of the whole input: 0, except where the ``infer`` form
        skips the edge (h' = h − 2·offset). By default: the module's ``body`` on ``x``, as
        in the sub-pixel networks."""
        return run_low(self.body, x), 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Adding before the shuffle is the same sum at 1/s² of the memory traffic.
        phases = self.upsample.phases(x)
        detail, at = self.detail(x)
        if at == 0 and detail.shape == phases.shape:
            phases = phases + detail
        else:
            phases[:, :, at : at + detail.shape[2], at : at + detail.shape[3]] += detail
        return pixel_shuffle(phases, self.scale, self.form)


def run_low(module: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """``module(x)`` with each layer in its own precision, returned in ``x``'s dtype. With
    bf16/fp16 weights only the learned correction is low precision: the bicubic path that
    carries the picture stays float32 (in bf16 it would cost about 0.05 dB), and in bf16 so
    does the first layer, the one that reads the picture (see :func:`keep_first_layer_fp32`)."""
    out = x
    for layer in module:
        param = next(layer.parameters(), None)
        if param is not None:
            out = out.to(param.dtype)
        out = layer(out)
    return out.to(x.dtype)


def keep_first_layer_fp32(net: nn.Module) -> nn.Module:
    """Return the first parametrised layer of each ``nn.Sequential`` in ``net`` to float32:
    it reads the picture, whose 8-bit levels bf16 (8 bits of mantissa) cannot all hold
    (Set5: −0.03 → −0.01 dB for ESPCN ×3), and with one input channel it is a small share of
    the work. For bf16 only: fp16 holds them (11 bits). An fp16 first layer moved Set5 by
    at most 0.0002 dB at every scale, where a float32 one makes a GPU move 288 bytes per
    output pixel instead of 200 for ESPCN ×3 (`benchmarks/half_first_layer.py`)."""
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

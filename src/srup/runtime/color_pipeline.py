"""The colour pipeline as one torch module: pixels in, pixels out, the network on Y only.

What it computes is the classic recipe: RGB(A) split into BT.601 Y (through the network) and
Cb/Cr/alpha (MATLAB bicubic), then merged back; gray images go through the network as Y.
How it computes it uses the networks' shape (:class:`~srup.models.layers.BicubicResidual`:
Y out = bicubic(Y) + detail): every channel is upscaled by one bicubic pass, and the luma's
detail is added to the colour channels, scaled by 255/219 (a change of Y alone moves R, G
and B by that much). The same sums, with no YCbCr planes at the output's size, whose passes
are most of the work on a GPU: the memory traffic around the network falls from 277 to 102
bytes per output pixel (ESPCN ×3, 4K; `benchmarks/passes.py`). All of it happens on the
output phases at input size, so a tile's kept pixels are cut out before any pass at output
size, and the pixel shuffle, the interleave and the cast to levels are one copy.

The same module runs inside both tilers (:meth:`ColorPipeline.levels`) and is what
``srup export --onnx`` writes (:meth:`ColorPipeline.forward`).
"""

from __future__ import annotations

import torch
from torch import nn

from srup.imaging.color import OFFSET, RGB_TO_YCC
from srup.models.layers import BICUBIC_RADIUS, BicubicUpsample

__all__ = ["ColorPipeline", "working_bytes_per_out_px"]


class ColorPipeline(nn.Module):
    """``(N, C, H, W)`` float in [0, 1], C = 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA)
    → ``(N, C, H*s, W*s)`` float, not clamped. ``net`` is a
    :class:`~srup.models.layers.BicubicResidual` on ``(N, 1, h, w)`` Y or, with
    ``net.channels == 3``, on RGB."""

    def __init__(self, net: nn.Module, scale: int) -> None:
        super().__init__()
        self.net = net
        self.scale = scale
        self.bicubic = BicubicUpsample(scale)
        # Python floats, not tensors: a tensor-by-0-d-tensor product allocates and
        # broadcasts, where these become in-place scaled adds.
        self.luma = [float(v) for v in RGB_TO_YCC[0]]
        self.gain, self.y_offset = float(RGB_TO_YCC[0].sum()), float(OFFSET[0])
        self.rgb = net.channels == 3  # an RGB network: no YCbCr at all
        self.form = "train"  # "export": no writes into slices (see models.layers)

    def _y(self, x: torch.Tensor, maxv: float) -> torch.Tensor:
        """The network's input, channels-last: BT.601 Y in [0, 1] of ``x`` (levels
        0–``maxv``), or for an RGB network the picture's RGB in [0, 1] (gray repeated)."""
        if self.rgb:
            rgb = x[:, :3] if x.shape[1] >= 3 else x[:, :1].expand(-1, 3, -1, -1)
            return (rgb / maxv).contiguous(memory_format=torch.channels_last)
        if x.shape[1] >= 3:
            # Separate products and sums, each rounded once and alike for every pixel. A
            # 1×1 convolution (one operator, not six) was tried: with oneDNN a pixel's Y
            # then depended on the tile's shape, by 1 level in a few output values.
            r, g, b = (c / maxv for c in self.luma)
            y = x[:, 0:1] * r + x[:, 1:2] * g + x[:, 2:3] * b + self.y_offset
        else:
            y = x[:, 0:1] * (self.gain / maxv) + self.y_offset
        return y.contiguous(memory_format=torch.channels_last)

    def phases(
        self,
        x: torch.Tensor,
        maxv: float = 1.0,
        offset: float = 0.0,
        keep: tuple[slice, slice] | None = None,
    ) -> torch.Tensor:
        """``(N, C, h, w)`` float levels 0–``maxv`` → the output's ``(N, s²·C, h', w')``
        phases in the same units plus ``offset``, not clamped, in ``[i, j, c]`` channel
        order (:meth:`~srup.models.layers.BicubicUpsample.interleaved`; channels-last where
        the convolutions return it so). ``keep``: the input rows and columns whose output
        is wanted (h' × w'); all of them when None."""
        c = x.shape[1]
        s2 = self.scale**2
        # A tile's kept pixels lie at least the bicubic radius inside it (the tilers'
        # overlap is at least that), so its bicubic needs no padding: its phases then
        # start at input pixel (2, 2).
        r = BICUBIC_RADIUS
        inside = keep is not None and all(
            k.start >= r and k.stop <= n - r for k, n in zip(keep, x.shape[2:], strict=True)
        )
        phases = self.bicubic.interleaved(x, offset, pad=not inside)
        shift = r if inside else 0
        # The network runs its learned layers in its own precision (run_low); float32 out.
        detail, at = self.net.detail(self._y(x, maxv))
        colour = 3 if c >= 3 else 1
        # As [n, phase, channel, y, x]: Y's detail moves R, G and B alike (×255/219); an
        # RGB network's is per channel, and a gray picture takes the mean of its three.
        detail = detail.float().unflatten(1, (-1, s2)).transpose(1, 2)
        if self.rgb and colour == 1:
            detail = detail.mean(dim=2, keepdim=True)
        weight = maxv if self.rgb else maxv / self.gain
        if self.form == "export":
            assert at == 0 and keep is None
            split = phases.unflatten(1, (s2, c))
            moved = split[:, :, :colour] + detail * weight
            return torch.cat([moved, split[:, :, colour:]], dim=2).flatten(1, 2)
        # The infer form may leave out the detail of the edge (``at`` pixels): the tilers
        # keep only pixels that have it.
        rows, cols = keep or (slice(at, at + detail.shape[3]), slice(at, at + detail.shape[4]))
        target = phases[
            :, :, rows.start - shift : rows.stop - shift, cols.start - shift : cols.stop - shift
        ]
        if keep is not None:
            phases = target
        detail = detail[..., rows.start - at : rows.stop - at, cols.start - at : cols.stop - at]
        # Pixel-major views [n, y, x, phase, channel]: for channels-last tensors the add
        # runs over contiguous memory.
        target = target.permute(0, 2, 3, 1).unflatten(3, (s2, c))[..., :colour]
        target.add_(detail.permute(0, 3, 4, 1, 2), alpha=weight)
        return phases

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        s = self.scale
        # [n, i, j, c, y, x] → [n, c, y, i, x, j]: a pixel shuffle of the interleaved order.
        phases = self.phases(x).reshape(n, s, s, c, h, w)
        return phases.permute(0, 3, 4, 1, 5, 2).reshape(n, c, h * s, w * s)

    def levels(
        self,
        x: torch.Tensor,
        maxv: float,
        dtype: torch.dtype,
        keep: tuple[slice, slice] | None = None,
        premultiply: bool = False,
        out: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``(1, C, h, w)`` float levels 0–``maxv`` → the output's rows and columns ``keep``
        (multiples of s; all of them when None) as ``(h', w', C)`` levels in ``dtype``,
        clamped and rounded (halves up), interleaved; written into ``out`` where given
        (``(h', w', C)`` of ``dtype``, any strides: a tile's place in the whole output, so
        that no copy follows) and returned.

        ``premultiply`` (C = 2 or 4: the last channel is straight alpha): the colour is
        resampled premultiplied by alpha (Porter & Duff 1984) and divided by the output's
        alpha afterwards, so colour under α = 0 never reaches a visible pixel; where the
        output's alpha rounds to 0 the colour is 0. Alpha is bicubic like any channel,
        clamped to 0–``maxv``."""
        s, c = self.scale, x.shape[1]
        lr_keep = None if keep is None else tuple(slice(k.start // s, k.stop // s) for k in keep)
        if premultiply:
            phases = self._unpremultiplied(x, maxv, lr_keep)
        else:
            # Rounding is the cast's truncation of the value plus ½, the ½ added by the
            # bicubic convolution's bias: one pass over the output fewer than round().
            phases = self.phases(x, maxv, 0.5, lr_keep)[0]
            phases.clamp_(0, maxv + 0.5)
        h, w = phases.shape[1:]
        if out is None:
            out = torch.empty((h * s, w * s, c), dtype=dtype, device=phases.device)
        # [i, j, c, y, x] → [y, i, x, j, c]: shuffle and cast in one copy, of runs of s·C.
        source = phases.unflatten(0, (s, s, c)).permute(3, 0, 4, 1, 2)
        out.view(h, s, w, s, c).copy_(source)
        return out

    def _unpremultiplied(
        self, x: torch.Tensor, maxv: float, keep: tuple[slice, ...] | None
    ) -> torch.Tensor:
        """:meth:`levels`' phases ``(s²·C, h', w')`` for straight-alpha ``x``, resampled
        premultiplied: clamped to 0–``maxv`` and plus ½, ready for the cast."""
        colour = x.shape[1] - 1
        alpha = x[:, colour:]
        # A new tensor: the caller's tile is not written to. An opaque pixel's colour is
        # multiplied by exactly 1.0, so it reaches the network unchanged.
        x = torch.cat([x[:, :colour] * (alpha / maxv), alpha], dim=1)
        phases = self.phases(x, maxv, 0.0, keep)[0].unflatten(0, (-1, colour + 1))
        a = phases[:, colour:].clamp_(0, maxv)
        # The colour of a pixel whose alpha rounds to 0 is invisible: 0, and no division
        # by (almost) zero. Elsewhere the premultiplied colour over alpha, which a
        # network's ringing may push out of range, clamped like any level.
        rgb = phases[:, :colour].div_(a.clamp(min=0.5)).mul_(maxv).clamp_(0, maxv)
        rgb.masked_fill_(a < 0.5, 0.0)
        return phases.add_(0.5).flatten(0, 1)


def working_bytes_per_out_px(
    net: nn.Module, scale: int, device: torch.device, dtype: torch.dtype
) -> float:
    """The pipeline's working memory per output pixel with ``net`` (a
    :class:`~srup.models.layers.BicubicResidual`) in ``dtype``, from which the tilers size
    their tiles: two live activations of the widest layer, measured on a probe input (or,
    for another project's network, the float32 working memory measured on it,
    ``net.measured_bytes_per_out_px``: srup.models.foreign.working), plus ~16 float32
    planes of colour work."""
    measured = getattr(net, "measured_bytes_per_out_px", None)
    # Another project's network may not take 16 pixels (SwinIR with 32-pixel windows
    # reflects a side into 32, which needs more than 16).
    size = 16 if measured is None else 24
    peak = 0

    def hook(_m: nn.Module, _i: object, out: object) -> None:
        nonlocal peak
        if isinstance(out, torch.Tensor):  # other projects' blocks may return tuples
            peak = max(peak, out.numel())

    hooks = [m.register_forward_hook(hook) for m in net.modules() if m is not net]
    try:
        with torch.inference_mode():
            # A first run also for a network measured already: it shows the precision works.
            net(torch.zeros(1, net.channels, size, size, device=device))
    finally:
        for h in hooks:
            h.remove()
    if measured is not None:
        return float(measured) + 64
    per_out_px = peak / (size * scale) ** 2
    return 2 * per_out_px * torch.finfo(dtype).bits / 8 + 64

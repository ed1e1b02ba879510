"""FSRCNN(56, 12, 4) (Dong et al., "Accelerating the Super-Resolution Convolutional Neural
Network", ECCV 2016): feature extraction 5×5, shrinking 1×1, four 3×3 mapping layers,
expanding 1×1, all PReLU, then a 9×9 transposed convolution with stride = scale.

The output is added to the MATLAB-bicubic upsampling of the input (residual learning).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from srup.models.layers import BicubicResidual, run_low, zero_
from srup.models.registry import ModelSpec

D, S, M = 56, 12, 4


class FSRCNN(BicubicResidual):
    def __init__(self, scale: int) -> None:
        super().__init__(scale)
        layers: list[nn.Module] = [nn.Conv2d(1, D, 5, padding=2), nn.PReLU(D)]
        layers += [nn.Conv2d(D, S, 1), nn.PReLU(S)]
        for _ in range(M):
            layers += [nn.Conv2d(S, S, 3, padding=1), nn.PReLU(S)]
        layers += [nn.Conv2d(S, D, 1), nn.PReLU(D)]
        self.body = nn.Sequential(*layers)
        self.deconv = zero_(
            nn.ConvTranspose2d(D, 1, 9, stride=scale, padding=4, output_padding=scale - 1)
        )
        # In the infer form the sub-pixel convolution skips the output rows and columns at
        # the image edge that its lopsided kernel would have to pad for. Those lie within the
        # receptive radius, which srup's tiler always crops (see models.layers).

    def detail(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        weight, reach = subpixel_weight(self.deconv.weight, self.scale)
        bias = self.deconv.bias.expand(weight.shape[0])
        # The learned part in the weights' precision, the bicubic path in x's (see run_low).
        features = run_low(self.body, x).to(weight.dtype)
        if self.form != "infer":
            return subpixel_conv(features, weight, bias, reach).to(x.dtype), 0
        before, after = reach
        pad = min(before, after)
        # oneDNN computes an even-sized kernel the same way at every tile shape only with
        # this padding (with more, tiled output stopped equalling untiled output).
        return F.conv2d(features, weight, bias, padding=pad).to(x.dtype), before - pad


def subpixel_weight(weight: torch.Tensor, scale: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """The ``(C, 1, k, k)`` weight of a stride-``scale`` transposed convolution (padding
    ``k // 2``, output padding ``scale - 1``) as the weight of an ordinary convolution with
    ``scale²`` outputs, to be pixel-shuffled: the same function, but a plain convolution is
    faster on CPUs and computes each pixel the same way whatever the tile shape.

    Returns the weight and its reach ``(before, after)``: output pixel q reads inputs
    q - before … q + after. The reach can be lopsided (×3: 1 and 2), and a kernel cut to it
    rather than centred has 16 taps instead of 25, a third less work;
    :func:`subpixel_conv` applies it with the transposed convolution's zero padding."""
    k = weight.shape[-1]
    half = k // 2
    # Output phase r at LR position q reads input q + j through tap -j*s + r + half.
    pairs = [
        (r, j, -j * scale + r + half)
        for r in range(scale)
        for j in range(-k, k + 1)
        if 0 <= -j * scale + r + half < k
    ]
    before = -min(j for _, j, _ in pairs)
    after = max(j for _, j, _ in pairs)
    size = before + after + 1
    rows = torch.zeros(scale, size, k, dtype=weight.dtype, device=weight.device)
    for r, j, tap in pairs:
        rows[r, j + before, tap] = 1.0
    # out[ry*s + rx, c, jy, jx] = weight[c, 0, tap(ry, jy), tap(rx, jx)]
    sub = torch.einsum("ayk,bxl,ckl->abcyx", rows, rows, weight[:, 0])
    return sub.reshape(scale * scale, weight.shape[0], size, size), (before, after)


def subpixel_conv(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, reach: tuple[int, int]
) -> torch.Tensor:
    """Convolve with a weight of :func:`subpixel_weight`, zero-padded like the transposed
    convolution it stands for; the output has ``x``'s height and width."""
    before, after = reach
    pad = max(before, after)
    out = F.conv2d(x, weight, bias, padding=pad)
    if before == after:
        return out
    start = pad - before  # the symmetric padding's extra outputs, cut away
    return out[:, :, start : start + x.shape[2], start : start + x.shape[3]]


SPEC = ModelSpec(
    name="fsrcnn",
    title="FSRCNN (56, 12, 4)",
    paper="Dong et al., ECCV 2016",
    build=FSRCNN,
    # 2 + 4 LR pixels of convolution, then the 9×9 transposed convolution's reach.
    receptive_radius=lambda s: 2 + M + math.ceil(4 / s) + 1,
)

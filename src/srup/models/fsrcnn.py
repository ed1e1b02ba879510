"""FSRCNN(56, 12, 4) (Dong et al., "Accelerating the Super-Resolution Convolutional Neural
Network", ECCV 2016): feature extraction 5×5, shrinking 1×1, four 3×3 mapping layers,
expanding 1×1, all PReLU, then a 9×9 transposed convolution with stride = scale.

The output is added to the MATLAB-bicubic upsampling of the input (residual learning).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .layers import BICUBIC_RADIUS, BicubicUpsample, zero_
from .registry import ModelSpec

D, S, M = 56, 12, 4


class FSRCNN(nn.Module):
    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale
        self.upsample = BicubicUpsample(scale)
        layers: list[nn.Module] = [nn.Conv2d(1, D, 5, padding=2), nn.PReLU(D)]
        layers += [nn.Conv2d(D, S, 1), nn.PReLU(S)]
        for _ in range(M):
            layers += [nn.Conv2d(S, S, 3, padding=1), nn.PReLU(S)]
        layers += [nn.Conv2d(S, D, 1), nn.PReLU(D)]
        self.body = nn.Sequential(*layers)
        self.deconv = zero_(
            nn.ConvTranspose2d(D, 1, 9, stride=scale, padding=4, output_padding=scale - 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.upsample(x) + self.deconv(self.body(x))


SPEC = ModelSpec(
    name="fsrcnn",
    title="FSRCNN (56, 12, 4)",
    paper="Dong et al., ECCV 2016",
    build=FSRCNN,
    # 2 + 4 LR pixels of convolution, then the 9×9 transposed convolution's reach.
    receptive_radius=lambda s: 2 + M + math.ceil(4 / s) + 1,
)

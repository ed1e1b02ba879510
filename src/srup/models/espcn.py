"""ESPCN (Shi et al., "Real-Time Single Image and Video Super-Resolution Using an Efficient
Sub-Pixel Convolutional Neural Network", CVPR 2016): 5-3-3 convolutions (64/32 filters, tanh)
on the LR Y channel, then a sub-pixel (pixel shuffle) upscale.

The output is added to the MATLAB-bicubic upsampling of the input (residual learning).
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import BICUBIC_RADIUS, BicubicUpsample, pixel_shuffle, run_low, zero_
from .registry import ModelSpec


class ESPCN(nn.Module):
    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale
        self.upsample = BicubicUpsample(scale)
        self.form = "train"  # see models.layers
        self.body = nn.Sequential(
            nn.Conv2d(1, 64, 5, padding=2),
            nn.Tanh(),
            nn.Conv2d(64, 32, 3, padding=1),
            nn.Tanh(),
            zero_(nn.Conv2d(32, scale * scale, 3, padding=1)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Adding before the shuffle is the same sum at 1/s² of the memory traffic.
        out = run_low(self.body, x) + self.upsample.phases(x)
        return pixel_shuffle(out, self.scale, self.form)


SPEC = ModelSpec(
    name="espcn",
    title="ESPCN 5-3-3",
    paper="Shi et al., CVPR 2016",
    build=ESPCN,
    receptive_radius=lambda s: max(2 + 1 + 1, BICUBIC_RADIUS),
)

"""ESPCN (Shi et al., "Real-Time Single Image and Video Super-Resolution Using an Efficient
Sub-Pixel Convolutional Neural Network", CVPR 2016): 5-3-3 convolutions (64/32 filters, tanh)
on the LR Y channel, then a sub-pixel (pixel shuffle) upscale.

The output is added to the MATLAB-bicubic upsampling of the input (residual learning).
"""

from __future__ import annotations

from torch import nn

from srup.models.layers import BICUBIC_RADIUS, BicubicResidual, zero_
from srup.models.registry import ModelSpec


class ESPCN(BicubicResidual):
    def __init__(self, scale: int, channels: int = 1) -> None:
        super().__init__(scale, channels)
        self.body = nn.Sequential(
            nn.Conv2d(channels, 64, 5, padding=2),
            nn.Tanh(),
            nn.Conv2d(64, 32, 3, padding=1),
            nn.Tanh(),
            zero_(nn.Conv2d(32, channels * scale * scale, 3, padding=1)),
        )


SPEC = ModelSpec(
    name="espcn",
    title="ESPCN 5-3-3",
    paper="Shi et al., CVPR 2016",
    build=ESPCN,
    receptive_radius=lambda s: max(2 + 1 + 1, BICUBIC_RADIUS),
    input_spaces=("Y", "RGB"),
)

"""SRCNN 9-5-5 (Dong et al., "Image Super-Resolution Using Deep Convolutional Networks",
TPAMI 2016): three convolutions on the bicubic-upsampled Y channel.

The layers are the paper's (64 and 32 filters); the output is added to the bicubic input
(residual learning, as in VDSR), which trains far faster for the same parameters.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from srup.models.layers import BICUBIC_RADIUS, BicubicResidual, run_low
from srup.models.registry import ModelSpec


class SRCNN(BicubicResidual):
    def __init__(self, scale: int) -> None:
        super().__init__(scale)
        self.body = nn.Sequential(
            nn.Conv2d(1, 64, 9, padding=4),
            nn.ReLU(inplace=True),
            nn.Conv2d(64, 32, 5, padding=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 1, 5, padding=2),
        )
        # The paper's Gaussian (σ = 0.001) start for the last layer: a zero start, as the
        # other models use, leaves the ReLU layers without gradient and SRCNN stuck at bicubic.
        nn.init.normal_(self.body[-1].weight, std=1e-3)
        nn.init.zeros_(self.body[-1].bias)

    def _detail(self, up: torch.Tensor) -> torch.Tensor:
        # Centred input: on raw [0, 1] pixels Adam drives the ReLUs dead within steps.
        return run_low(self.body, up - 0.5)

    def body_input(self, x: torch.Tensor) -> torch.Tensor:
        return self.upsample(x) - 0.5

    def phases_of(self, body_out: torch.Tensor) -> torch.Tensor:
        return F.pixel_unshuffle(body_out, self.scale)

    def detail(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        return self.phases_of(run_low(self.body, self.body_input(x))), 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The body reads the bicubic upscale itself: computed once, not again as phases.
        up = self.upsample(x)
        return up + self._detail(up)


SPEC = ModelSpec(
    name="srcnn",
    title="SRCNN 9-5-5",
    paper="Dong et al., TPAMI 2016",
    build=SRCNN,
    # 8 HR pixels of convolution, then bicubic's 2 LR pixels around the source pixel.
    receptive_radius=lambda s: math.ceil(8 / s) + BICUBIC_RADIUS + 1,
)

"""ESPCN-7, srup's quality tier: the "seven-layer efficient sub-pixel CNN" of one of the
systems srup grew from (six convolutions, 5×5·64, 3×3·64, 3×3·32, 3×3·32, 3×3·32,
3×3·s², ReLU between, then depth-to-space), about 9 k multiply-adds per output pixel at ×3
against ESPCN's 2.5 k and SRCNN's 57 k.

Where srup departs from the original, and why:

- **Y in, Y out, on top of bicubic.** The original maps RGB to RGB. srup's models work on
  the BT.601 luma and carry the chroma by MATLAB bicubic, as the evaluation protocol scores
  Y alone: one input channel makes the first layer 3× cheaper, and the network learns only
  the correction to bicubic (residual learning, as VDSR), which trains faster and starts,
  with the last layer zeroed, from bicubic itself rather than from noise.
- **No ReLU after the last convolution.** The original clips its output at zero; a
  correction to bicubic is as often negative as positive, and clipping it would forbid every
  darkening edge.
- **The bicubic phases are added at LR size, before the shuffle** (as in :mod:`espcn`): the
  same sum at 1/s² of the memory traffic.
"""

from __future__ import annotations

from torch import nn

from srup.models.layers import BICUBIC_RADIUS, BicubicResidual, zero_
from srup.models.registry import ModelSpec

WIDTHS = (64, 64, 32, 32, 32)
KERNELS = (5, 3, 3, 3, 3, 3)


class ESPCN7(BicubicResidual):
    def __init__(self, scale: int, channels: int = 1) -> None:
        super().__init__(scale, channels)
        layers: list[nn.Module] = []
        width_in = channels
        for width, k in zip(WIDTHS, KERNELS, strict=False):
            layers += [nn.Conv2d(width_in, width, k, padding=k // 2), nn.ReLU()]
            width_in = width
        last = nn.Conv2d(width_in, channels * scale * scale, KERNELS[-1], padding=1)
        layers.append(zero_(last))
        self.body = nn.Sequential(*layers)


SPEC = ModelSpec(
    name="espcn7",
    title="ESPCN-7 (64-64-32-32-32)",
    paper="after Shi et al., CVPR 2016",
    build=ESPCN7,
    receptive_radius=lambda s: max(sum(k // 2 for k in KERNELS), BICUBIC_RADIUS),
    input_spaces=("Y", "RGB"),
)

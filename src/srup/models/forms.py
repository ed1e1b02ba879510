"""Inference-only rewrites that compute the same function faster on a CPU.

Activations run in place: a convolution's output is read by nothing else, and writing the
activation into it instead of a fresh buffer halves the activation's time.

``tanh(z) = 2·sigmoid(2z) − 1``, and the affine parts fold into the neighbouring
convolutions: the first one doubles, the next one absorbs ``2x − 1`` into its weights and
bias. PyTorch's CPU sigmoid takes half the time of its tanh, and ESPCN spends a third of its
time in tanh (benchmarks/speed.py). The one difference is at the image edge: a convolution's
zero padding of the sigmoid means tanh = −1 rather than 0 there. Only pixels within the
receptive radius of the input's edge see it, and srup never keeps those: the tiler (and the
ONNX export) pads the image by that radius and crops it away. The ``infer`` form of
:mod:`srup.models.layers` takes the same licence (FSRCNN ×3: a 4×4 sub-pixel kernel for its
lopsided reach, 16 taps instead of 25, 1.26× for the whole upscale).
"""

from __future__ import annotations

import torch
from torch import nn

from srup.models.layers import set_form

__all__ = ["for_inference"]


def _tanh_to_sigmoid(seq: nn.Sequential) -> None:
    for i in range(len(seq) - 2):
        first, act, then = seq[i], seq[i + 1], seq[i + 2]
        if not (
            type(act) is nn.Tanh
            and isinstance(first, nn.Conv2d)
            and isinstance(then, nn.Conv2d)
            and first.bias is not None
            and then.bias is not None
            and then.groups == 1
        ):
            continue
        with torch.no_grad():
            first.weight.mul_(2)
            first.bias.mul_(2)
            then.bias.sub_(then.weight.sum(dim=(1, 2, 3)))
            then.weight.mul_(2)
        seq[i + 1] = nn.Sigmoid()


class InPlace(nn.Module):
    """An elementwise activation written into its input (inference only)."""

    def __init__(self, fn: str) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(x, self.fn + "_")()

    def extra_repr(self) -> str:
        return self.fn


_IN_PLACE = {nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.ReLU: "relu"}


def _activations_in_place(seq: nn.Sequential) -> None:
    for i, layer in enumerate(seq):
        fn = _IN_PLACE.get(type(layer))
        if fn is not None:
            seq[i] = InPlace(fn)


def for_inference(net: nn.Module, dtype: torch.dtype = torch.float32) -> nn.Module:
    """Rewrite ``net`` in place for inference under srup's tiler (see the module doc).

    Only for float32: in bf16, sigmoid values near 0.5 are four times coarser than the tanh
    values near 0 they stand for (ESPCN ×2 on Set5: −0.025 dB against −0.01)."""
    for seq in [m for m in net.modules() if isinstance(m, nn.Sequential)]:
        if dtype == torch.float32:
            _tanh_to_sigmoid(seq)
        _activations_in_place(seq)
    set_form(net, "infer")
    return net.eval()

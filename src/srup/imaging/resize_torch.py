"""MATLAB ``imresize(..., 'bicubic')`` in torch, on any device, for batches of pictures.

Each pass is a product with a dense ``(out, in)`` matrix built from the same
:func:`srup.imaging.resize.contributions` as the NumPy version (weights, symmetric edges,
antialiasing), so the two agree exactly in float64 and to float32 rounding otherwise. For
training patches these matrices are small (a 90-pixel side: 90×30), and a batched matrix
product is one kernel where the NumPy loop is a pass per tap.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from srup.devices import device_constant
from srup.imaging.resize import contributions

__all__ = ["imresize_torch"]


# One per crop side a run's zoom draws (×4 at patch 32: about a hundred), and the LR's.
@lru_cache(maxsize=1024)
def _matrix(in_length: int, out_length: int, scale: float) -> torch.Tensor:
    weights, ind = contributions(in_length, out_length, scale, True)
    m = torch.zeros(out_length, in_length, dtype=torch.float64)
    # Mirrored taps can land on one source pixel twice: accumulate, not assign.
    m.scatter_add_(1, torch.from_numpy(ind.copy()), torch.from_numpy(weights.copy()))
    return m


@device_constant(maxsize=1024)
def _device_matrix(
    in_length: int, out_length: int, scale: float, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """:func:`_matrix` on ``device`` in ``dtype``, uploaded once: a training batch resizes
    every step, and an upload each time would make the host wait for the device's queue to
    drain."""
    # Cast on the host: MPS has no float64 (and float64 → float32 rounds alike anywhere).
    return _matrix(in_length, out_length, scale).to(dtype=dtype).to(device)


def imresize_torch(
    x: torch.Tensor, output_shape: tuple[int, int], uint8: bool = True
) -> torch.Tensor:
    """``(..., H, W)`` float → ``(..., oh, ow)`` in ``x``'s dtype and device. ``uint8``: the
    values are 8-bit levels (0–255) and are rounded and clipped after each pass, as MATLAB
    does for uint8 images; otherwise they stay float, unclipped."""
    in_h, in_w = x.shape[-2:]
    out_h, out_w = output_shape
    scales = (out_h / in_h, out_w / in_w)
    # MATLAB resizes the most-shrunk dimension first; ties go height first.
    for axis in sorted(range(2), key=lambda d: scales[d]):
        n_in = x.shape[-2 + axis]
        n_out = output_shape[axis]
        if n_in == n_out and scales[axis] == 1.0:
            continue
        m = _device_matrix(n_in, n_out, scales[axis], x.device, x.dtype)
        x = torch.matmul(m, x) if axis == 0 else torch.matmul(x, m.T)
        if uint8:
            x = x.round_().clamp_(0, 255)
    return x

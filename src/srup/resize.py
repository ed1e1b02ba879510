"""MATLAB-compatible ``imresize(..., 'bicubic')``.

Published SR numbers are computed on LR images made by MATLAB, so srup makes its LR images
the same way: Keys cubic (a = -0.5), antialiased when shrinking, symmetric padding, output
size ``ceil(in * scale)``, one pass per axis (height first) and, for uint8 input, a round and
clip after each pass as MATLAB's ``imresizemex`` does.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

__all__ = ["contributions", "imresize", "resize_pixels", "upsample_phase_kernel"]


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * (
        (ax > 1) & (ax <= 2)
    )


@lru_cache(maxsize=64)
def contributions(
    in_length: int, out_length: int, scale: float, antialias: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Weights and 0-based source indices, each ``(out_length, taps)``, of one resize pass."""
    kernel_width = 4.0
    if scale < 1 and antialias:

        def h(x: np.ndarray) -> np.ndarray:
            return scale * _cubic(scale * x)

        kernel_width /= scale
    else:
        h = _cubic
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    ind = left[:, None] + np.arange(taps)[None, :]
    weights = h(u[:, None] - ind)
    weights /= weights.sum(axis=1, keepdims=True)
    # MATLAB mirrors out-of-range indices (symmetric padding, edge sample repeated).
    aux = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    ind = aux[np.mod(ind.astype(np.int64) - 1, aux.size)]
    keep = np.any(weights != 0, axis=0)
    weights, ind = weights[:, keep], ind[:, keep]
    weights.setflags(write=False)
    ind.setflags(write=False)
    return weights, ind


def _resize_axis(x: np.ndarray, axis: int, out_length: int, scale: float, antialias: bool):
    weights, ind = contributions(x.shape[axis], out_length, scale, antialias)
    moved = np.moveaxis(x, axis, 0)
    out = np.zeros((out_length, *moved.shape[1:]), dtype=np.float64)
    extra = (slice(None),) + (None,) * (moved.ndim - 1)
    for k in range(weights.shape[1]):
        out += weights[:, k][extra] * moved[ind[:, k]]
    return np.moveaxis(out, 0, axis)


def imresize(
    img: np.ndarray,
    scale: float | None = None,
    output_shape: tuple[int, int] | None = None,
    antialias: bool = True,
) -> np.ndarray:
    """Resize like MATLAB ``imresize(img, scale, 'bicubic')``.

    ``img``: ``(H, W)`` or ``(H, W, C)``; uint8 (rounded and clipped after each pass, as
    MATLAB does) or float (kept float, no clipping). Give ``scale`` (output size is
    ``ceil(in * scale)``) or ``output_shape`` ``(H, W)`` (then each axis uses its own scale).
    Returns an array of the input's dtype.
    """
    if (scale is None) == (output_shape is None):
        raise ValueError("give exactly one of scale and output_shape")
    img = np.asarray(img)
    in_h, in_w = img.shape[:2]
    if scale is not None:
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        scales = (float(scale), float(scale))
        out_shape = (math.ceil(in_h * scale), math.ceil(in_w * scale))
    else:
        out_shape = (int(output_shape[0]), int(output_shape[1]))
        scales = (out_shape[0] / in_h, out_shape[1] / in_w)
    is_uint8 = img.dtype == np.uint8
    if not (is_uint8 or np.issubdtype(img.dtype, np.floating)):
        raise TypeError(f"imresize takes uint8 or float arrays, not {img.dtype}")
    out: np.ndarray = img.astype(np.float64)
    # MATLAB resizes the most-shrunk dimension first; ties go height first.
    order = sorted(range(2), key=lambda d: scales[d])
    for axis in order:
        if out.shape[axis] == out_shape[axis] and scales[axis] == 1.0:
            continue
        out = _resize_axis(out, axis, out_shape[axis], scales[axis], antialias)
        if is_uint8:
            out = np.clip(np.round(out), 0, 255)
    return out.astype(np.uint8) if is_uint8 else out.astype(img.dtype)


def resize_pixels(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(H, W[, C])`` uint8 or uint16 → ``size`` = (width, height), same dtype: MATLAB
    bicubic, antialiased when shrinking, each channel alike (alpha included)."""
    w, h = size
    if pixels.shape[1] == w and pixels.shape[0] == h:
        return pixels
    if pixels.dtype == np.uint8:
        return imresize(pixels, output_shape=(h, w))
    out = imresize(pixels.astype(np.float64), output_shape=(h, w))
    return np.clip(np.rint(out), 0, np.iinfo(pixels.dtype).max).astype(pixels.dtype)


@lru_cache(maxsize=8)
def upsample_phase_kernel(scale: int) -> np.ndarray:
    """MATLAB bicubic ×``scale`` upsampling as a 5×5 convolution per output phase.

    Returns float64 ``(scale*scale, 1, 5, 5)``: convolving an input padded symmetrically by
    2 on each side and pixel-shuffling the ``scale²`` channels equals ``imresize(x, scale)``
    on float input. This form runs tile by tile in bounded memory.
    """
    s = int(scale)
    offsets = np.arange(-2, 3, dtype=np.float64)
    taps = []
    for p in range(s):
        d = (p + 0.5) / s - 0.5 - offsets
        w = _cubic(d)
        taps.append(w / w.sum())
    k = np.zeros((s * s, 1, 5, 5))
    for py in range(s):
        for px in range(s):
            k[py * s + px, 0] = np.outer(taps[py], taps[px])
    k.setflags(write=False)
    return k

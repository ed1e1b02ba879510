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

__all__ = [
    "contributions",
    "has_alpha",
    "imresize",
    "resize_pixels",
    "upsample_phase_kernel",
]


# imresize's largest output: 2^30 pixels (32768 × 32768), whose float64 passes alone take
# 8 GiB per channel; anything larger is a mistake (a scale of 1e9) rather than a picture.
MAX_OUTPUT_PIXELS = 1 << 30
# The most float64 elements (pixels × channels) one array of imresize may hold: 8 GiB.
MAX_ELEMENTS = 1 << 30


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

    ``img``: ``(H, W)`` or ``(H, W, C)`` (or ``(H, W, ...)``: a stack, each picture
    alike), no axis empty; uint8 (rounded and clipped after each pass, as MATLAB does) or
    float (kept float, no clipping). Give ``scale`` (a
    finite number > 0; output size is ``ceil(in * scale)``) or ``output_shape`` ``(H, W)``
    (integers ≥ 1; then each axis uses its own scale). Returns an array of the input's
    dtype.

    Bounds, checked before anything is allocated: ``in * scale`` must be at least one
    pixel on each axis (a smaller scale would make MATLAB's antialiasing kernel
    ``4 / scale`` taps wide: ``imresize(x, 1e-9)`` would need 30 GiB), and the output at
    most :data:`MAX_OUTPUT_PIXELS` pixels; and the float64 arrays it allocates (input,
    after the first axis, output: pixels × channels) at most :data:`MAX_ELEMENTS`
    elements each (8 GiB): ``output_shape=(1, 10**9)`` on three channels is refused.

    Raises :class:`~srup.errors.InvalidArgumentType` (an ``img`` that is not such an
    array, of another dtype, a ``scale`` or ``output_shape`` of the wrong type) and
    :class:`~srup.errors.InvalidArgument` (both or neither of ``scale`` and
    ``output_shape``, values out of those bounds).
    """
    from srup import arguments
    from srup.errors import InvalidArgument

    if (scale is None) == (output_shape is None):
        raise InvalidArgument("give exactly one of scale and output_shape")
    img = arguments.array("img", img, dtypes=("uint8", "float"), stacked=True)
    antialias = arguments.boolean("antialias", antialias)
    in_h, in_w = img.shape[:2]
    if scale is not None:
        scale = arguments.number("scale", scale, positive=True)
        # With a little slack: 49 * (1 / 49) is 0.9999999999999999 in floating point.
        if min(in_h, in_w) * scale < 1 - 1e-9:
            raise InvalidArgument(
                f"scale {scale:g} shrinks {in_w}×{in_h} pixels below one pixel; the smallest "
                f"scale for it is 1/{min(in_h, in_w)} (use output_shape for other sizes)"
            )
        scales = (scale, scale)
        out_shape = (math.ceil(in_h * scale), math.ceil(in_w * scale))
    else:
        out_shape = arguments.size_pair("output_shape", output_shape)
        scales = (out_shape[0] / in_h, out_shape[1] / in_w)
    if out_shape[0] * out_shape[1] > MAX_OUTPUT_PIXELS:
        raise InvalidArgument(
            f"output of {out_shape[1]}×{out_shape[0]} pixels is over the limit of "
            f"{MAX_OUTPUT_PIXELS:,} pixels"
        )
    # MATLAB resizes the most-shrunk dimension first; ties go height first.
    order = sorted(range(2), key=lambda d: scales[d])
    # The float64 arrays it allocates: the input, after the first axis, the output.
    depth = math.prod(img.shape[2:])
    first = (out_shape[0], in_w) if order[0] == 0 else (in_h, out_shape[1])
    elements = depth * max(in_h * in_w, first[0] * first[1], out_shape[0] * out_shape[1])
    if elements > MAX_ELEMENTS:
        raise InvalidArgument(
            f"resizing {in_w}×{in_h} to {out_shape[1]}×{out_shape[0]} pixels of {depth} "
            f"channel(s) needs float64 arrays of {elements:,} elements, over the limit of "
            f"{MAX_ELEMENTS:,} ({MAX_ELEMENTS * 8 / 2**30:g} GiB)"
        )
    is_uint8 = img.dtype == np.uint8
    out: np.ndarray = img.astype(np.float64)
    for axis in order:
        if out.shape[axis] == out_shape[axis] and scales[axis] == 1.0:
            continue
        out = _resize_axis(out, axis, out_shape[axis], scales[axis], antialias)
        if is_uint8:
            out = np.clip(np.round(out), 0, 255)
    return out.astype(np.uint8) if is_uint8 else out.astype(img.dtype)


def has_alpha(pixels: np.ndarray) -> bool:
    """Whether ``(H, W, C)`` uint8/uint16 pixels with C = 2 (LA) or 4 (RGBA) have an alpha
    that is not fully opaque somewhere: what needs premultiplied resampling. One pass over
    the alpha plane; False for other layouts."""
    if pixels.ndim != 3 or pixels.shape[2] not in (2, 4) or pixels.size == 0:
        return False
    return bool(pixels[:, :, -1].min() < np.iinfo(pixels.dtype).max)


def _unpremultiply(out: np.ndarray, maxv: float) -> np.ndarray:
    """Float ``(H, W, C)`` levels, colour premultiplied by the last channel (alpha) →
    straight colour and alpha, both clamped to 0–``maxv``, still float, in place. Where
    alpha rounds to 0 (``np.rint``: at most ½) the colour is 0: it is invisible, and a
    division by (almost) zero would only make noise of it."""
    # In place, and one pass over the colour planes: at output size they are most of a
    # resize's memory and time.
    alpha, colour = out[:, :, -1:], out[:, :, :-1]
    np.clip(alpha, 0, maxv, out=alpha)
    gain = np.where(alpha > 0.5, maxv / np.maximum(alpha, 0.5), 0.0)  # np.rint(0.5) is 0
    colour *= gain
    np.clip(colour, 0, maxv, out=colour)
    return out


def resize_pixels(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(H, W[, C])`` uint8 or uint16 → ``size`` = (width, height), same dtype, C-contiguous
    (writers need it): MATLAB bicubic, antialiased when shrinking.

    Alpha (C = 2 or 4, the last channel) is resampled like any channel, the colour
    premultiplied by it (Porter & Duff 1984): ``C·α`` is resized, then divided by the
    resized alpha, in float64 and rounded once, so colour stored under α = 0 never reaches
    a visible pixel; where the resized alpha rounds to 0 the colour is 0. Opaque pictures
    (and those without alpha) take the plain route, rounded after each pass as MATLAB does
    for uint8."""
    w, h = size
    if pixels.shape[1] == w and pixels.shape[0] == h:
        return np.ascontiguousarray(pixels)
    maxv = np.iinfo(pixels.dtype).max
    if has_alpha(pixels):
        x = pixels.astype(np.float64)
        x[:, :, :-1] *= x[:, :, -1:] / maxv
        out = _unpremultiply(imresize(x, output_shape=(h, w)), maxv)
    elif pixels.dtype == np.uint8:
        return np.ascontiguousarray(imresize(pixels, output_shape=(h, w)))
    else:
        out = imresize(pixels.astype(np.float64), output_shape=(h, w))
        np.clip(out, 0, maxv, out=out)
    return np.rint(out, out=out).astype(pixels.dtype, order="C")


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

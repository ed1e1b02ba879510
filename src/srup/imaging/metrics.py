"""PSNR, SSIM and MSE as SR papers compute them.

Inputs are uint8 arrays ``(H, W)`` or ``(H, W, C)``. With ``y_channel`` RGB is reduced to
BT.601 Y (16–235, MATLAB ``rgb2ycbcr``); ``crop_border`` pixels are shaved from each side
(the convention is crop_border = scale). SSIM is Wang et al.'s: Gaussian 11×11, σ = 1.5,
K1 = 0.01, K2 = 0.03, L = 255, averaged over the valid region.

SSIM is not defined on a picture smaller than its 11×11 window (after the border is
shaved): :func:`ssim` returns NaN there, where PSNR and MSE are still computed. This follows
the authors' reference code, ``ssim_index.m`` (Wang, Bovik, Sheikh and Simoncelli, 2004;
https://ece.uwaterloo.ca/~z70wang/research/ssim/), which returns ``-Inf`` for images under
11×11 rather than shrinking the window, since a smaller window is a different measure whose
values would not compare with anyone's table; NaN rather than ``-Inf`` so that no average
takes it for a score (:func:`math.isnan` tells it; :func:`srup.evaluation.protocol.mean_defined`
averages the others). scikit-image refuses such images outright.

Every function checks its arguments and raises :class:`~srup.errors.InvalidArgumentType`
(not arrays, not uint8, shapes that are no picture's) or :class:`~srup.errors.InvalidArgument`
(the two images differ in shape, a negative ``crop_border``, nothing left after cropping).
"""

from __future__ import annotations

import math

import numpy as np

from srup import arguments
from srup.errors import InvalidArgument
from srup.imaging.color import rgb_to_y

__all__ = ["SSIM_WINDOW", "mse", "prepare", "psnr", "ssim"]

SSIM_WINDOW = 11  # the Gaussian window's side: the smallest picture SSIM is defined on


def prepare(img: np.ndarray, crop_border: int = 0, y_channel: bool = True) -> np.ndarray:
    """float64 ``(H', W')`` or ``(H', W', C)`` in [0, 255], as the metrics see it.

    ``img``: uint8 ``(H, W)`` or ``(H, W, C)``; with ``y_channel``, C is 1, 3 or 4 (RGB
    and RGBA become Y, alpha ignored). ``crop_border``: an integer ≥ 0. Raises
    :class:`~srup.errors.InvalidArgumentType` / :class:`~srup.errors.InvalidArgument`."""
    y_channel = arguments.boolean("y_channel", y_channel)
    crop_border = arguments.integer("crop_border", crop_border, minimum=0)
    a = arguments.array("image", img, dtypes=("uint8",), channels=(1, 3, 4) if y_channel else None)
    x = a.astype(np.float64)
    if x.ndim == 3 and x.shape[2] == 1:
        x = x[:, :, 0]
    if y_channel and x.ndim == 3:
        x = rgb_to_y(x[:, :, :3] / 255.0) * 255.0
    if crop_border:
        x = x[crop_border:-crop_border, crop_border:-crop_border]
    return x


def _pair(a: np.ndarray, b: np.ndarray, crop_border: int, y_channel: bool):
    if np.shape(a) != np.shape(b):
        raise InvalidArgument(f"images differ in shape: {np.shape(a)} vs {np.shape(b)}")
    x, y = prepare(a, crop_border, y_channel), prepare(b, crop_border, y_channel)
    if x.size == 0:
        raise InvalidArgument(
            f"nothing left to compare after cropping {crop_border} pixels from each border "
            f"of {np.shape(a)[1]}×{np.shape(a)[0]}"
        )
    return x, y


def mse(a: np.ndarray, b: np.ndarray, crop_border: int = 0, y_channel: bool = True) -> float:
    """Mean squared error on the [0, 255] scale; arguments as :func:`psnr`."""
    x, y = _pair(a, b, crop_border, y_channel)
    return float(np.mean((x - y) ** 2))


def psnr(a: np.ndarray, b: np.ndarray, crop_border: int = 0, y_channel: bool = True) -> float:
    """Peak signal-to-noise ratio in dB (peak 255); ``inf`` for identical images.

    ``a``, ``b``: uint8 ``(H, W)`` or ``(H, W, C)`` of one shape (C is 1, 3 or 4 with
    ``y_channel``); ``crop_border``: pixels shaved from each side, an integer ≥ 0 that must
    leave something. Raises :class:`~srup.errors.InvalidArgumentType` (not uint8 arrays of
    a picture's shape) and :class:`~srup.errors.InvalidArgument` (shapes differ, nothing
    left after cropping)."""
    e = mse(a, b, crop_border, y_channel)
    return math.inf if e == 0 else 10.0 * math.log10(255.0**2 / e)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    ax = np.arange(size) - (size - 1) / 2
    g = np.exp(-(ax**2) / (2 * sigma**2))
    g /= g.sum()
    return g


def _filter_valid(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' correlation of a 2-D array with the 1-D window ``g``."""
    n = g.size
    rows = sum(g[i] * x[i : x.shape[0] - n + 1 + i] for i in range(n))
    return sum(g[i] * rows[:, i : rows.shape[1] - n + 1 + i] for i in range(n))


def _ssim_plane(x: np.ndarray, y: np.ndarray) -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    g = _gaussian_window()
    mu_x, mu_y = _filter_valid(x, g), _filter_valid(y, g)
    sxx = _filter_valid(x * x, g) - mu_x**2
    syy = _filter_valid(y * y, g) - mu_y**2
    sxy = _filter_valid(x * y, g) - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * sxy + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2)
    return float(np.mean(num / den))


def ssim(a: np.ndarray, b: np.ndarray, crop_border: int = 0, y_channel: bool = True) -> float:
    """Structural similarity (Wang et al. 2004), in [-1, 1]; colour images average their
    channels. Arguments and errors as :func:`psnr`.

    NaN when fewer than 11×11 pixels (:data:`SSIM_WINDOW`) are left after cropping: SSIM
    is not defined there (see the module's note and its source); PSNR still is."""
    x, y = _pair(a, b, crop_border, y_channel)
    if min(x.shape[:2]) < SSIM_WINDOW:
        return math.nan
    if x.ndim == 2:
        return _ssim_plane(x, y)
    return float(np.mean([_ssim_plane(x[..., c], y[..., c]) for c in range(x.shape[2])]))

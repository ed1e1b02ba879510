"""BT.601 YCbCr exactly as MATLAB's ``rgb2ycbcr``, on NumPy arrays and torch tensors.

All functions take values scaled to [0, 1] and work on the last axis (NumPy, ``(..., 3)``)
or on axis 1 (torch, ``(N, 3, H, W)``); both are written against the same matrix.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "OFFSET",
    "RGB_TO_YCC",
    "YCC_TO_RGB",
    "gray_from_y",
    "rgb_to_y",
    "rgb_to_ycbcr",
    "y_from_gray",
    "ycbcr_to_rgb",
]

# Rows: Y, Cb, Cr. Input RGB in [0, 255]-scale coefficients divided by 255.
RGB_TO_YCC = (
    np.array(
        [
            [65.481, 128.553, 24.966],
            [-37.797, -74.203, 112.0],
            [112.0, -93.786, -18.214],
        ]
    )
    / 255.0
)
OFFSET = np.array([16.0, 128.0, 128.0]) / 255.0
YCC_TO_RGB = np.linalg.inv(RGB_TO_YCC)


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3)`` RGB in [0, 1] → YCbCr in [0, 1] (Y in [16/255, 235/255]), float64."""
    return np.asarray(rgb, dtype=np.float64) @ RGB_TO_YCC.T + OFFSET


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr`; not clipped."""
    return (np.asarray(ycc, dtype=np.float64) - OFFSET) @ YCC_TO_RGB.T


def rgb_to_y(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3)`` RGB in [0, 1] → ``(...)`` Y in [16/255, 235/255], float64."""
    return np.asarray(rgb, dtype=np.float64) @ RGB_TO_YCC[0] + OFFSET[0]


def y_from_gray(gray: np.ndarray) -> np.ndarray:
    """Gray values in [0, 1] → the Y of the RGB pixel (v, v, v)."""
    return np.asarray(gray, dtype=np.float64) * RGB_TO_YCC[0].sum() + OFFSET[0]


def gray_from_y(y: np.ndarray) -> np.ndarray:
    """Inverse of :func:`y_from_gray`; not clipped."""
    return (np.asarray(y, dtype=np.float64) - OFFSET[0]) / RGB_TO_YCC[0].sum()

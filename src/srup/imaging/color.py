"""BT.601 YCbCr exactly as MATLAB's ``rgb2ycbcr``: the matrix the metrics, the training
patches and the colour pipeline (srup.runtime.color_pipeline, in torch) are all written against.

Functions take NumPy values scaled to [0, 1] and work on the last axis, ``(..., 3)``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "OFFSET",
    "RGB_TO_YCC",
    "YCC_TO_RGB",
    "rgb_to_y",
    "rgb_to_ycbcr",
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

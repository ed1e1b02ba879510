"""The SR evaluation protocol: LR/HR pairs and scoring.

Of a data set (:mod:`srup.data.datasets`: a folder of HR images, or ``NAME/HR`` with given
LR images), HR is cropped to a multiple of the scale and LR is the given image or made here
with :func:`srup.imresize`; outputs are uint8; PSNR/SSIM/MSE are on Y with ``s`` pixels
shaved from each border.

An HR image with nothing left once cropped and shaved (3s pixels a side at least) is a
:class:`~srup.errors.DataError` naming it, before any scoring; one smaller than SSIM's 11×11
window once shaved scores PSNR and MSE, and SSIM NaN (not defined: :mod:`srup.imaging.metrics`),
which :func:`mean_defined` leaves out of the averages.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

# Dataset, Sample, discover and read_rgb live in srup.data.datasets; discover is named here
# too for the code that reaches data sets through the protocol (srup.benchmark, its old name).
from srup.data.datasets import Dataset, Sample, discover, read_rgb  # noqa: F401
from srup.data.degrade import Degradation, parse
from srup.errors import DataError
from srup.imaging.metrics import SSIM_WINDOW, mse, psnr, ssim
from srup.imaging.resize import imresize

__all__ = [
    "Score",
    "bicubic",
    "evaluate",
    "load_pair",
    "mean_defined",
    "pairs",
    "score",
    "too_small_for_ssim",
]


@dataclass(frozen=True)
class Score:
    name: str
    psnr: float
    ssim: float
    mse: float
    seconds: float
    pixels: int


def load_pair(sample: Sample, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(LR, HR) uint8 RGB for ``sample`` at ``scale``; HR cropped to a multiple of it."""
    hr = read_rgb(sample.hr)
    h, w = hr.shape[:2]
    hr = hr[: h - h % scale, : w - w % scale]
    if min(hr.shape[:2]) <= 2 * scale:
        raise DataError(
            f"{sample.hr}: {w}×{h} is too small to score at ×{scale}: nothing is left once it "
            f"is cropped to a multiple of {scale} and {scale} pixels are shaved from each "
            f"border (it needs {3 * scale}×{3 * scale} at least)"
        )
    if scale in sample.lr:
        lr = read_rgb(sample.lr[scale])
        want = (hr.shape[0] // scale, hr.shape[1] // scale)
        if lr.shape[:2] != want:
            raise DataError(
                f"{sample.lr[scale]}: LR is {lr.shape[1]}×{lr.shape[0]}, expected "
                f"{want[1]}×{want[0]} for ×{scale} of {sample.hr.name}"
            )
    else:
        lr = imresize(hr, 1 / scale)
    return lr, hr


def mean_defined(values: Iterable[float]) -> float:
    """The mean of the values that are not NaN (an SSIM on a picture under the window is
    NaN: not defined); NaN when none is."""
    defined = [v for v in values if not math.isnan(v)]
    return float(np.mean(defined)) if defined else math.nan


def too_small_for_ssim(shape: tuple[int, ...], scale: int) -> bool:
    """Whether an HR image of ``shape`` (already cropped to a multiple of ``scale``) is
    under SSIM's window once ``scale`` pixels are shaved from each border."""
    return min(shape[:2]) - 2 * scale < SSIM_WINDOW


def bicubic(scale: int) -> Callable[[np.ndarray], np.ndarray]:
    """MATLAB bicubic upsampling, the baseline every table starts from."""
    return lambda lr: imresize(lr, scale)


def score(sr: np.ndarray, hr: np.ndarray, scale: int) -> tuple[float, float, float]:
    """(PSNR, SSIM, MSE) on Y with ``scale`` pixels shaved from each border."""
    return (
        psnr(sr, hr, crop_border=scale),
        ssim(sr, hr, crop_border=scale),
        mse(sr, hr, crop_border=scale),
    )


def evaluate(
    upscale: Callable[[np.ndarray], np.ndarray],
    pairs: Iterable[tuple[str, np.ndarray, np.ndarray]],
    scale: int,
    keep: Callable[[str, np.ndarray], None] | None = None,
) -> list[Score]:
    """Score ``upscale`` (uint8 RGB LR → uint8 RGB SR) on ``(name, LR, HR)`` pairs."""
    scores = []
    for name, lr, hr in pairs:
        start = time.perf_counter()
        sr = upscale(lr)
        seconds = time.perf_counter() - start
        if keep is not None:
            keep(name, sr)
        p, s, m = score(sr, hr, scale)
        scores.append(Score(name, p, s, m, seconds, sr.shape[0] * sr.shape[1]))
    return scores


DEGRADATION_SEED = 20261122  # one fixed draw per image, so every run scores the same LR


def pairs(
    dataset: Dataset, scale: int, degradation: Degradation | str | None = None
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, LR, HR)`` uint8 RGB for every sample. With a ``degradation`` other than
    clean, the LR is degraded from a seed fixed per image name: from the data set's own
    (MATLAB) LR image when the degradation resizes by plain bicubic, else from the HR."""
    deg = parse(degradation)
    out = []
    for s in dataset.samples:
        lr, hr = load_pair(s, scale)
        if not deg.is_clean:
            rng = np.random.default_rng([DEGRADATION_SEED, zlib.crc32(s.name.encode())])
            lr = deg.apply_to_lr(lr, rng) if deg.resizes_like_matlab else deg.apply(hr, scale, rng)
        out.append((s.name, lr, hr))
    return out

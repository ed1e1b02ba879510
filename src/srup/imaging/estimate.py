"""What a picture says about itself: JPEG quality from its quantization tables, the σ of the
noise on its luma, how soft its edges are, how blocky it is and whether an earlier, coarser
JPEG save hides under its last one. Cheap (about 30 ms for 640×480 on a 2-core CPU, at most
about 0.3 s: big pictures are read on their centre), so ``--denoise auto`` can choose a
strength per file.

The measures, each with its source:

* :func:`jpeg_quality` — the libjpeg (IJG) quality whose tables the file carries: exact when
  the tables are libjpeg's own scaled Annex K tables (``jcparam.c``), else the IJG quality
  whose luma table is nearest in a least-squares sense on log steps.
* :func:`noise_sigma` — Immerkær's noise estimator (J. Immerkær, "Fast Noise Variance
  Estimation", Computer Vision and Image Understanding 64(2), 1996) restricted to flat
  pixels, as in S.-C. Tai and S.-M. Yang, "A fast method for image noise estimation using
  Laplacian operator and adaptive edge detection" (ISCCSP 2008); with a trimmed mean and
  saturated pixels left out (below).
* :func:`edge_width` — the width of a linear ramp with the same contrast and peak slope as
  the picture's main edges (median over Canny's edge pixels), in pixels; our own cheap
  measure, in the spirit of Marziliano et al.'s edge-width blur metric (ICIP 2002).
* :func:`blockiness` — how much stronger the luma's steps are across one phase of the 8×8
  grid than across the others: the ratio of boundary to inner gradients of H. R. Wu and
  M. Yuen's generalised block-edge impairment metric (GBIM, IEEE Signal Processing Letters
  4(11), 1997), unweighted; about 1 for a picture never compressed or saved once at a high
  quality, clearly above for one compressed hard, whatever it was saved as since.
* :func:`earlier_quality` — the quality of an earlier, coarser JPEG save that a file's last
  save hides (a JPEG at quality 10 saved again at 95): the DCT coefficients of the picture's
  8×8 blocks still sit on the lattice of the first save's quantization steps, found per
  frequency as the largest step whose multiples they cluster on (after J. Lukáš and
  J. Fridrich, "Estimation of primary quantization matrix in double compressed JPEG
  images", DFRWS 2003), then read on libjpeg's quality scale as :func:`jpeg_quality` reads
  a table.

Big pictures are measured on their centre (:data:`MAX_PIXELS`, :func:`centre`), so an
estimate costs a bounded time and memory (:data:`BYTES_PER_PIXEL`) whatever the size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from statistics import NormalDist

import numpy as np

__all__ = [
    "BYTES_PER_PIXEL",
    "MAX_PIXELS",
    "Estimate",
    "blockiness",
    "centre",
    "earlier_quality",
    "edge_width",
    "estimate",
    "flat_fraction",
    "ijg_tables",
    "jpeg_quality",
    "luma",
    "noise_sigma",
]

# ITU-T T.81 Annex K tables K.1 (luminance) and K.2 (chrominance), natural (row-major) order:
# the base tables libjpeg scales by quality (jcparam.c, jpeg_add_quant_table).
_K1 = (
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip
_K2 = (
    17, 18, 24, 47, 99, 99, 99, 99,
    18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
)  # fmt: skip
# _ZIGZAG[i]: the position in the file's zigzag sequence of natural position i (row-major),
# the order of the DQT marker (T.81 figure A.6); Pillow's ``zigzag_index``.
_ZIGZAG = (
    0, 1, 5, 6, 14, 15, 27, 28,
    2, 4, 7, 13, 16, 26, 29, 42,
    3, 8, 12, 17, 25, 30, 41, 43,
    9, 11, 18, 24, 31, 40, 44, 53,
    10, 19, 23, 32, 39, 45, 52, 54,
    20, 22, 33, 38, 46, 51, 55, 60,
    21, 34, 37, 47, 50, 56, 59, 61,
    35, 36, 48, 49, 57, 58, 62, 63,
)  # fmt: skip

# JFIF's full-range BT.601 luma weights: grey noise of σ on R, G and B is σ on Y.
_LUMA = (0.299, 0.587, 0.114)


def _scale(quality: np.ndarray) -> np.ndarray:
    """libjpeg's ``jpeg_quality_scaling`` (jcparam.c) for real-valued qualities: the
    percentage the base tables are scaled by, 5000 / q below 50, else 200 − 2q (libjpeg
    floors 5000 / q for its integer q; see :func:`ijg_tables`)."""
    q = np.clip(np.asarray(quality, dtype=np.float64), 1, 100)
    return np.where(q < 50, 5000.0 / q, 200.0 - 2.0 * q)


def ijg_tables(quality: int, baseline: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """libjpeg's luma and chroma tables for ``quality`` (1–100, clamped as libjpeg does):
    two ``(64,)`` int32 arrays in natural (row-major) order. As ``jpeg_set_quality``:
    scale = 5000 / q (integer division) below 50, else 200 − 2q; entry =
    (base·scale + 50) // 100 clamped to [1, 255] (``baseline``, what Pillow and OpenCV ask
    for) or [1, 32767]."""
    q = min(100, max(1, int(quality)))
    scale = 5000 // q if q < 50 else 200 - 2 * q
    top = 255 if baseline else 32767
    return tuple(  # type: ignore[return-value]
        np.clip((np.array(base, dtype=np.int64) * scale + 50) // 100, 1, top).astype(np.int32)
        for base in (_K1, _K2)
    )


def _all_tables() -> tuple[np.ndarray, np.ndarray]:
    """``(200, 64)`` luma and chroma tables: rows 0–99 are qualities 1–100 with baseline
    clamping, rows 100–199 the same qualities without it (as :func:`ijg_tables`)."""
    q = np.arange(1, 101)
    scale = np.where(q < 50, 5000 // q, 200 - 2 * q)[:, None]
    out = []
    for base in (_K1, _K2):
        raw = (np.array(base, dtype=np.int64)[None, :] * scale + 50) // 100
        out.append(np.concatenate([np.clip(raw, 1, 255), np.clip(raw, 1, 32767)]))
    return out[0], out[1]


_IJG_LUMA, _IJG_CHROMA = _all_tables()
_FIT_Q = np.round(np.arange(1.0, 100.0001, 0.05), 2)  # qualities tried by the fit
# libjpeg's luma table at each of those qualities, scaled and rounded as jcparam.c does but
# with the scale left continuous; clamped below at 1 (above at 255 or 32767, when used).
_FIT_LUMA = np.maximum(
    np.floor(np.array(_K1, dtype=np.float64)[None, :] * _scale(_FIT_Q)[:, None] / 100 + 0.5), 1
)


def _as_table(values: Sequence[int]) -> np.ndarray:
    table = np.asarray(list(values), dtype=np.int64).ravel()
    if table.size != 64:
        raise ValueError(f"a JPEG quantization table has 64 entries, got {table.size}")
    return table


def jpeg_quality(quantization: Mapping[int, Sequence[int]] | None) -> tuple[float, bool] | None:
    """The libjpeg (IJG) quality a JPEG's quantization tables stand for, on libjpeg's 1–100
    scale, and whether the tables are exactly libjpeg's.

    ``quantization``: ``{table index: 64 ints}``; table 0 is the luma table, 1 the chroma
    table. Pillow's ``Image.quantization`` is keyed by the tables' ids in the file, which
    are 0 (luma) and 1 (chroma) for every encoder in common use;
    :attr:`srup.media.pictures.Picture.quantization` is keyed instead by the order the frame
    header's components use the tables in (0: the first component's, the luma of a
    YCbCr or grey JPEG, whatever its id; tables no component uses left out). Pillow 13
    gives each table in natural (row-major) order; some readers give the file's zigzag
    order; both are recognised (for tables not libjpeg's, the order whose fit is closer
    is taken). ``None`` or ``{}`` (a PNG, a TIFF: no tables) → ``None``: nothing is
    guessed. A table with a step of 0 → ``None`` too: T.81 allows steps from 1 only, a
    decoder's reading of 0 is its own (libjpeg multiplies the coefficient by it, dropping
    that frequency), so the tables say nothing trustworthy of the quality (unknown; the
    caller can tell this case from a file without tables by the tables it passed).

    * Exact: ``(q, True)`` when the luma table and, if present, the chroma table (and any
      further table, which must equal the chroma table) are libjpeg's scaled Annex K tables
      for one integer q (see :func:`ijg_tables`; baseline-clamped or not). Tables for
      q = 1–100 are all distinct, so q is unique (checked by the tests). Pillow and
      OpenCV (both checked for every q), and libjpeg-based tools at their defaults, write
      these.
    * ``(q, False)`` with an integer q when only the luma table is libjpeg's (a custom
      chroma table, or libjpeg-turbo's ``-quality 90,70`` with its two qualities).
    * Otherwise ``(q, False)``: the IJG-equivalent quality, a float rounded to 0.1 — the
      q in [1, 100] (steps of 0.05) whose libjpeg luma table, scaled and rounded as
      libjpeg does but with the scale left continuous, is nearest the file's luma table in
      the sum of squared log-ratios of the 64 steps; where several q give the same table,
      the highest (libjpeg's own integer q sits there). A table twice as coarse everywhere
      as libjpeg's at q reads as the q of twice the scale. Camera firmware, Photoshop and
      mozjpeg (whose default tables differ from Annex K) land here. (ImageMagick's
      ``identify`` instead compares table sums with those of libjpeg's qualities.)

    :class:`ValueError` if a table does not have 64 entries.
    """
    if not quantization:
        return None
    keys = sorted(quantization)
    tables = {k: _as_table(quantization[k]) for k in keys}
    if any((table <= 0).any() for table in tables.values()):
        return None  # a step of 0 (or less): not a valid table, the quality is unknown
    luma_key = 0 if 0 in tables else keys[0]
    rest = [k for k in keys if k != luma_key]
    orders = (np.arange(64), np.array(_ZIGZAG))  # natural as given; zigzag read back
    luma_only = None
    for order in orders:
        hits = (tables[luma_key][order] == _IJG_LUMA).all(axis=1)
        if not hits.any():
            continue
        q = float(int(np.argmax(hits)) % 100 + 1)
        if rest:
            chroma = tables[rest[0]]
            same = all(np.array_equal(tables[k], chroma) for k in rest[1:])
            hits &= same & (chroma[order] == _IJG_CHROMA).all(axis=1)
        if hits.any():
            return float(int(np.argmax(hits)) % 100 + 1), True
        luma_only = q
    if luma_only is not None:  # libjpeg's luma table with some other chroma table
        return luma_only, False
    # Not libjpeg's: fit the quality on the luma table, in whichever order fits better.
    best = (math.inf, 50.0)
    for order in orders:
        table = tables[luma_key][order]
        fit = np.log(np.minimum(_FIT_LUMA, 255 if table.max() <= 255 else 32767))
        logs = np.log(np.clip(table, 1, None).astype(np.float64))
        cost = ((logs[None, :] - fit) ** 2).sum(axis=1)
        low = float(cost.min())
        if low < best[0] - 1e-9:
            # Rounded tables make the cost a step function; libjpeg's own integer q sits at
            # the top of its step (a smaller scale rounds some entries down).
            best = (low, float(_FIT_Q[cost <= low + 1e-9].max()))
    return round(best[1], 1), False


def luma(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 (or float in 0–255) RGB → ``(H, W)`` float32 luma in 8-bit
    levels, 0–255: JFIF's full-range BT.601 Y = 0.299 R + 0.587 G + 0.114 B, the Y a JPEG
    is coded in, so grey noise of σ levels on R, G, B is σ on Y (noise independent per
    channel of σ is 0.67 σ on Y)."""
    import cv2

    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) RGB, got shape {rgb.shape}")
    w = np.array([_LUMA], dtype=np.float32)
    y = cv2.transform(np.ascontiguousarray(rgb, dtype=np.float32), w)
    return y.reshape(rgb.shape[:2])  # OpenCV drops the channel axis of a 1-channel result


# Immerkær's mask: the difference of two Laplacians, blind to locally quadratic intensity;
# on white noise of σ its output is normal with σ·‖M‖ = 6σ.
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
_TRIM = 0.9  # keep the smallest 90 % of the flat pixels' residuals (stray edges dropped)
# E[|X| | |X| < t] for X ~ N(0, 1), t the _TRIM quantile of |X|: turns the trimmed mean
# absolute residual back into a standard deviation.
_T = NormalDist().inv_cdf((1 + _TRIM) / 2)
_TRIMMED_MEAN = math.sqrt(2 / math.pi) * (1 - math.exp(-_T * _T / 2)) / _TRIM
_MIN_PIXELS = 64
# No variable confined to 0–255 has a standard deviation above half that range: what the
# mask reads beyond it is a pattern at the pixel scale (a 1-pixel checkerboard reads 514),
# not noise, and is reported as this.
MAX_SIGMA = 127.5
_BOX3 = np.ones((3, 3), np.uint8)


def _noise_sigma(y: np.ndarray, unclipped: np.ndarray) -> float:
    """:func:`noise_sigma` on ``y`` ``(H, W)`` float32, measuring only where ``unclipped``
    (``(H, W)`` uint8, nonzero where no value in the 3×3 neighbourhood is clipped) unless
    too few pixels are."""
    import cv2

    h, w = y.shape
    if h < 3 or w < 3:
        raise ValueError(f"noise needs a picture of at least 3×3 pixels, got {w}×{h}")
    inner = (slice(1, -1), slice(1, -1))
    residual = cv2.filter2D(y, cv2.CV_32F, _IMMERKAER)[inner]
    # Flatness: Sobel gradient (L1), spread over 3×3 so a pixel next to an edge counts too.
    gx = cv2.Sobel(y, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(y, cv2.CV_32F, 0, 1, ksize=3)
    grad = cv2.dilate(cv2.absdiff(gx, 0) + cv2.absdiff(gy, 0), _BOX3)[inner]
    keep = unclipped[inner] > 0
    if int(np.count_nonzero(keep)) < max(_MIN_PIXELS, keep.size // 100):
        keep = np.ones_like(keep)
    # The flattest half of the kept pixels; the threshold from a sample of them (fast).
    kept_grad = grad[keep]
    sample = kept_grad[:: max(1, kept_grad.size // 20000)]
    limit = np.partition(sample, sample.size // 2)[sample.size // 2]
    flat = np.abs(residual[keep][kept_grad <= limit])
    m = max(1, int(_TRIM * flat.size))
    kept = np.partition(flat, m - 1)[:m]
    return min(MAX_SIGMA, float(kept.mean(dtype=np.float64) / (6.0 * _TRIMMED_MEAN)))


def _inside(img: np.ndarray) -> np.ndarray:
    """``(H, W)`` uint8, 255 where no value of ``img`` (``(H, W)`` or ``(H, W, 3)``, 0–255)
    is clipped (≤ 0 or ≥ 255, in any channel)."""
    import cv2

    img = np.ascontiguousarray(img)
    if img.dtype == np.uint8:
        low, high = 1, 254
    else:
        img = img.astype(np.float32, copy=False)
        low, high = 1e-3, 255 - 1e-3
    n = 1 if img.ndim == 2 else img.shape[2]
    return cv2.inRange(img, (low,) * n, (high,) * n)


def _unclipped(img: np.ndarray, inside: np.ndarray | None = None) -> np.ndarray:
    """``(H, W)`` uint8, 255 where no value of ``img`` (``(H, W)`` or ``(H, W, 3)``, 0–255)
    in the 3×3 neighbourhood is clipped (≤ 0 or ≥ 255, in any channel): clipping eats part
    of the noise. ``inside``: :func:`_inside` of ``img``, when made already."""
    import cv2

    return cv2.erode(_inside(img) if inside is None else inside, _BOX3)


def noise_sigma(y: np.ndarray) -> float:
    """σ of additive white noise on a luma picture, in its levels, from its flat pixels.

    ``y``: ``(H, W)`` uint8 or float luma in 0–255 (at least 3×3). Immerkær's 3×3 mask
    (the difference of two Laplacians, blind to smooth shading) gives a residual whose
    size is 6σ·√(2/π) on average where the picture is flat; the pixels used are the flattest
    half by Sobel gradient (after Tai and Yang), leaving out those next to a clipped value
    (0 or 255: noise there is partly cut off) unless nearly all are; σ is the mean of the
    smallest 90 % of their absolute residuals, scaled for that trimming (robust to the odd
    stroke edge among the flat pixels). A JPEG's quantization removes noise: this reports
    the noise that is left. About 5 ms for 640×480 on one core.

    Accuracy (tests/imaging/test_estimate.py): within 3 % for σ = 2–10 on smooth pictures and on
    rendered text boards, within 0.2 level for σ ≤ 1 (rounding to 8 bits adds its own
    0.29); on boards mostly clipped to white, within 10 % up to σ = 10. Texture finer than
    3 pixels reads as noise; the result is at most :data:`MAX_SIGMA` (127.5, half the
    8-bit range), which a pattern at the pixel scale (a 1-pixel checkerboard) reads.
    """
    y = np.asarray(y)
    if y.ndim != 2:
        raise ValueError(f"expected (H, W) luma, got shape {y.shape}")
    y = np.ascontiguousarray(y, dtype=np.float32)
    return _noise_sigma(y, _unclipped(y))


_WIDTH_WINDOW = 15  # pixels: the window a contrast is measured in, and the widest width
_MIN_EDGES = 50
_MAIN_EDGE = 0.3  # share of the 90th percentile slope an edge pixel needs
_FINER = 3.0  # steepest neighbour step over the Sobel slope beyond which a pixel is pattern


def _steepest_step(y: np.ndarray) -> np.ndarray:
    """``(H, W)`` float32: the largest absolute difference between each pixel of ``y``
    (``(H, W)`` float32) and its four neighbours, in levels (edges replicated)."""
    padded = np.pad(y, 1, mode="edge")
    centre_ = padded[1:-1, 1:-1]
    steps = [
        np.abs(centre_ - padded[1:-1, :-2]),
        np.abs(centre_ - padded[1:-1, 2:]),
        np.abs(centre_ - padded[:-2, 1:-1]),
        np.abs(centre_ - padded[2:, 1:-1]),
    ]
    return np.maximum(np.maximum(steps[0], steps[1]), np.maximum(steps[2], steps[3]))


def edge_width(y: np.ndarray, noise: float = 0.0) -> float | None:
    """How soft a picture's edges are: the median over its main edges of the width, in
    pixels, of a linear ramp with the edge's contrast and peak slope.

    ``y``: ``(H, W)`` uint8 or float luma in 0–255. ``noise``: its noise σ in levels (see
    :func:`noise_sigma`), which raises the thresholds so noise is not taken for edges.
    Edge pixels are Canny's (L2 gradient; hysteresis at a slope of 2 and 4 levels per pixel,
    or σ and 2σ when noisier) whose contrast — the range of levels in the 15×15 window
    around them — is at least max(30, 8σ) levels, and whose slope (normalised Sobel pair,
    levels per pixel) is at least 0.3 × the 90th percentile of those slopes: the picture's
    main edges, not texture, grain or JPEG's blotches. Width = contrast / slope, capped
    at 15. A step drawn sharp (anti-aliased) reads about 2; a Gaussian blur of σ_b ≥ 1
    about √(2π)·σ_b ≈ 2.5 σ_b (rendered boards: 2.1 → 3.3, 5.5, 7.8 for σ_b = 1, 2, 3);
    defocus and motion blur grow it too (tests/imaging/test_estimate.py), robust to noise and JPEG.
    A median over edges of all directions: a motion blur along an axis longer than about
    10 px on text runs the strokes across it into one another, and the edges left are
    those along the motion, still sharp, so the width stops growing there. Pixels whose
    steepest step to a neighbour is over 3× that slope (plus 4σ) are pattern finer than
    the Sobel pair (1-pixel stripes, whose slope cancels to 0 and would read as the widest
    width), not edges, and are left out. ``None`` when fewer than 50 edge pixels qualify
    (a flat picture, such a pattern). About 3 ms for 640×480.
    """
    import cv2

    y = np.asarray(y)
    if y.ndim != 2:
        raise ValueError(f"expected (H, W) luma, got shape {y.shape}")
    y = np.ascontiguousarray(y, dtype=np.float32)
    noise = float(noise)
    high = max(4.0, 2.0 * noise)  # levels per pixel
    u8 = np.clip(np.rint(y), 0, 255).astype(np.uint8)
    # Canny's thresholds are in raw Sobel units: 8 × levels per pixel.
    edges = cv2.Canny(u8, 4.0 * high, 8.0 * high, L2gradient=True) > 0
    window = np.ones((_WIDTH_WINDOW, _WIDTH_WINDOW), np.uint8)
    contrast = cv2.dilate(y, window) - cv2.erode(y, window)
    edges &= contrast >= max(30.0, 8.0 * noise)
    if int(edges.sum()) < _MIN_EDGES:
        return None
    gx = cv2.Sobel(y, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)
    gy = cv2.Sobel(y, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)
    slope = cv2.magnitude(gx, gy)
    # Structure finer than the Sobel pair (1-pixel stripes, a checkerboard): steps between
    # neighbours far steeper than the slope it reads, which cancels across the pattern.
    # Not an edge of any width: left out (a sharp step reads at most 2×, a thin line 2×).
    edges &= _steepest_step(y) <= _FINER * slope + 4.0 * noise
    if int(edges.sum()) < _MIN_EDGES:
        return None
    slope = slope[edges]
    contrast = contrast[edges]
    main = slope >= _MAIN_EDGE * np.percentile(slope, 90)
    if int(main.sum()) < _MIN_EDGES:
        return None
    width = contrast[main] / np.maximum(slope[main], 1e-3)
    return float(np.median(np.minimum(width, float(_WIDTH_WINDOW))))


# ------------------------------------------------------------------------ JPEG's 8×8 grid


def _steps(y: np.ndarray, axis: int) -> np.ndarray | None:
    """``(n - 1,)`` float64: the mean absolute step of ``y`` (``(H, W)`` float32) between
    neighbours along ``axis`` (1: across columns), from index ``i`` to ``i + 1``. None when
    the picture is under 16 pixels along the axis."""
    if y.shape[axis] < 16:
        return None
    return np.abs(np.diff(y, axis=axis)).mean(axis=1 - axis, dtype=np.float64)


def _phase_means(steps: np.ndarray, period: int = 8) -> np.ndarray:
    """``(period,)`` float64: ``steps`` (:func:`_steps`) averaged by phase: entry p for the
    steps from index ``i`` with ``i % period == p`` (p = 7: across an 8×8 grid at offset
    0)."""
    phase = np.arange(len(steps)) % period
    counts = np.bincount(phase, minlength=period)
    return np.bincount(phase, weights=steps, minlength=period) / counts


def _strongest(means: np.ndarray) -> tuple[float | None, int]:
    """The strongest phase's mean over the median of the others (None where those are
    flat), and that phase."""
    p = int(np.argmax(means))
    inner = float(np.median(np.delete(means, p)))
    return (float(means[p]) / inner if inner >= 1e-3 else None), p


# The 8-px ratio must stand out from the same ratio at periods 7 and 9 by this much to be
# read as JPEG's blocks: sparse text on flat paper makes one phase of any period strongest
# (Pillow-text pages read 1.37–1.57 raw at JPEG 60–95, 1.03–1.05 against periods 7 and 9;
# Set14 photos at JPEG 10 read 1.38–3.13 against them, rendered boards at 10 1.16–1.39).
PERIODIC = 1.25


def _grid(y: np.ndarray) -> tuple[float | None, tuple[int, int]]:
    """:func:`blockiness` of ``y`` and the grid's offset ``(rows, columns)`` (0–7 each:
    where the strongest phase puts the blocks' first row and column; 0 where not
    measured)."""
    ratios, offset = [], [0, 0]
    for axis in (0, 1):
        steps = _steps(y, axis)
        if steps is None:
            continue
        ratio, p = _strongest(_phase_means(steps))
        if ratio is None:
            continue  # flat along this axis: nothing to compare
        ratios.append(_blocks_or_content(steps, ratio))
        offset[axis] = (p + 1) % 8
    if not ratios:
        return None, (0, 0)
    return float(np.mean(ratios)), (offset[0], offset[1])


def _blocks_or_content(steps: np.ndarray, ratio: float) -> float:
    """``ratio`` (the 8-px phase's, of one axis's ``steps``) where it stands out from the
    same statistic at periods 7 and 9 by :data:`PERIODIC`: JPEG's blocks repeat every 8
    pixels only. Otherwise the content makes it (text on flat paper), and the reading is
    the 8-px ratio over theirs, about 1."""
    controls = [_strongest(_phase_means(steps, period))[0] for period in (7, 9)]
    known = [c for c in controls if c is not None]
    control = max(1.0, float(np.mean(known))) if known else 1.0
    relative = ratio / control
    return ratio if relative >= PERIODIC else relative


def blockiness(y: np.ndarray) -> float | None:
    """How much stronger a picture's steps are across one phase of an 8×8 grid than
    across the others: for each axis, the mean absolute step between neighbours at the
    strongest of the 8 phases over the median of the other seven, averaged over the two
    axes (the boundary/inner gradient ratio of Wu and Yuen's GBIM, IEEE SPL 1997,
    unweighted). The strongest phase, not phase 0, so that a file turned by its EXIF
    orientation or cropped off the grid before it was saved again is read on its own grid.

    ``y``: ``(H, W)`` uint8 or float luma in 0–255. About 1 for a picture never
    compressed (1.0–1.25 on Set14, with a small bias from taking the strongest phase) or
    saved once at quality 90–100; on Set14 photos JPEG 75 reads 1.07–1.4, 50 reads
    1.2–1.8, 30 reads 1.4–2.2, 10 reads 2.1–5.6, and a save at 95 after any of them keeps
    its reading (tests/imaging/test_estimate.py); on rendered boards, mostly flat, less (JPEG 10:
    about 1.6). An axis whose 8-px ratio does not stand out by :data:`PERIODIC` from the
    same ratio at periods 7 and 9 reads that quotient instead (about 1): a phase made
    strongest by the content (sparse text on flat paper) rather than by blocks. Content
    that itself repeats every 8 pixels still reads high. None for a picture under 16
    pixels on both axes, or flat. About 2 ms for 640×480."""
    y = np.asarray(y)
    if y.ndim != 2:
        raise ValueError(f"expected (H, W) luma, got shape {y.shape}")
    return _grid(np.ascontiguousarray(y, dtype=np.float32))[0]


def _dct_basis() -> np.ndarray:
    """``(8, 8)`` float32: the orthonormal DCT-II basis JPEG's FDCT is (T.81 A.3.3),
    row ``u`` the frequency."""
    k = np.arange(8)
    basis = np.sqrt(2 / 8) * np.cos((2 * k[None, :] + 1) * k[:, None] * np.pi / 16)
    basis[0] /= np.sqrt(2)
    return basis.astype(np.float32)


_DCT = _dct_basis()
# The first nine AC frequencies in zigzag order (natural index row·8 + column): the ones
# most blocks keep, so that their steps can be read from the coefficients.
_EARLY = tuple(sorted((i for i in range(64) if 1 <= _ZIGZAG[i] <= 9), key=lambda i: _ZIGZAG[i]))
_STEPS = np.arange(4, 256)  # candidate quantization steps
_BIN = 0.25  # histogram bin width of |coefficient|, in DCT units (bins centred on k·_BIN)
_TOP = 512.0  # larger coefficients (rare beyond the DC) are left out of the histograms
_LATTICE = 0.12  # mean distance to the nearest multiple, in steps, below which it clusters
_UNIFORM_SD = 0.5 / math.sqrt(12)  # that distance's σ when values do not cluster (0.144)
_MIN_COEFFICIENTS = 12
_MIN_FREQUENCIES = 3
_EARLIER_MARGIN = 5.0  # quality points below the tables' own for a save to count as earlier


def _coefficients(y: np.ndarray, offset: tuple[int, int], keep: np.ndarray | None):
    """``(N, 9)`` float32: the :data:`_EARLY` DCT coefficients of ``y``'s whole 8×8 blocks
    on the grid at ``offset`` (rows, columns), of the blocks ``keep`` (``(H, W)`` uint8,
    nonzero where usable) holds entirely (all when None)."""
    oy, ox = offset
    y = y[oy:, ox:]
    h, w = y.shape[0] // 8 * 8, y.shape[1] // 8 * 8
    if h == 0 or w == 0:
        return np.zeros((0, len(_EARLY)), np.float32)
    blocks = y[:h, :w].reshape(h // 8, 8, w // 8, 8)
    basis = _DCT[:5]
    # Two plain einsums, not BLAS: beside torch's threads OpenBLAS can take 10× longer.
    rows = np.einsum("ui,aibj->aubj", basis, blocks)
    d = np.einsum("aubj,vj->abuv", rows, basis).reshape(-1, 25)
    if keep is not None:
        k = keep[oy : oy + h, ox : ox + w].reshape(h // 8, 8, w // 8, 8)
        d = d[k.min(axis=(1, 3)).ravel() > 0]
    return d[:, [(i // 8) * 5 + i % 8 for i in _EARLY]]


@cache
def _lattice_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every candidate step (rows, :data:`_STEPS`) and histogram bin of a coefficient's
    magnitude (columns; bin ``k`` holds those nearest ``k·_BIN``, up to :data:`_TOP`):
    whether the bin rounds to a multiple ≥ 1 of the step, to its first multiple, and its
    distance to the nearest multiple in steps (0 where it rounds to 0); float32, about
    6 MB, built once."""
    centres = np.arange(int(_TOP / _BIN) + 1) * _BIN
    q = _STEPS[:, None].astype(np.float64)
    multiple = np.round(centres[None, :] / q)
    kept = multiple >= 1
    distance = np.where(kept, np.abs(centres[None, :] - q * multiple) / q, 0.0)
    return kept.astype(np.float32), (multiple == 1).astype(np.float32), distance.astype(np.float32)


def _steps_found(coefficients: np.ndarray) -> dict[int, int]:
    """``{natural index: step}`` for each :data:`_EARLY` frequency whose coefficients
    (``(N, 9)``) sit on the multiples of one step: the largest candidate step (4–255)
    whose multiples the coefficients it does not round to 0 cluster on (mean distance under
    :data:`_LATTICE` of a step, and under what values spread evenly would reach by chance
    at 5 σ), with at least 12 of them, at least 3 on its first multiple and at least 3 (and
    2 %) on a further one (a single value, a stripe's, fits any divisor of itself)."""
    kept, first, distance = _lattice_tables()
    bins = kept.shape[1]
    rows = []
    for c in coefficients.T:
        k = np.rint(np.abs(c) / _BIN)
        rows.append(np.bincount(k[k < bins].astype(np.int64), minlength=bins))
    hist = np.stack(rows).astype(np.float32)  # (9, bins)
    # einsum, not a BLAS product: beside torch's threads OpenBLAS takes 40 ms for these.
    n = np.einsum("fb,sb->fs", hist, kept)  # (9, steps)
    on_first = np.einsum("fb,sb->fs", hist, first)
    mean = np.einsum("fb,sb->fs", hist, distance) / np.maximum(n, 1)
    chance = 0.25 - 5 * _UNIFORM_SD / np.sqrt(np.maximum(n, 1))
    fits = (
        (n >= _MIN_COEFFICIENTS)
        & (on_first >= 3)
        & (n - on_first >= np.maximum(3, 0.02 * n))
        & (mean < np.minimum(_LATTICE, chance))
    )
    found = {}
    for j, row in enumerate(fits):
        hits = np.flatnonzero(row)
        if hits.size:
            found[_EARLY[j]] = int(_STEPS[hits[-1]])  # the largest step that fits
    return found


def _quality_of_steps(steps: Mapping[int, int]) -> float | None:
    """The IJG quality whose luma table is nearest ``steps`` (``{natural index: step}``)
    in squared log-ratio (as :func:`jpeg_quality` fits a table); None for fewer than
    three steps."""
    if len(steps) < _MIN_FREQUENCIES:
        return None
    index = np.array(list(steps))
    logs = np.log(np.array(list(steps.values()), dtype=np.float64))
    cost = ((np.log(_FIT_LUMA[:, index]) - logs[None, :]) ** 2).sum(axis=1)
    return round(float(_FIT_Q[cost <= cost.min() + 1e-9].max()), 1)


def earlier_quality(
    y: np.ndarray,
    unclipped: np.ndarray | None = None,
    offset: tuple[int, int] | None = None,
) -> float | None:
    """The quality (IJG scale, as :func:`jpeg_quality`) of the coarsest JPEG save the
    pixels went through, read from the pixels: None when no 8×8 lattice is found.

    ``y``: ``(H, W)`` uint8 or float luma in 0–255 (:func:`luma` of the decoded RGB, the Y
    JPEG codes); ``unclipped``: ``(H, W)`` uint8, nonzero where no channel is clipped at 0
    or 255 (clipping moves a block's coefficients off the lattice); ``offset``: the grid's
    (rows, columns), 0–7; None: (0, 0) and the one :func:`blockiness` finds, the coarser
    reading kept.

    Quantization leaves each DCT coefficient of a block a multiple of its step; a later save
    at finer steps, and the rounding to 8-bit pixels, move them only a little, so the first
    save's steps stay readable (Lukáš and Fridrich, DFRWS 2003). For each of the first nine
    AC frequencies the largest step whose multiples the coefficients cluster on is found
    (:func:`_steps_found`), on all whole blocks and on the blocks without clipped pixels,
    and the steps of whichever gives the coarser reading are read as a quality as
    :func:`jpeg_quality` fits a table (at least three frequencies needed). Exact for
    libjpeg's tables: on Set14, saves at 10, 30, 50, 75 and 90 read 6–9, 27–30, 48–52, 75
    and 90, with or without a save at 95 or 100 after them (tests/imaging/test_estimate.py). A
    save at 95 or finer leaves steps too small to tell from rounding: None. Boards
    clipped to white have few usable blocks and often read None. About 15 ms for 640×480.
    """
    y = np.asarray(y)
    if y.ndim != 2:
        raise ValueError(f"expected (H, W) luma, got shape {y.shape}")
    y = np.ascontiguousarray(y, dtype=np.float32)
    offsets = [(0, 0)]
    if offset is not None:
        offsets = [offset]
    else:
        found = _grid(y)[1]
        if found != (0, 0):
            offsets.append(found)
    readings = []
    for at in offsets:
        for keep in (None,) if unclipped is None else (None, unclipped):
            q = _quality_of_steps(_steps_found(_coefficients(y, at, keep)))
            if q is not None:
                readings.append(q)
    return min(readings) if readings else None


# ------------------------------------------------------------------------------ estimate

# Pictures over this many pixels are estimated on their centre (:func:`centre`): the
# estimate's time and memory stay bounded (a 2 MP crop is ~0.3 s on a 2-core CPU).
MAX_PIXELS = 2_000_000
# Peak memory of :func:`estimate` beyond its input, in bytes per pixel measured (of the
# centre it reads, at most MAX_PIXELS): tests/batch/test_memory.py checks a measurement
# against it.
BYTES_PER_PIXEL = 48


def centre(pixels: np.ndarray, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """The part of ``pixels`` (``(H, W, ...)``, any dtype) :func:`estimate` reads: all of
    it up to ``max_pixels`` pixels, else its centre with the picture's proportions and
    about ``max_pixels`` pixels, sides and offsets multiples of 8 so that a JPEG's 8×8 grid
    stays where it was. A view, never a copy."""
    h, w = pixels.shape[:2]
    if h * w <= max_pixels:
        return pixels
    f = math.sqrt(max_pixels / (h * w))
    ch = min(h, max(8, int(h * f) // 8 * 8))
    cw = min(w, max(8, int(max_pixels // ch) // 8 * 8))
    y0, x0 = (h - ch) // 2 // 8 * 8, (w - cw) // 2 // 8 * 8
    return pixels[y0 : y0 + ch, x0 : x0 + cw]


@dataclass(frozen=True)
class Estimate:
    """What :func:`estimate` found.

    ``jpeg_quality``: libjpeg quality 1–100 (see :func:`jpeg_quality`), ``None`` when the
    file has no quantization tables (or invalid ones). ``jpeg_exact``: the tables are
    libjpeg's own at that integer quality. ``noise_sigma``: σ of the noise on Y (full-range
    BT.601, 8-bit levels) from flat regions, ``None`` if not measured. ``blur``: edge width
    in pixels (see :func:`edge_width`; about 2 when sharp), ``None`` if not measured.
    ``blockiness``: :func:`blockiness` (about 1 when no coarse JPEG save shows), ``None``
    if not measured. ``earlier_quality``: :func:`earlier_quality` when it is at least 5
    below ``jpeg_quality`` (or there is no ``jpeg_quality``): the quality of an earlier,
    coarser save the file's last one hides; ``None`` when none shows. ``flat``: the
    fraction of the picture that is flat (:func:`flat_fraction`): about 0.5–0.85 for a
    photographed board or page, 0.05–0.5 for a photo of the world. The last three have
    defaults, so ``Estimate(q, exact, sigma, blur)`` still makes one.
    """

    jpeg_quality: float | None
    jpeg_exact: bool
    noise_sigma: float | None
    blur: float | None
    blockiness: float | None = None
    earlier_quality: float | None = None
    flat: float | None = None

    def to_json(self) -> dict:
        """``{"jpeg_quality", "jpeg_exact", "noise_sigma", "blur", "blockiness",
        "earlier_quality", "flat"}``; floats rounded to 2 decimals, ``None`` kept (JSON null)."""

        def r(v: float | None) -> float | None:
            return None if v is None else round(float(v), 2)

        return {
            "jpeg_quality": r(self.jpeg_quality),
            "jpeg_exact": bool(self.jpeg_exact),
            "noise_sigma": r(self.noise_sigma),
            "blur": r(self.blur),
            "blockiness": r(self.blockiness),
            "earlier_quality": r(self.earlier_quality),
            "flat": r(self.flat),
        }

    def describe(self) -> str:
        """One short line, e.g. ``JPEG quality 72 (standard tables), noise σ 2.1, edges
        2.3 px, blockiness 1.2``; ``, saved before at quality ≈10`` when an earlier save
        shows."""
        parts = []
        if self.jpeg_quality is not None:
            q = self.jpeg_quality
            if self.jpeg_exact:
                parts.append(f"JPEG quality {q:.0f} (standard tables)")
            else:
                parts.append(f"JPEG quality ≈{q:.0f} (custom tables)")
        if self.earlier_quality is not None:
            parts.append(f"saved before at quality ≈{self.earlier_quality:.0f}")
        if self.noise_sigma is not None:
            parts.append(f"noise σ {self.noise_sigma:.1f}")
        if self.blur is not None:
            parts.append(f"edges {self.blur:.1f} px")
        if self.blockiness is not None:
            parts.append(f"blockiness {self.blockiness:.2f}")
        if self.flat is not None:
            parts.append(f"flat {100 * self.flat:.0f} %")
        return ", ".join(parts) or "nothing measured"


FLAT_SLOPE = 1.5  # levels per pixel: below it, a pixel is flat (see flat_fraction)


def flat_fraction(y: np.ndarray) -> float | None:
    """The fraction of ``y`` ((H, W) luma, 8-bit levels, uint8 or float) that is flat: after
    a Gaussian blur of σ = 1 pixel (which takes most sensor noise and JPEG ringing away),
    the Sobel gradient magnitude (3×3, divided by 8: levels per pixel) is below
    :data:`FLAT_SLOPE`. A board or a page is mostly plain background between strokes
    (0.5–0.85 for benchmarks/capture.py's photos, chalk's grain at the low end), a photo of
    the world mostly texture (Set14: 0.04–0.40 at ×3 LR size, Set5 0.27–0.39). ``None``
    under 3×3."""
    import cv2

    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 2 or y.shape[0] < 3 or y.shape[1] < 3:
        return None
    soft = cv2.GaussianBlur(y, (0, 0), 1.0)
    gx = cv2.Sobel(soft, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(soft, cv2.CV_32F, 0, 1, ksize=3)
    return float((gx * gx + gy * gy < (8 * FLAT_SLOPE) ** 2).mean())


def estimate(rgb: np.ndarray, quantization: Mapping[int, Sequence[int]] | None = None) -> Estimate:
    """Everything at once: ``rgb`` ``(H, W, 3)`` uint8 RGB (0–255; uint16 is scaled to
    8-bit levels, float is taken as 0–255), ``quantization`` as Pillow's
    ``Image.quantization`` (or ``None`` for a file without tables). Noise, blur, blockiness
    and an earlier save are measured on the luma (:func:`luma`), in 8-bit levels and
    pixels; noise leaves out pixels near a clipped value in any channel; noise and blur are
    ``None`` for pictures under 3×3. A picture over :data:`MAX_PIXELS` is measured on its
    centre (:func:`centre`; the tables are the file's), so that the time (about 30 ms for
    640×480 on this project's 2-core CPU, 0.3 s at the bound) and the memory (at most
    :data:`BYTES_PER_PIXEL` per pixel measured, beyond ``rgb``) stay bounded."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) RGB, got shape {rgb.shape}")
    rgb = centre(rgb)
    if rgb.dtype == np.uint16:
        rgb = rgb.astype(np.float32) / np.float32(257)
    found = jpeg_quality(quantization)
    quality, exact = (None, False) if found is None else found
    sigma = blur = blocks = earlier = flat = None
    if rgb.shape[0] >= 3 and rgb.shape[1] >= 3:
        y = luma(rgb)
        flat = flat_fraction(y)
        inside = _inside(rgb)
        sigma = _noise_sigma(y, _unclipped(rgb, inside))
        blur = edge_width(y, sigma)
        blocks, offset = _grid(y)
        offsets = [(0, 0)] if offset == (0, 0) else [(0, 0), offset]
        readings = [earlier_quality(y, inside, at) for at in offsets]
        readings = [q for q in readings if q is not None]
        earlier = min(readings) if readings else None
        if earlier is not None and quality is not None and earlier > quality - _EARLIER_MARGIN:
            earlier = None  # the file's own save, or one no coarser
    return Estimate(quality, exact, sigma, blur, blocks, earlier, flat)

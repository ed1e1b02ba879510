"""What a picture says about itself: JPEG quality from its quantization tables, the σ of the
noise on its luma, and how soft its edges are. Cheap (a few milliseconds for 640×480), so
``--denoise auto`` can choose a strength per file.

Three independent measures, each with its source:

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
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

__all__ = [
    "Estimate",
    "edge_width",
    "estimate",
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

    ``quantization``: Pillow's ``Image.quantization``, ``{table index: 64 ints}``; table 0
    is the luma table, 1 the chroma table. Pillow 13 gives each table in natural
    (row-major) order; some readers give the file's zigzag order; both are recognised
    (for tables not libjpeg's, the order whose fit is closer is taken).
    ``None`` or ``{}`` (a PNG, a TIFF: no tables) → ``None``: nothing is guessed.

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
    return float(kept.mean(dtype=np.float64) / (6.0 * _TRIMMED_MEAN))


def _unclipped(img: np.ndarray) -> np.ndarray:
    """``(H, W)`` uint8, 255 where no value of ``img`` (``(H, W)`` or ``(H, W, 3)``, 0–255)
    in the 3×3 neighbourhood is clipped (≤ 0 or ≥ 255, in any channel): clipping eats part
    of the noise."""
    import cv2

    img = np.ascontiguousarray(img)
    if img.dtype == np.uint8:
        low, high = 1, 254
    else:
        img = img.astype(np.float32, copy=False)
        low, high = 1e-3, 255 - 1e-3
    n = 1 if img.ndim == 2 else img.shape[2]
    inside = cv2.inRange(img, (low,) * n, (high,) * n)
    return cv2.erode(inside, _BOX3)


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

    Accuracy (tests/test_estimate.py): within 3 % for σ = 2–10 on smooth pictures and on
    rendered text boards, within 0.2 level for σ ≤ 1 (rounding to 8 bits adds its own
    0.29); on boards mostly clipped to white, within 10 % up to σ = 10. Texture finer than
    3 pixels reads as noise.
    """
    y = np.asarray(y)
    if y.ndim != 2:
        raise ValueError(f"expected (H, W) luma, got shape {y.shape}")
    y = np.ascontiguousarray(y, dtype=np.float32)
    return _noise_sigma(y, _unclipped(y))


_WIDTH_WINDOW = 15  # pixels: the window a contrast is measured in, and the widest width
_MIN_EDGES = 50
_MAIN_EDGE = 0.3  # share of the 90th percentile slope an edge pixel needs


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
    defocus and motion blur grow it too (tests/test_estimate.py), robust to noise and JPEG.
    A median over edges of all directions: a motion blur along an axis longer than about
    10 px on text runs the strokes across it into one another, and the edges left are
    those along the motion, still sharp, so the width stops growing there. ``None`` when
    fewer than 50 edge pixels qualify (a flat picture). About 3 ms for 640×480.
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
    slope = cv2.magnitude(gx, gy)[edges]
    contrast = contrast[edges]
    main = slope >= _MAIN_EDGE * np.percentile(slope, 90)
    if int(main.sum()) < _MIN_EDGES:
        return None
    width = contrast[main] / np.maximum(slope[main], 1e-3)
    return float(np.median(np.minimum(width, float(_WIDTH_WINDOW))))


@dataclass(frozen=True)
class Estimate:
    """What :func:`estimate` found.

    ``jpeg_quality``: libjpeg quality 1–100 (see :func:`jpeg_quality`), ``None`` when the
    file has no quantization tables. ``jpeg_exact``: the tables are libjpeg's own at that
    integer quality. ``noise_sigma``: σ of the noise on Y (full-range BT.601, 8-bit levels)
    from flat regions, ``None`` if not measured. ``blur``: edge width in pixels (see
    :func:`edge_width`; about 2 when sharp), ``None`` if not measured.
    """

    jpeg_quality: float | None
    jpeg_exact: bool
    noise_sigma: float | None
    blur: float | None

    def to_json(self) -> dict:
        """``{"jpeg_quality", "jpeg_exact", "noise_sigma", "blur"}``; floats rounded to 2
        decimals, ``None`` kept (JSON null)."""

        def r(v: float | None) -> float | None:
            return None if v is None else round(float(v), 2)

        return {
            "jpeg_quality": r(self.jpeg_quality),
            "jpeg_exact": bool(self.jpeg_exact),
            "noise_sigma": r(self.noise_sigma),
            "blur": r(self.blur),
        }

    def describe(self) -> str:
        """One short line, e.g. ``JPEG quality 72 (standard tables), noise σ 2.1, edges
        2.3 px``."""
        parts = []
        if self.jpeg_quality is not None:
            q = self.jpeg_quality
            if self.jpeg_exact:
                parts.append(f"JPEG quality {q:.0f} (standard tables)")
            else:
                parts.append(f"JPEG quality ≈{q:.0f} (custom tables)")
        if self.noise_sigma is not None:
            parts.append(f"noise σ {self.noise_sigma:.1f}")
        if self.blur is not None:
            parts.append(f"edges {self.blur:.1f} px")
        return ", ".join(parts) or "nothing measured"


def estimate(rgb: np.ndarray, quantization: Mapping[int, Sequence[int]] | None = None) -> Estimate:
    """Everything at once: ``rgb`` ``(H, W, 3)`` uint8 RGB (0–255; uint16 is scaled to
    8-bit levels, float is taken as 0–255), ``quantization`` as Pillow's
    ``Image.quantization`` (or ``None`` for a file without tables). Noise and blur are
    measured on the luma (:func:`luma`), in 8-bit levels and pixels; noise leaves out
    pixels near a clipped value in any channel; both are ``None`` for pictures under 3×3.
    About 10 ms for 640×480 on this project's 2-core CPU."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) RGB, got shape {rgb.shape}")
    if rgb.dtype == np.uint16:
        rgb = rgb.astype(np.float32) / np.float32(257)
    found = jpeg_quality(quantization)
    quality, exact = (None, False) if found is None else found
    sigma = blur = None
    if rgb.shape[0] >= 3 and rgb.shape[1] >= 3:
        y = luma(rgb)
        sigma = _noise_sigma(y, _unclipped(rgb))
        blur = edge_width(y, sigma)
    return Estimate(quality, exact, sigma, blur)

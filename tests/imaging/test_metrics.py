import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from srup import mse, psnr, ssim
from srup.imaging.color import rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb
from tests.conftest import photo


def noisy(img: np.ndarray, sigma: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(np.rint(img + rng.normal(0, sigma, img.shape)), 0, 255).astype(np.uint8)


def test_y_channel_is_bt601_as_matlab_rgb2ycbcr():
    white = rgb_to_y(np.ones(3))
    black = rgb_to_y(np.zeros(3))
    assert white * 255 == pytest.approx(235.0)
    assert black * 255 == pytest.approx(16.0)
    assert rgb_to_y(np.array([1.0, 0, 0])) * 255 == pytest.approx(16 + 65.481)


def test_ycbcr_round_trip_is_exact_to_float_precision():
    rgb = np.random.default_rng(0).random((10, 10, 3))
    assert np.allclose(ycbcr_to_rgb(rgb_to_ycbcr(rgb)), rgb, atol=1e-12)


def test_psnr_on_gray_matches_scikit_image():
    a = photo()[:, :, 0]
    b = noisy(a, 5)
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255))


def test_psnr_of_identical_images_is_infinite():
    a = photo()
    assert math.isinf(psnr(a, a))
    assert mse(a, a) == 0.0


def test_psnr_uses_y_channel_and_crop_border():
    a = photo(30, 30)
    b = a.copy()
    b[:2] = 0  # damage only the border rows
    assert psnr(a, b, crop_border=2) == math.inf
    ya = (rgb_to_y(a / 255.0) * 255)[2:-2, 2:-2]
    yb = (rgb_to_y(noisy(a, 8) / 255.0) * 255)[2:-2, 2:-2]
    expect = 10 * np.log10(255**2 / np.mean((ya - yb) ** 2))
    assert psnr(a, noisy(a, 8), crop_border=2) == pytest.approx(expect)


def test_ssim_matches_scikit_image_gaussian_ssim():
    a = photo()[:, :, 1]
    b = noisy(a, 12)
    ref = structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )
    assert ssim(a, b) == pytest.approx(ref, abs=1e-9)


def test_ssim_on_rgb_without_y_averages_channels():
    a = photo()
    b = noisy(a, 10)
    ref = structural_similarity(
        a,
        b,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
        channel_axis=2,
    )
    assert ssim(a, b, y_channel=False) == pytest.approx(ref, abs=1e-9)


def test_metrics_refuse_mismatched_shapes_and_non_uint8():
    with pytest.raises(ValueError):
        psnr(photo(20, 20), photo(21, 20))
    with pytest.raises(TypeError):
        psnr(photo().astype(np.float32), photo().astype(np.float32))


@pytest.mark.parametrize(
    "h,w,crop",
    [(1, 1, 0), (10, 10, 0), (10, 40, 0), (40, 10, 0), (14, 14, 2), (14, 30, 2), (20, 20, 5)],
)
def test_ssim_is_not_defined_under_its_window_and_psnr_still_is(h, w, crop):
    # Wang et al.'s ssim_index.m gives -Inf under 11×11; srup says NaN: not defined.
    a = photo(w, h)
    b = noisy(a, 6)
    assert math.isnan(ssim(a, b, crop_border=crop))
    assert math.isnan(ssim(a, a, crop_border=crop))
    assert math.isfinite(psnr(a, b, crop_border=crop)) and mse(a, b, crop_border=crop) > 0


@pytest.mark.parametrize("h,w,crop", [(11, 11, 0), (15, 15, 2), (11, 60, 0)])
def test_ssim_at_exactly_the_window_matches_scikit_image(h, w, crop):
    a = photo(w, h)[:, :, 1]
    b = noisy(a, 8)
    ref = structural_similarity(
        a[crop : h - crop, crop : w - crop],
        b[crop : h - crop, crop : w - crop],
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
    )
    assert ssim(a, b, crop_border=crop) == pytest.approx(ref, abs=1e-9)

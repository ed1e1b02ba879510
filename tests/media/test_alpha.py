"""Transparency: colour stored under fully transparent pixels never becomes visible.

Every resampling step (the network's colour pipeline, the exact-size resize of ``-s 2.5``,
``--width``, ``--fit cover`` and downscales) resamples colour premultiplied by alpha
(Porter & Duff 1984) and divides by the resampled alpha after, so a pixel's visible colour
depends only on colour that was visible. Opaque pictures keep their pixels.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import srup
from srup.imaging.resize import imresize, resize_pixels
from srup.imaging.sizing import Sizing
from srup.media import pictures as imageio
from srup.runtime.auto import Engine
from tests.conftest import photo

DTYPES = (np.uint8, np.uint16)
SIZINGS = {
    "x2": Sizing(2),
    "x3": Sizing(3),
    "x2.5": Sizing(2.5),
    "x1.5": Sizing(1.5),
    "x0.5": Sizing(0.5),
    "width": Sizing(width=100),
    "height": Sizing(height=90),
    "cover": Sizing(width=90, height=70, fit="cover"),
    "stretch": Sizing(width=90, height=70, fit="stretch"),
}
HIDDEN_GREEN, HIDDEN_RED = (0, 255, 0), (255, 0, 0)


@pytest.fixture(scope="module")
def engines():
    return {
        name: Engine(sizing, "auto", device="cpu", precision="fp32")
        for name, sizing in SIZINGS.items()
    }


@pytest.fixture(scope="module")
def up2():
    return srup.load("fsrcnn", 2, device="cpu", precision="fp32")


def _max(dtype) -> int:
    return int(np.iinfo(dtype).max)


def _disc(hidden: tuple[int, int, int], dtype=np.uint8, n: int = 40) -> np.ndarray:
    """The issue's picture: an opaque red disc, α = 0 around it over ``hidden`` colour."""
    y, x = np.mgrid[0:n, 0:n]
    inside = (x - n / 2 + 0.5) ** 2 + (y - n / 2 + 0.5) ** 2 < (n / 3) ** 2
    scale = _max(dtype) // 255
    px = np.empty((n, n, 4), dtype)
    px[..., :3] = np.array(hidden) * scale
    px[inside, :3] = np.array(HIDDEN_RED) * scale
    px[..., 3] = np.where(inside, _max(dtype), 0)
    return px


@pytest.mark.parametrize("dtype", DTYPES, ids=["8bit", "16bit"])
@pytest.mark.parametrize("sizing", list(SIZINGS))
def test_a_red_disc_over_hidden_green_gets_no_green_fringe(engines, sizing, dtype):
    green, _ = engines[sizing].process(imageio.Picture(_disc(HIDDEN_GREEN, dtype)))
    red, _ = engines[sizing].process(imageio.Picture(_disc(HIDDEN_RED, dtype)))
    out = green.pixels
    assert out.shape[:2] == SIZINGS[sizing].final(40, 40)[::-1] and out.dtype == dtype
    # The hidden colour has no say at all: what comes out is what a disc over hidden red
    # (the disc's own colour, nothing to bleed) gives.
    assert np.array_equal(out, red.pixels)
    # Premultiplied green and blue are 0 everywhere, so the network's luma detail (added to
    # R, G and B alike) is the only thing in them: G equals B, no green tint. Before, edge
    # pixels averaged (122, 127, 4).
    assert np.array_equal(out[..., 1], out[..., 2])
    edge = (out[..., 3] > 0) & (out[..., 3] < _max(dtype))
    assert edge.any()
    visible_green = out[..., 1].astype(float) * out[..., 3] / _max(dtype)
    assert visible_green[edge].mean() < 0.05 * _max(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["8bit", "16bit"])
@pytest.mark.parametrize("size", [(100, 100), (20, 20), (90, 30)])
def test_a_plain_resize_of_the_disc_shows_no_hidden_colour_at_all(size, dtype):
    # No network: premultiplied green is 0 everywhere and stays exactly 0.
    out = resize_pixels(_disc(HIDDEN_GREEN, dtype), size)
    assert out.shape == (size[1], size[0], 4)
    assert not out[..., 1:3].any()
    visible = out[..., 3] > 0
    assert np.all(out[visible, 0] >= _max(dtype) - 1)  # the disc's red, whatever the α


def _hidden_pair(seed: int, h: int, w: int, channels: int, dtype, clear: float):
    """Two pictures alike except for the colour under α = 0: a random alpha map (a share
    ``clear`` of it exactly 0, the rest anything, opaque included) and random colour."""
    rng = np.random.default_rng(seed)
    top = _max(dtype)
    alpha = rng.integers(0, top + 1, (h, w), dtype=np.int64)
    alpha[rng.random((h, w)) < 0.3] = top
    alpha[rng.random((h, w)) < clear] = 0
    a = rng.integers(0, top + 1, (h, w, channels), dtype=np.int64)
    a[..., -1] = alpha
    b = a.copy()
    hidden = alpha == 0
    b[hidden, :-1] = rng.integers(0, top + 1, (int(hidden.sum()), channels - 1))
    return a.astype(dtype), b.astype(dtype)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**32 - 1),
    h=st.integers(1, 30),
    w=st.integers(1, 30),
    channels=st.sampled_from([2, 4]),
    dtype=st.sampled_from(DTYPES),
    clear=st.floats(0.05, 0.9),
)
def test_the_network_path_ignores_the_colour_under_transparent_pixels(
    up2, seed, h, w, channels, dtype, clear
):
    a, b = _hidden_pair(seed, h, w, channels, dtype, clear)
    out_a, out_b = up2.upscale_array(a), up2.upscale_array(b)
    assert out_a.dtype == dtype and out_a.shape == (2 * h, 2 * w, channels)
    assert np.array_equal(out_a, out_b)
    # Where the output is fully transparent its colour is 0, not left-over noise.
    assert not out_a[out_a[..., -1] == 0, :-1].any()


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    h=st.integers(1, 30),
    w=st.integers(1, 30),
    out_h=st.integers(1, 70),
    out_w=st.integers(1, 70),
    channels=st.sampled_from([2, 4]),
    dtype=st.sampled_from(DTYPES),
    clear=st.floats(0.05, 0.9),
)
def test_every_resize_ignores_the_colour_under_transparent_pixels(
    seed, h, w, out_h, out_w, channels, dtype, clear
):
    a, b = _hidden_pair(seed, h, w, channels, dtype, clear)
    out_a, out_b = resize_pixels(a, (out_w, out_h)), resize_pixels(b, (out_w, out_h))
    assert out_a.dtype == dtype and out_a.shape == (out_h, out_w, channels)
    assert out_a.flags.c_contiguous
    # Where the output shows anything, nothing differs; the alpha never does. (A resize to
    # the same size returns the pixels as they were, hidden colour and all: unseen.)
    visible = out_a[..., -1] > 0
    assert np.array_equal(out_a[..., -1], out_b[..., -1])
    assert np.array_equal(out_a[visible], out_b[visible])
    if (out_h, out_w) != (h, w):
        assert not out_a[~visible, :-1].any()


def _with_band(dtype, channels: int, band: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A photo, opaque, and the same photo whose first ``band`` columns fade from α = 0
    (over hidden noise) towards opaque."""
    rgb = photo(56, 40, seed=seed).astype(np.int64) * (_max(dtype) // 255)
    colour = rgb if channels == 4 else rgb[..., :1]
    opaque = np.concatenate([colour, np.full((40, 56, 1), _max(dtype))], axis=2)
    partly = opaque.copy()
    partly[:, :band, -1] = np.linspace(0, _max(dtype) * 0.9, band).astype(np.int64)
    partly[:, :3, :-1] = np.random.default_rng(seed).integers(0, _max(dtype), (40, 3, 1))
    return opaque.astype(dtype), partly.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["8bit", "16bit"])
@pytest.mark.parametrize("channels", [2, 4])
@pytest.mark.parametrize("sizing", ["x2", "x3", "x2.5", "x0.5", "width", "cover"])
def test_opaque_regions_of_a_partly_transparent_picture_match_the_opaque_picture(
    engines, sizing, channels, dtype
):
    band = 8
    opaque, partly = _with_band(dtype, channels, band)
    engine = engines[sizing]
    want, _ = engine.process(imageio.Picture(opaque))
    got, _ = engine.process(imageio.Picture(partly))
    # Far enough from the band that no pixel of it is within reach: the network's
    # receptive radius, the bicubic's, and the resize's kernel (shrinking widens it).
    up = engine.pick(imageio.Picture(opaque))
    reach = band + (up.overlap + 2 if up is not None else 0) + 6
    rw, _rh = SIZINGS[sizing].resized(56, 40)
    first = math.ceil(reach * rw / 56) - (rw - got.size[0]) // 2
    diff = np.abs(got.pixels[:, first:].astype(int) - want.pixels[:, first:])
    assert first < got.size[0] - 4
    # Rounding alone differs: the network's premultiplied route rounds a float32 quotient
    # once; an 8-bit opaque resize rounds after each pass, as MATLAB does, where the
    # premultiplied one rounds once (more often 1 level apart, never more).
    rounds_per_pass = dtype == np.uint8 and SIZINGS[sizing].integer_scale is None
    assert diff.max() <= 1 and (diff > 0).mean() < (0.3 if rounds_per_pass else 0.01)


@pytest.mark.parametrize("dtype", DTYPES, ids=["8bit", "16bit"])
@pytest.mark.parametrize("channels", [2, 4])
def test_an_opaque_alpha_changes_no_colour_pixel(up2, channels, dtype):
    # The fast path: an opaque picture's colour comes out exactly as without alpha, as
    # before premultiplied alpha existed; its alpha stays opaque.
    opaque, _ = _with_band(dtype, channels, 8, seed=3)
    colour = np.ascontiguousarray(opaque[..., :-1])
    for run in (up2.upscale_array, lambda px: resize_pixels(px, (70, 50))):
        out, plain = run(opaque), run(colour)
        assert np.array_equal(out[..., :-1], plain)
        assert np.all(out[..., -1] == _max(dtype))


@pytest.fixture(scope="module")
def bicubic_only():
    """An upscaler whose network adds no detail: the colour pipeline is then bicubic, so a
    constant alpha must leave the colour exactly as the opaque picture's."""
    up = srup.load("fsrcnn", 2, device="cpu", precision="fp32")
    with torch.no_grad():
        for p in up.net.parameters():
            p.zero_()
    return up


@pytest.mark.parametrize(
    ("dtype", "alpha"),
    [
        *[(np.uint8, a) for a in (1, 3, 128, 254)],
        *[(np.uint16, a) for a in (1, 257, 40000)],
    ],
)
def test_a_constant_alpha_as_low_as_one_level_keeps_every_colour_level(bicubic_only, dtype, alpha):
    # A premultiplied carrier of the input's own depth would keep round(C·α) levels: at
    # α = 1 every colour would become 0 or full. The colour is carried in float instead.
    opaque, _ = _with_band(dtype, 4, 8, seed=5)
    faint = opaque.copy()
    faint[..., -1] = alpha
    colour = opaque[..., :-1].astype(np.float64)
    # What each route gives the colour of the opaque picture, rounded once.
    ideal_resize = np.clip(np.rint(imresize(colour, output_shape=(97, 131))), 0, _max(dtype))
    for got, want in (
        (bicubic_only.upscale_array(faint), bicubic_only.upscale_array(opaque)[..., :-1]),
        (resize_pixels(faint, (131, 97)), ideal_resize),
    ):
        diff = np.abs(got[..., :-1].astype(int) - want)
        assert diff.max() <= 1 and (diff > 0).mean() < 0.01
        assert np.all(got[..., -1] == alpha)


@pytest.mark.parametrize("dtype", DTYPES, ids=["8bit", "16bit"])
def test_alpha_overshoot_is_clamped_not_wrapped(engines, dtype):
    # A hard alpha edge rings under bicubic (and colour under a network's sharpening):
    # below 0 or above the top it must clamp, never wrap round to the other end.
    top = _max(dtype)
    px = np.zeros((24, 40, 4), dtype)
    px[..., 0] = top
    px[:, 20:, 3] = top
    px[:, 20:, :3] = top // 2
    for name in ("x2", "x3", "x2.5", "x0.5"):
        out, _ = engines[name].process(imageio.Picture(px))
        alpha = out.pixels[..., 3]
        half = out.pixels.shape[1] // 2
        # The cubic's negative lobes undershoot below 0 on the transparent side and
        # overshoot the top on the opaque one: both clamp, so past the pixels that straddle
        # the edge alpha is exactly 0 and exactly opaque.
        margin = math.ceil(SIZINGS[name].scale) + 2
        assert not alpha[:, : half - margin].any(), name
        assert np.all(alpha[:, half + margin :] == top), name


def test_tiled_and_resident_runs_give_the_same_premultiplied_pixels():
    # CPU, fp32: premultiplying is per pixel, so tiles and bands change nothing.
    rng = np.random.default_rng(7)
    px = rng.integers(0, 65536, (61, 83, 4), dtype=np.uint16)
    px[..., 3] = np.where(rng.random((61, 83)) < 0.4, 0, px[..., 3])
    host = srup.load("espcn", 3, device="cpu", precision="fp32", tile=0)
    whole = host.upscale_array(px)
    for tile in (17, 40):
        host.tile = tile
        assert np.array_equal(host.upscale_array(px), whole), tile
    resident = srup.load("espcn", 3, device="cpu", precision="fp32", resident=True)
    assert np.array_equal(resident.upscale_array(px), whole)
    resident.tile = 23
    assert np.array_equal(resident.upscale_array(px), whole)


@pytest.mark.parametrize("size", [None, (100, 100), (50, 30)])
@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_the_pil_api_resamples_alpha_premultiplied(up2, mode, size):
    pictures = []
    for hidden in (HIDDEN_GREEN, HIDDEN_RED):
        img = Image.fromarray(_disc(hidden), "RGBA").convert(mode)
        pictures.append(up2.upscale(img, size=size))
    green, red = pictures
    assert green.mode == mode and green.size == (size or (80, 80))
    assert np.array_equal(np.asarray(green), np.asarray(red))

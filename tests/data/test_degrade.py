"""Degradations as data (srup.data.degrade) and the rendered boards of text (srup.data.boards)."""

from __future__ import annotations

import numpy as np
import pytest

from srup import imresize
from srup.data.boards import STYLES, render_board, render_boards
from srup.data.datasets import discover
from srup.data.degrade import PRESETS, parse
from srup.errors import SrupError
from srup.evaluation import protocol as benchmark
from srup.imaging.color import rgb_to_y
from tests.conftest import photo


@pytest.mark.parametrize(
    "spec",
    [
        "clean",
        "real",
        "capture",
        "clean,jpeg=75:75",
        "real,noise=0,jpeg=40:90",
        "real,resize=1/0/0,second=0",
        "phone,mlen=3:3,csigma=3:3,jpeg=65:65",
        "capture,motion=0,defocus=1,radius=1:2",
    ],
)
def test_a_spec_parses_back_to_the_same_degradation(spec):
    deg = parse(spec)
    assert parse(deg.spec()) == deg


def test_naming_a_range_turns_its_step_on():
    assert parse("clean,jpeg=75").pjpeg == 1 and parse("clean,jpeg=75").jpeg == (75, 75)
    assert parse("clean,jpeg=75,pjpeg=0.5").pjpeg == 0.5
    assert parse("clean,nsigma=3:3").noise == 1
    assert parse("clean,jpeg=75").spec() == "clean,jpeg=75:75"


@pytest.mark.parametrize(
    "spec,message",
    [
        ("studio", "unknown degradation"),
        ("real,jpeg=0:50", "quality is 1 to 100"),
        ("real,blur=2", "at most 1"),
        ("real,colour=1", "key one of"),
        ("real,nsigma=5:1", "low end above high end"),
        ("real,resize=1/1", "three weights"),
        ("real,sigma=x", "not a number"),
        ("real,jpeg=50:", "not a number"),  # a range missing its high end is not 50:50
        ("real,jpeg=:50", "not a number"),
        ("capture,radius=0:1", "must be above 0"),
        ("capture,sharpen=1.5", "at most 1"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec, message):
    with pytest.raises(SrupError, match=message):
        parse(spec)


def test_clean_is_the_protocol_and_real_is_not():
    assert PRESETS["clean"].is_clean and not PRESETS["real"].is_clean
    hr = photo(48, 36)
    assert np.array_equal(
        PRESETS["clean"].apply(hr, 3, np.random.default_rng(0)), imresize(hr, 1 / 3)
    )


def test_a_degradation_follows_its_seed_and_keeps_the_lr_size():
    hr = photo(60, 48, seed=2)
    deg = parse("real,blur=1,noise=1,pjpeg=1,second=1")
    a = deg.apply(hr, 3, np.random.default_rng(7))
    b = deg.apply(hr, 3, np.random.default_rng(7))
    c = deg.apply(hr, 3, np.random.default_rng(8))
    assert a.shape == (16, 20, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_jpeg_only_changes_the_lr_and_keeps_matlab_bicubic_below_it():
    hr = photo(60, 48, seed=2)
    lr = imresize(hr, 1 / 3)
    deg = parse("clean,jpeg=30")
    assert deg.resizes_like_matlab
    out = deg.apply_to_lr(lr, np.random.default_rng(0))
    assert out.shape == lr.shape and not np.array_equal(out, lr)
    # JPEG at 30 keeps the luma near its input (chroma it subsamples): a few levels.
    y_out, y_lr = rgb_to_y(out / 255.0) * 255, rgb_to_y(lr / 255.0) * 255
    assert np.abs(y_out - y_lr).mean() < 8
    assert np.array_equal(out, deg.apply(hr, 3, np.random.default_rng(0)))


def test_benchmark_pairs_degrade_the_same_way_every_run(hr_folder):
    ds = discover(hr_folder)
    clean = benchmark.pairs(ds, 2)
    one = benchmark.pairs(ds, 2, degradation="clean,jpeg=60")
    two = benchmark.pairs(ds, 2, degradation="clean,jpeg=60")
    for (_, lr_c, hr_c), (_, lr1, hr1), (_, lr2, _) in zip(clean, one, two, strict=True):
        assert np.array_equal(hr_c, hr1) and np.array_equal(lr1, lr2)
        assert lr1.shape == lr_c.shape and not np.array_equal(lr1, lr_c)


@pytest.mark.parametrize("style", STYLES)
def test_boards_are_repeatable_and_hold_text(style):
    a, lines = render_board(np.random.default_rng(3), (160, 120), style=style)
    b, again = render_board(np.random.default_rng(3), (160, 120), style=style)
    assert a.shape == (120, 160, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and lines == again and lines
    # Ink differs from the board: the picture has strong local contrast somewhere.
    y = a.astype(float).mean(axis=2)
    assert np.abs(np.diff(y, axis=1)).max() > 60


def test_training_boards_differ_by_seed():
    one, two = render_boards(2, seed=0, size=(64, 48)), render_boards(2, seed=1, size=(64, 48))
    assert not np.array_equal(one[0], two[0]) and not np.array_equal(one[0], one[1])


def test_boards_fall_back_to_pillows_own_font_without_matplotlib():
    img, lines = render_board(np.random.default_rng(1), (160, 120), style="print", fonts=())
    assert lines and np.abs(np.diff(img.astype(float).mean(axis=2), axis=1)).max() > 60


def test_naming_a_capture_range_turns_its_step_on_and_clean_stays_clean_without_it():
    assert parse("clean,mlen=3").motion == 1 and parse("clean,mlen=3").mlen == (3, 3)
    assert parse("clean,radius=1.5").defocus == 1 and parse("clean,csigma=4").chroma == 1
    assert not parse("clean,mlen=3").is_clean and not parse("clean,sharpen=0.5").is_clean
    assert not PRESETS["capture"].is_clean and PRESETS["capture"].captures
    assert not PRESETS["real"].captures


def test_presets_without_capture_steps_draw_the_same_random_stream_as_before_them():
    # A capture step draws only when it is on, so the real preset's LR (and the random
    # state left behind) are what they were before the capture keys existed: these bytes
    # were recorded before them.
    hr = photo(60, 48, seed=2)
    rng = np.random.default_rng(7)
    lr = PRESETS["real"].apply(hr, 3, rng)
    assert int(lr.astype(np.int64).sum()) == 110385
    assert int(rng.integers(1000)) == 582


@pytest.mark.parametrize("length", [2, 3, 5, 8])
@pytest.mark.parametrize("angle", [0.0, 0.7, np.pi / 2, 2.4])
def test_a_motion_kernel_is_a_normalised_line_of_its_length(length, angle):
    from srup.data.degrade import motion_kernel

    k = motion_kernel(length, angle).astype(np.float64)
    assert k.shape[0] == k.shape[1] and k.shape[0] % 2 == 1
    assert k.sum() == pytest.approx(1.0, abs=1e-5) and k.min() >= 0
    # Its spread along the line is a uniform segment's (variance L²/12 of a box of
    # length L, sampled: (L² − 1)/12 for L samples), across it about nothing.
    c = k.shape[0] // 2
    yy, xx = np.mgrid[: k.shape[0], : k.shape[1]] - c
    along = xx * np.cos(angle) + yy * np.sin(angle)
    across = -xx * np.sin(angle) + yy * np.cos(angle)
    var_along = float((k * along**2).sum())
    assert var_along == pytest.approx((length**2 - 1) / 12, rel=0.25, abs=0.1)
    assert float((k * across**2).sum()) < 0.25


@pytest.mark.parametrize("radius", [0.5, 1.0, 2.5, 4.0])
def test_a_disc_kernel_is_normalised_round_and_as_wide_as_its_radius(radius):
    from srup.data.degrade import disc_kernel

    k = disc_kernel(radius).astype(np.float64)
    assert k.sum() == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(k, k.T) and np.allclose(k, k[::-1, ::-1])
    c = k.shape[0] // 2
    yy, xx = np.mgrid[: k.shape[0], : k.shape[1]] - c
    # A uniform disc has E[r²] = R²/2; sampling it on the pixel grid adds up to ~0.3.
    assert float((k * (xx**2 + yy**2)).sum()) == pytest.approx(radius**2 / 2, abs=0.3)


def test_chroma_noise_leaves_luma_and_changes_colour():
    from srup.data.degrade import chroma_noise

    flat = np.full((64, 64, 3), 128, np.uint8)
    out = chroma_noise(flat, 6.0, 1.0, seed=3)
    y = rgb_to_y(out / 255.0) * 255
    y0 = rgb_to_y(flat / 255.0) * 255
    assert np.abs(y - y0).max() <= 1.0  # rounding only
    cb = out[..., 2].astype(np.float64) - y
    assert 2.0 < cb.std() < 20.0
    assert np.array_equal(out, chroma_noise(flat, 6.0, 1.0, seed=3))


def test_capture_degradation_follows_its_seed_and_blurs_more_than_real():
    hr = photo(96, 96, seed=4)
    deg = parse("capture,motion=1,mlen=6:6,noise=0,chroma=0,pjpeg=0,second=0,sharpen=0,blur=0")
    a = deg.apply(hr, 3, np.random.default_rng(1))
    assert np.array_equal(a, deg.apply(hr, 3, np.random.default_rng(1)))
    plain = imresize(hr, 1 / 3).astype(np.float64)

    # A 6-pixel shake takes detail away: less gradient energy than the plain downscale.
    def grad(x: np.ndarray) -> float:
        x = x.astype(np.float64)
        return float(np.abs(np.diff(x, axis=0)).mean() + np.abs(np.diff(x, axis=1)).mean())

    assert grad(a) < 0.9 * grad(plain)

"""Degradations as data (srup.degrade) and the rendered boards of text (srup.boards)."""

from __future__ import annotations

import numpy as np
import pytest

from srup import benchmark, imresize
from srup.boards import STYLES, render_board, render_boards
from srup.color import rgb_to_y
from srup.degrade import PRESETS, parse
from srup.errors import SrupError

from .conftest import photo


@pytest.mark.parametrize(
    "spec",
    ["clean", "real", "clean,jpeg=75:75", "real,noise=0,jpeg=40:90", "real,resize=1/0/0,second=0"],
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
    ds = benchmark.discover(hr_folder)
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

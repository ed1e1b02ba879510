"""Output sizes other than the network's own: -s 2.5, --width, --height, --fit."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from srup import imageio
from srup.cli import cli
from srup.engine import Engine
from srup.errors import UsageError
from srup.sizing import Sizing, network_scale

from .conftest import photo


@pytest.mark.parametrize(
    "sizing,size,final",
    [
        (Sizing(2), (40, 30), (80, 60)),
        (Sizing(2.5), (40, 30), (100, 75)),
        (Sizing(width=100), (40, 30), (100, 75)),
        (Sizing(height=45), (40, 30), (60, 45)),
        (Sizing(width=100, height=100), (40, 30), (100, 75)),  # contain
        (Sizing(width=100, height=100, fit="cover"), (40, 30), (100, 100)),
        (Sizing(width=100, height=100, fit="stretch"), (40, 30), (100, 100)),
    ],
)
def test_output_sizes_follow_the_rule(sizing, size, final):
    assert sizing.final(*size) == final


def test_cover_fills_the_box_before_cutting():
    cover = Sizing(width=100, height=100, fit="cover")
    assert cover.resized(40, 30) == (133, 100) and cover.factor(40, 30) == pytest.approx(
        3.333, 1e-3
    )


@pytest.mark.parametrize(
    "factor,scale", [(1.0, None), (0.5, None), (1.25, 2), (2.0, 2), (2.5, 3), (4.0, 4), (7.0, 4)]
)
def test_network_scale_is_the_smallest_that_reaches_the_size(factor, scale):
    assert network_scale(factor, [2, 3, 4]) == scale


@pytest.mark.parametrize(
    "kwargs", [{}, {"scale": 2, "width": 10}, {"scale": -1}, {"width": 0}, {"width": 9, "fit": "x"}]
)
def test_impossible_sizes_are_usage_errors(kwargs):
    with pytest.raises(UsageError):
        Sizing(**kwargs)


def test_a_fractional_scale_is_the_network_then_an_exact_resize(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(photo(40, 30)).save(path)
    picture = imageio.read(path)
    engine = Engine(Sizing(2.5), "fsrcnn", device="cpu", precision="fp32", tile=0)
    out, name = engine.process(picture)
    assert out.size == (100, 75) and name == "fsrcnn"
    x3, _ = Engine(Sizing(3), "fsrcnn", device="cpu", precision="fp32", tile=0).process(picture)
    from srup.resize import resize_pixels

    assert np.array_equal(out.pixels, resize_pixels(x3.pixels, (100, 75)))


def test_a_picture_that_does_not_grow_is_resized_without_a_network(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(photo(40, 30)).save(path)
    out, name = Engine(Sizing(width=20), device="cpu", precision="fp32").process(imageio.read(path))
    assert out.size == (20, 15) and name == "bicubic"


def test_sixteen_bit_and_alpha_survive_a_fractional_scale(tmp_path):
    arr = (np.linspace(0, 65535, 30 * 20).reshape(20, 30)).astype(np.uint16)
    Image.fromarray(arr).save(tmp_path / "g.png")
    out, _ = Engine(Sizing(1.5), "espcn", device="cpu", precision="fp32").process(
        imageio.read(tmp_path / "g.png")
    )
    assert out.pixels.dtype == np.uint16 and out.size == (45, 30)


def test_cli_width_and_fit_cover_write_the_exact_size(runner, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo(40, 30)).save(src / "wide.png")
    Image.fromarray(photo(20, 40)).save(src / "tall.png")
    out = tmp_path / "out"
    size = ["--width", "64", "--height", "64", "--fit", "cover"]
    res = runner.invoke(cli, ["upscale", str(src), "-o", str(out), *size, "--json", "-q"])
    assert res.exit_code == 0, res.output
    for name in ("wide.png", "tall.png"):
        with Image.open(out / name) as img:
            assert img.size == (64, 64)
    rows = [json.loads(line) for line in res.stdout.strip().splitlines()]
    assert {r["output_size"][0] for r in rows} == {64}


def test_cli_fractional_scale_names_its_output(runner, rgb_file):
    res = runner.invoke(cli, ["upscale", str(rgb_file), "-s", "2.5", "-q"])
    assert res.exit_code == 0, res.output
    with Image.open(rgb_file.parent / "board_x2.5.png") as img:
        assert img.size == (120, 100)


def test_api_upscale_to_a_size():
    import srup

    up = srup.load("fsrcnn", 3, device="cpu", precision="fp32")
    img = Image.fromarray(photo(40, 30))
    assert up.upscale(img, size=(100, 75)).size == (100, 75)


@pytest.mark.parametrize("args", [["-s", "2.5"], ["--width", "90"], ["-s", "3"]])
def test_a_model_with_no_shipped_weights_is_a_usage_error_at_any_size(runner, rgb_file, args):
    res = runner.invoke(cli, ["upscale", str(rgb_file), *args, "-m", "srcnn-nope"])
    assert res.exit_code == 2 and "no shipped model" in res.output, res.output

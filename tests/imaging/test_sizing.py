"""Output sizes other than the network's own: -s 2.5, --width, --height, --fit."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from srup.cli import cli
from srup.errors import UsageError
from srup.imaging.sizing import Sizing, network_scale
from srup.media import pictures as imageio
from srup.runtime.auto import Engine
from tests.conftest import photo


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
    from srup.imaging.resize import resize_pixels

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
    # One line that names the model and what -m accepts, auto included.
    assert res.exit_code == 2 and "'srcnn-nope'" in res.output, res.output
    assert "auto" in res.output and "Traceback" not in res.output


# Every layout and depth at every kind of size: what the writers get is C-contiguous (a
# 16-bit grey PNG at -s 2.5, --width or --fit cover used to fail in the PNG writer).
MATRIX_SIZINGS = {
    "x2": Sizing(2),
    "x2.5": Sizing(2.5),
    "x1.5": Sizing(1.5),
    "x0.5": Sizing(0.5),
    "width": Sizing(width=50),
    "height": Sizing(height=33),
    "cover": Sizing(width=45, height=45, fit="cover"),
    "stretch": Sizing(width=45, height=20, fit="stretch"),
}


@pytest.fixture(scope="module")
def matrix_engines():
    return {
        name: Engine(sizing, device="cpu", precision="fp32")
        for name, sizing in MATRIX_SIZINGS.items()
    }


def _pixels(channels: int, dtype) -> np.ndarray:
    rgb = photo(21, 14).astype(np.uint16) * (257 if dtype == np.uint16 else 1)
    alpha = np.linspace(0, np.iinfo(dtype).max, 21 * 14).reshape(14, 21, 1).astype(np.uint16)
    colour = rgb if channels >= 3 else rgb[..., :1]
    px = np.concatenate([colour, alpha], axis=2) if channels in (2, 4) else colour
    return px.astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16], ids=["8bit", "16bit"])
@pytest.mark.parametrize("channels", [1, 2, 3, 4], ids=["L", "LA", "RGB", "RGBA"])
@pytest.mark.parametrize("sizing", list(MATRIX_SIZINGS))
def test_every_layout_and_depth_at_every_size_comes_out_contiguous_and_writes(
    matrix_engines, tmp_path, sizing, channels, dtype
):
    out, _ = matrix_engines[sizing].process(imageio.Picture(_pixels(channels, dtype)))
    px = out.pixels
    w, h = MATRIX_SIZINGS[sizing].final(21, 14)
    assert px.shape == (h, w, channels) and px.dtype == dtype
    assert px.flags.c_contiguous
    for suffix in (".png", ".tif"):
        path = tmp_path / f"out{suffix}"
        imageio.write(out, path)
        with Image.open(path) as img:
            assert img.size == (w, h)


@pytest.mark.parametrize(
    "args",
    [
        ["-s", "2.5"],
        ["-s", "1.5"],
        ["-s", "0.5"],
        ["--width", "100"],
        ["-s", "2"],
        ["--width", "64", "--height", "64", "--fit", "cover"],
    ],
)
def test_a_sixteen_bit_gray_png_upscales_to_any_size(runner, tmp_path, args):
    arr = (np.linspace(0, 65535, 40 * 30).reshape(30, 40)).astype(np.uint16)
    Image.fromarray(arr).save(tmp_path / "g.png")
    out = tmp_path / "out.png"
    res = runner.invoke(cli, ["upscale", str(tmp_path / "g.png"), "-o", str(out), *args, "-q"])
    assert res.exit_code == 0, res.output
    with Image.open(out) as img:
        assert img.mode == "I;16" and img.size[0] > 1


def test_upscale_array_of_a_2d_array_is_contiguous():
    import srup

    up = srup.load("espcn", 2, device="cpu", precision="fp32")
    out = up.upscale_array(photo(20, 14)[:, :, 1])
    assert out.shape == (28, 40) and out.flags.c_contiguous


# DPI: the same print size, so dots per inch grow as the pixels do, per axis.
@pytest.mark.parametrize(
    "sizing,growth",
    [
        (Sizing(2), (2, 2)),
        (Sizing(2.5), (2.5, 2.5)),
        (Sizing(0.5), (0.5, 0.5)),
        (Sizing(width=100), (2.5, 75 / 30)),
        (Sizing(width=100, height=30, fit="stretch"), (2.5, 1.0)),
        # cover cuts the resized picture (133×100) to 100×100: the cut leaves the density.
        (Sizing(width=100, height=100, fit="cover"), (133 / 40, 100 / 30)),
    ],
)
def test_dpi_grows_with_the_pixels_so_the_print_size_stays(sizing, growth):
    picture = imageio.Picture(photo(40, 30), dpi=(300.0, 150.0))
    out, _ = Engine(sizing, "fsrcnn", device="cpu", precision="fp32").process(picture)
    assert out.dpi == pytest.approx((300 * growth[0], 150 * growth[1]))
    assert picture.dpi == (300.0, 150.0)  # the input is left as it was
    if sizing.fit != "cover":
        w, h = out.size
        assert w / out.dpi[0] == pytest.approx(40 / 300) and h / out.dpi[1] == pytest.approx(
            30 / 150
        )


def test_the_upscaler_scales_dpi_and_leaves_none_alone():
    import srup

    up = srup.load("fsrcnn", 3, device="cpu", precision="fp32")
    assert up.upscale_picture(imageio.Picture(photo(20, 14), dpi=(72.0, 96.0))).dpi == (
        216.0,
        288.0,
    )
    assert up.upscale_picture(imageio.Picture(photo(20, 14))).dpi is None


def test_the_pil_api_scales_dpi_with_the_network_and_the_size_asked():
    import srup

    up = srup.load("fsrcnn", 3, device="cpu", precision="fp32")
    img = Image.fromarray(photo(40, 30))
    img.info["dpi"] = (300.0, 300.0)
    assert up.upscale(img).info["dpi"] == pytest.approx((900.0, 900.0))
    assert up.upscale(img, size=(100, 60)).info["dpi"] == pytest.approx((750.0, 600.0))


@pytest.mark.parametrize(("model", "scale", "ran"), [("espcn7-real", 4, 3), ("espcn", 5, 4)])
def test_a_whole_scale_without_its_network_says_what_ran_instead(model, scale, ran, tmp_path):
    from srup.media.pictures import Picture

    engine = Engine(Sizing(float(scale)), model, device="cpu", precision="fp32", tile=0)
    out, name = engine.process(Picture(photo(12, 10, seed=1)))
    assert name == model and out.size == (12 * scale, 10 * scale)
    assert f"{model} has no ×{scale} network: ran ×{ran}" in " ".join(out.notes)
    exact, _ = Engine(Sizing(float(ran)), model, device="cpu", precision="fp32").process(
        Picture(photo(12, 10, seed=1))
    )
    assert exact.notes == []

"""Property tests: random images of random modes, sizes and bit depths never break srup.

Through the Python API and through the CLI (files of every format that can hold the mode),
the result has the right size and the mode the documentation promises.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import srup
from srup.cli import cli
from tests.conftest import photo

# What an input mode comes back as: Pillow mode → output mode (P with transparency apart).
OUT_MODE = {
    "1": "L",
    "L": "L",
    "LA": "LA",
    "RGB": "RGB",
    "RGBA": "RGBA",
    "P": "RGB",
    "PT": "RGBA",
    "PA": "RGBA",
    "I;16": "I;16",
    "I": "I;16",
    "F": "I;16",
    "CMYK": "RGB",
}
# Formats that can store each mode (the file's own mode may change on the way, e.g. GIF → P).
FORMATS = {
    "1": ["PNG", "TIFF", "BMP"],
    "L": ["PNG", "TIFF", "BMP", "JPEG", "GIF"],
    "LA": ["PNG", "TIFF"],
    "RGB": ["PNG", "TIFF", "BMP", "JPEG", "WEBP"],
    "RGBA": ["PNG", "TIFF", "WEBP"],
    "P": ["PNG", "GIF", "BMP", "TIFF"],
    "PT": ["PNG", "GIF"],
    "I;16": ["PNG", "TIFF"],
    "I": ["TIFF"],
    "F": ["TIFF"],
    "CMYK": ["JPEG", "TIFF"],
}
SUFFIX = {"PNG": ".png", "TIFF": ".tif", "BMP": ".bmp", "JPEG": ".jpg", "GIF": ".gif"}
SUFFIX["WEBP"] = ".webp"


def make_image(mode: str, w: int, h: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    rgb = Image.fromarray(photo(w, h, seed))
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (h, w), dtype=np.uint16))
    if mode == "I":
        return Image.fromarray(rng.integers(-10, 70000, (h, w), dtype=np.int32))
    if mode == "F":
        return Image.fromarray(rng.uniform(-5, 70000, (h, w)).astype(np.float32))
    if mode in {"P", "PT"}:
        img = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=int(rng.integers(2, 64)))
        if mode == "PT":
            img.info["transparency"] = 0
        return img
    if mode in {"LA", "RGBA"}:
        img = rgb.convert(mode)
        img.putalpha(Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8)))
        return img
    return rgb.convert(mode)


def file_mode(img: Image.Image) -> str:
    if img.mode == "P" and "transparency" in img.info:
        return "PT"
    return img.mode


@functools.cache
def upscaler(scale: int) -> srup.Upscaler:
    return srup.load("fsrcnn", scale, device="cpu", precision="fp32")


images = st.builds(
    lambda mode, w, h, seed: (mode, w, h, seed),
    st.sampled_from(sorted(FORMATS)),
    st.integers(1, 40),
    st.integers(1, 40),
    st.integers(0, 2**16),
)


@settings(max_examples=40, deadline=None)
@given(case=images, scale=st.sampled_from([2, 3, 4]))
def test_any_image_through_the_api_comes_back_scaled_in_the_promised_mode(case, scale):
    mode, w, h, seed = case
    img = make_image(mode, w, h, seed)
    out = upscaler(scale).upscale(img)
    assert out.size == (w * scale, h * scale)
    assert out.mode == OUT_MODE[mode]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(case=images, data=st.data())
def test_any_image_file_through_the_cli_comes_back_scaled_in_the_promised_mode(case, data):
    mode, w, h, seed = case
    fmt = data.draw(st.sampled_from(FORMATS[mode]), label="format")
    img = make_image(mode, w, h, seed)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"in{SUFFIX[fmt]}"
        img.save(src, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
        with Image.open(src) as back:
            on_disk = file_mode(back)
        dst = Path(tmp) / "out.png"
        res = CliRunner().invoke(cli, ["upscale", str(src), "-s", "2", "-o", str(dst), "-q"])
        assert res.exit_code == 0, res.output
        with Image.open(dst) as out:
            assert out.size == (w * 2, h * 2)
            assert out.mode == OUT_MODE[on_disk], (mode, fmt, on_disk)
        assert sorted(p.name for p in Path(tmp).iterdir()) == sorted([src.name, "out.png"])

"""Every input format × output format × mode srup accepts, through read → upscale → write.

The next format bug (TIFF → TIFF once failed for every TIFF) is caught here, not by a user.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

import srup
from srup import imageio
from srup.formats import EXTENSIONS

from .conftest import photo

MODES = ["L", "LA", "RGB", "RGBA", "I;16"]
INPUTS = {
    "png": {},
    "jpg": {"quality": 90},
    "tif": {},
    "tif-lzw": {"compression": "tiff_lzw"},
    "tif-deflate": {"compression": "tiff_adobe_deflate"},
    "tif-jpeg": {"compression": "jpeg"},
    "webp": {"lossless": True},
    "webp-lossy": {"quality": 80},
    "bmp": {},
    "gif": {},
}
OUTPUTS = ["png", "jpg", "webp", "tif", "bmp"]
CAMERA = 0x010F  # EXIF Make


def picture_in(mode: str) -> Image.Image:
    rgb = photo(13, 10, seed=5)
    if mode == "I;16":
        return Image.fromarray(rgb[:, :, 1].astype(np.uint16) * 257)
    img = Image.fromarray(rgb).convert("RGBA" if "A" in mode else "RGB")
    if "A" in mode:
        alpha = np.linspace(0, 255, 13 * 10).reshape(10, 13).astype(np.uint8)
        img.putalpha(Image.fromarray(alpha))
    return img.convert(mode)


def write_input(tmp_path, kind: str, mode: str):
    """The input file, or None where Pillow cannot write that mode in that format."""
    suffix = kind.split("-")[0]
    path = tmp_path / f"in-{kind}-{mode.replace(';', '')}.{suffix}"
    exif = Image.Exif()
    exif[CAMERA] = "srup-test-camera"
    save = dict(INPUTS[kind])
    if suffix in {"jpg", "webp", "tif", "png"}:
        save["exif"] = exif.tobytes()
    try:
        picture_in(mode).save(path, **save)
        with Image.open(path) as check:
            check.load()
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return path


def expected_layout(src: imageio.Picture, out_fmt: str) -> tuple[str, type]:
    fitted = imageio._fit_layout(src, out_fmt)
    return fitted.layout, fitted.pixels.dtype


@pytest.fixture(scope="module")
def upscaler():
    return srup.load("fsrcnn", 2, device="cpu", precision="fp32", tile=0)


CASES = list(itertools.product(INPUTS, MODES))


@pytest.mark.parametrize("kind,mode", CASES, ids=[f"{k}-{m}" for k, m in CASES])
def test_every_input_reaches_every_output_format(tmp_path, upscaler, kind, mode):
    src_path = write_input(tmp_path, kind, mode)
    if src_path is None:
        pytest.skip(f"Pillow does not write {mode} as {kind}")
    src = imageio.read(src_path)
    assert src.lossy == (kind in {"jpg", "tif-jpeg", "webp-lossy"})
    out = upscaler.upscale_picture(src)
    assert out.pixels.dtype == src.pixels.dtype
    for suffix in OUTPUTS:
        dst = tmp_path / f"out.{suffix}"
        imageio.write(out, dst)
        back = imageio.read(dst)
        layout, dtype = expected_layout(out, EXTENSIONS[f".{suffix}"])
        assert back.size == (26, 20), (suffix, back.size)
        assert back.layout == layout and back.pixels.dtype == dtype, (suffix, back.layout)
        if src.exif and suffix != "bmp":
            assert back.exif, f"EXIF lost on the way to {suffix}"
        if back.exif:
            kept = Image.Exif()
            kept.load(back.exif)
            # Only real EXIF travels: never a TIFF container's own layout tags.
            assert not {256, 257, 273, 279} & set(kept), suffix
            if src.exif:
                assert kept.get(CAMERA) == "srup-test-camera", suffix


@pytest.mark.parametrize("compression", ["raw", "tiff_lzw", "tiff_adobe_deflate", "jpeg"])
def test_tiff_output_keeps_the_input_compression(tmp_path, upscaler, compression):
    src_path = tmp_path / "scan.tif"
    Image.fromarray(photo(13, 10)).save(src_path, compression=compression)
    out = upscaler.upscale_picture(imageio.read(src_path))
    imageio.write(out, tmp_path / "scan_x2.tif")
    with Image.open(tmp_path / "scan_x2.tif") as img:
        assert img.info["compression"] == compression


def test_tiff_output_from_a_png_is_lossless_lzw(tmp_path, upscaler):
    Image.fromarray(photo(13, 10)).save(tmp_path / "a.png")
    out = upscaler.upscale_picture(imageio.read(tmp_path / "a.png"))
    imageio.write(out, tmp_path / "a.tif")
    with Image.open(tmp_path / "a.tif") as img:
        assert img.info["compression"] == "tiff_lzw"
        assert np.array_equal(np.asarray(img), out.pixels)


def test_tiff_structural_tags_do_not_reach_a_png(tmp_path, upscaler):
    exif = Image.Exif()
    exif[CAMERA] = "scanner"
    Image.fromarray(photo(17, 10)).save(tmp_path / "a.tif", exif=exif.tobytes())
    out = upscaler.upscale_picture(imageio.read(tmp_path / "a.tif"))
    imageio.write(out, tmp_path / "a.png")
    with Image.open(tmp_path / "a.png") as img:
        tags = dict(img.getexif())
    assert tags.get(CAMERA) == "scanner"
    assert 256 not in tags and 273 not in tags  # no ImageWidth 17, no old StripOffsets

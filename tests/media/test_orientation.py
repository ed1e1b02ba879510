"""The EXIF orientation decides which way up a picture is: it is applied by the file reader,
by the Python API, and even when the rest of the EXIF is unreadable."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from PIL import Image

import srup
from srup.media import pictures as imageio
from tests.conftest import photo

MAKE, ORIENTATION = 0x010F, 0x0112


def exif_block(orientation: int, order: str, make_past_the_end: bool) -> bytes:
    """IFD0 with Make (ASCII, 10 bytes, stored at an offset) and Orientation (SHORT)."""
    end = "<" if order == "II" else ">"
    make_at = 5000 if make_past_the_end else 8 + 2 + 2 * 12 + 4
    short = struct.pack(end + "HH", orientation, 0)  # a SHORT is left-justified in 4 bytes
    ifd = struct.pack(end + "H", 2)
    ifd += struct.pack(end + "HHII", MAKE, 2, 10, make_at)
    ifd += struct.pack(end + "HHI", ORIENTATION, 3, 1) + short
    ifd += struct.pack(end + "I", 0)
    head = order.encode() + struct.pack(end + "HI", 42, 8)
    return b"Exif\x00\x00" + head + ifd + b"Camera-X\x00\x00"


def jpeg_with(exif: bytes, tmp_path, name: str = "p.jpg"):
    path = tmp_path / name
    Image.fromarray(photo(20, 10, seed=2)).save(path, quality=95, exif=exif)
    return path


@pytest.mark.parametrize("order", ["II", "MM"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_an_unreadable_exif_still_gives_its_orientation(tmp_path, order, orientation):
    good = imageio.read(jpeg_with(exif_block(orientation, order, False), tmp_path, "good.jpg"))
    bad = imageio.read(jpeg_with(exif_block(orientation, order, True), tmp_path, "bad.jpg"))
    assert np.array_equal(bad.pixels, good.pixels)  # turned the same way
    assert "EXIF unreadable: left out" in bad.notes
    if orientation != 1:
        assert good.size == ((10, 20) if orientation >= 5 else (20, 10))
        assert f"EXIF orientation {orientation} read from its entry and applied" in bad.notes


def test_the_python_api_turns_a_phone_photo_upright_and_keeps_its_exif(tmp_path):
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # the phone was held upright: the pixels are stored sideways
    exif[MAKE] = "PhoneCo"
    path = tmp_path / "board.jpg"
    Image.fromarray(photo(24, 16, seed=4)).save(path, quality=95, exif=exif.tobytes())
    with Image.open(path) as img:
        out = srup.load(scale=2, device="cpu", precision="fp32").upscale(img)
    assert out.size == (32, 48)  # upright: 16×24 in, ×2
    carried = Image.Exif()
    carried.load(out.info["exif"])
    assert carried[MAKE] == "PhoneCo" and ORIENTATION not in carried
    saved = tmp_path / "saved.png"
    out.save(saved, exif=out.info["exif"])
    assert imageio.read(saved).size == (32, 48)  # read back upright: no orientation left


@pytest.mark.parametrize("orientation", range(1, 9))
def test_dpi_follows_the_picture_when_its_orientation_turns_it(tmp_path, orientation):
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    path = tmp_path / "p.jpg"
    Image.fromarray(photo(20, 10, seed=2)).save(path, dpi=(300, 150), exif=exif.tobytes())
    want = (150.0, 300.0) if orientation >= 5 else (300.0, 150.0)
    assert imageio.read(path).dpi == want
    with Image.open(path) as img:
        img.load()
        assert imageio.from_pil(img, orient=True).dpi == want

"""Reading and writing: modes, orientation, metadata, atomic writes."""

import io
import os

import numpy as np
import pytest
from PIL import Image, ImageCms

from srup.errors import BadImageError, UsageError
from srup.files import atomic_write
from srup.media import pictures as imageio
from tests.conftest import photo


def roundtrip(img: Image.Image, tmp_path, name="in.png", **save) -> imageio.Picture:
    path = tmp_path / name
    img.save(path, **save)
    return imageio.read(path)


@pytest.mark.parametrize(
    "mode,layout",
    [("L", "L"), ("LA", "LA"), ("RGB", "RGB"), ("RGBA", "RGBA"), ("1", "L"), ("CMYK", "RGB")],
)
def test_modes_map_to_layouts(tmp_path, mode, layout):
    img = Image.fromarray(photo(20, 16)).convert(mode)
    name = "in.tif" if mode == "CMYK" else "in.png"
    assert roundtrip(img, tmp_path, name).layout == layout


def test_palette_with_transparency_becomes_rgba(tmp_path):
    img = Image.fromarray(photo(20, 16)).convert("P")
    img.info["transparency"] = 0
    pic = roundtrip(img, tmp_path, transparency=0)
    assert pic.layout == "RGBA"


def test_sixteen_bit_gray_stays_sixteen_bit(tmp_path):
    arr = (np.linspace(0, 65535, 30 * 20).reshape(20, 30)).astype(np.uint16)
    pic = roundtrip(Image.fromarray(arr), tmp_path)
    assert pic.pixels.dtype == np.uint16
    assert np.array_equal(pic.pixels[:, :, 0], arr)
    imageio.write(pic, tmp_path / "out.png")
    again = imageio.read(tmp_path / "out.png")
    assert again.pixels.dtype == np.uint16 and np.array_equal(again.pixels, pic.pixels)


def test_exif_orientation_is_applied_and_removed(tmp_path):
    img = Image.fromarray(photo(30, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    exif[0x010F] = "srup-test-camera"
    pic = roundtrip(img, tmp_path, "in.jpg", exif=exif.tobytes(), quality=95)
    assert pic.size == (20, 30)
    kept = Image.Exif()
    kept.load(pic.exif)
    assert 0x0112 not in kept and kept[0x010F] == "srup-test-camera"


def test_icc_profile_is_carried_to_the_output(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    pic = roundtrip(Image.fromarray(photo()), tmp_path, icc_profile=icc)
    assert pic.icc == icc
    imageio.write(pic, tmp_path / "out.jpg")
    with Image.open(tmp_path / "out.jpg") as out:
        assert out.info.get("icc_profile") == icc


def test_jpeg_output_drops_alpha(tmp_path):
    pic = imageio.from_pil(Image.fromarray(photo()).convert("RGBA"))
    imageio.write(pic, tmp_path / "out.jpg")
    with Image.open(tmp_path / "out.jpg") as out:
        assert out.mode == "RGB"


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "empty file"),
        (b"hello, not a picture", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 30, "not an image"),
    ],
)
def test_bad_files_raise_one_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(BadImageError, match=message):
        imageio.read(path)


def test_truncated_png_is_refused(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(photo(64, 64)).save(buf, format="PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(BadImageError, match=r"cut\.png"):
        imageio.read(path)


def test_pixel_limit_refuses_before_decoding(tmp_path):
    path = tmp_path / "big.png"
    Image.fromarray(photo(100, 100)).save(path)
    with pytest.raises(BadImageError, match="over the limit"):
        imageio.read(path, max_pixels=5000)


def test_animated_gif_reads_first_frame_with_a_note(tmp_path):
    frames = [Image.fromarray(photo(16, 16, seed=i)) for i in range(3)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    pic = imageio.read(path)
    assert any("animated" in n for n in pic.notes)


def test_failed_write_leaves_no_file_behind(tmp_path):
    pic = imageio.from_pil(Image.fromarray(photo()))

    class Boom(Exception):
        pass

    target = tmp_path / "out.png"
    with pytest.raises(Boom), atomic_write(target) as f:
        f.write(b"partial")
        raise Boom
    assert os.listdir(tmp_path) == []
    imageio.write(pic, target)
    assert os.listdir(tmp_path) == ["out.png"]


def test_unknown_output_extension_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="unknown output extension"):
        imageio.write(imageio.from_pil(Image.fromarray(photo())), tmp_path / "out.xyz")

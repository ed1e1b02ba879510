"""Each picture situation read and written as documented: colour keys, 16-bit colour, 32-bit
and float samples, CMYK through its profile, flattening, DPI, orientation, files that are not
files, many pages, and library messages that must become notes, not stderr lines."""

from __future__ import annotations

import io
import os
import struct
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from srup.errors import BadImageError
from srup.media import pictures as imageio
from tests.conftest import cmyk_profile, cmyk_to_srgb, photo


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bytes(samples: np.ndarray, depth: int, colour_type: int, *chunks: bytes) -> bytes:
    """A PNG made by hand: ``samples`` (H, W·C) at ``depth`` bits, packed MSB first."""
    h = samples.shape[0]
    if depth == 16:
        rows = samples.astype(">u2").view(np.uint8).reshape(h, -1)
        width = samples.shape[1] // {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    elif depth == 8:
        rows, width = samples.astype(np.uint8), samples.shape[1] // {0: 1, 2: 3}[colour_type]
    else:
        width = samples.shape[1]
        rows = np.packbits(
            np.unpackbits(samples.astype(np.uint8)[:, :, None], axis=2)[:, :, 8 - depth :].reshape(
                h, -1
            ),
            axis=1,
        )
    raw = b"".join(b"\0" + row.tobytes() for row in rows)
    ihdr = struct.pack(">IIBBBBB", width, h, depth, colour_type, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + b"".join(chunks) + chunk(b"IDAT", zlib.compress(raw))
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IEND", b"")


# ------------------------------------------------------------------------- colour keys


GREY = np.array([[0, 3, 1, 3], [2, 3, 0, 1]], np.uint8)  # 2-bit samples


@pytest.mark.parametrize("depth", [1, 2, 4, 8, 16])
def test_a_grey_colour_key_becomes_alpha_at_every_bit_depth(tmp_path, depth):
    top = (1 << depth) - 1
    samples = (GREY.astype(np.int64) * top // 3).astype(np.uint16)
    key = int(samples[0, 1])  # the value 3/3 of full scale: hidden wherever it is
    path = tmp_path / "key.png"
    path.write_bytes(png_bytes(samples, depth, 0, chunk(b"tRNS", struct.pack(">H", key))))
    pic = imageio.read(path)
    assert pic.layout == "LA"
    assert pic.pixels.dtype == (np.uint16 if depth == 16 else np.uint8)
    full = np.iinfo(pic.pixels.dtype).max
    assert np.array_equal(pic.pixels[..., 1], np.where(samples == key, 0, full))
    scale = full / top
    assert np.array_equal(pic.pixels[..., 0], np.rint(samples * scale).astype(pic.pixels.dtype))


@pytest.mark.parametrize("depth", [8, 16])
def test_an_rgb_colour_key_becomes_alpha(tmp_path, depth):
    rgb = photo(6, 4, seed=3).astype(np.uint16) * (257 if depth == 16 else 1)
    rgb[1, 2] = rgb[0, 0]  # the key colour twice
    key = tuple(int(v) for v in rgb[0, 0])
    path = tmp_path / "key.png"
    trns = chunk(b"tRNS", struct.pack(">HHH", *key))
    path.write_bytes(png_bytes(rgb.reshape(4, -1), depth, 2, trns))
    pic = imageio.read(path)
    assert pic.layout == "RGBA"
    full = 65535 if depth == 16 else 255
    hidden = np.all(rgb == key, axis=2)
    assert hidden.sum() == 2
    assert np.array_equal(pic.pixels[..., 3], np.where(hidden, 0, full))
    assert np.array_equal(pic.pixels[..., :3], rgb)


def test_a_colour_key_saved_by_pillow_reads_as_alpha(tmp_path):
    Image.fromarray(np.array([[0, 255], [128, 255]], np.uint8)).save(
        tmp_path / "k.png", transparency=255
    )
    pic = imageio.read(tmp_path / "k.png")
    assert pic.pixels[..., 1].tolist() == [[255, 0], [255, 0]]


# ----------------------------------------------------------------------- 16-bit colour


def deep(h: int = 5, w: int = 7, channels: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 65536, (h, w, channels), dtype=np.uint16)


def bgr(px: np.ndarray) -> np.ndarray:
    return px[:, :, [2, 1, 0, 3][: px.shape[2]]]


@pytest.mark.parametrize(
    "name,channels",
    [("png", 3), ("png", 4), ("tif-lzw", 3), ("tif-lzw", 4), ("tif-deflate", 3), ("tif", 4)],
)
def test_sixteen_bit_colour_is_read_at_sixteen_bits(tmp_path, name, channels):
    import cv2
    import tifffile

    px = deep(channels=channels)
    path = tmp_path / f"deep.{name.split('-')[0]}"
    if name in {"png", "tif-lzw"}:  # OpenCV writes LZW TIFFs, as scanners do
        assert cv2.imwrite(str(path), bgr(px))
    else:
        extra = {"extrasamples": ["unassalpha"]} if channels == 4 else {}
        zlib_ = {"compression": "zlib", "predictor": True} if name == "tif-deflate" else {}
        tifffile.imwrite(path, px, photometric="rgb", metadata=None, **extra, **zlib_)
    pic = imageio.read(path)
    assert pic.pixels.dtype == np.uint16 and pic.layout == ("RGB", "RGBA")[channels - 3]
    assert np.array_equal(pic.pixels, px)  # not 1000 → 3 → 771


def test_sixteen_bit_grey_with_alpha_png_keeps_both(tmp_path):
    la = deep(channels=2)
    path = tmp_path / "la16.png"
    path.write_bytes(png_bytes(la.reshape(5, -1), 16, 4))
    pic = imageio.read(path)
    assert pic.layout == "LA" and pic.pixels.dtype == np.uint16
    assert np.array_equal(pic.pixels, la)


@pytest.mark.parametrize("channels", [2, 3, 4])
@pytest.mark.parametrize("suffix", ["png", "tif"])
def test_sixteen_bit_colour_round_trips_with_its_metadata(tmp_path, suffix, channels):
    px = deep(channels=channels)
    icc = b"a profile srup carries as bytes, without reading it" * 3
    exif = Image.Exif()
    exif[0x010F] = "camera"
    exif[0x8769] = {0x829A: (1, 250)}  # ExposureTime, in the Exif sub-IFD
    pic = imageio.Picture(px, icc=icc, exif=exif.tobytes(), dpi=(300.0, 150.0))
    widened = suffix == "tif" and channels == 2  # no 16-bit grey + alpha TIFF Pillow reads
    notes = ["16-bit grey with alpha written as RGBA: TIFF holds no such layout"]
    assert imageio.write(pic, tmp_path / f"o.{suffix}") == (notes if widened else [])
    back = imageio.read(tmp_path / f"o.{suffix}")
    want = px[:, :, [0, 0, 0, 1]] if widened else px
    assert back.pixels.dtype == np.uint16 and np.array_equal(back.pixels, want)
    assert back.icc == icc
    assert back.dpi == pytest.approx((300.0, 150.0), rel=1e-4)
    kept = Image.Exif()
    kept.load(back.exif)
    assert kept[0x010F] == "camera" and kept.get_ifd(0x8769)[0x829A] == (1, 250)


# ------------------------------------------------------------- 32-bit and float samples


@pytest.mark.parametrize(
    "values,expected,how",
    [
        ([[0.0, 0.5], [1.0, 0.25]], [[0, 32768], [65535, 16384]], "0..1 × 65535"),
        ([[0.0, 2.0], [255.0, 100.25]], [[0, 514], [65535, 25764]], "0..255 × 257"),
        ([[0.0, 300.0], [65535.0, 1000.4]], [[0, 300], [65535, 1000]], "0..65535 kept"),
        ([[-1.0, 0.0], [3.0, 1.0]], [[0, 16384], [65535, 32768]], "-1..3 stretched"),
    ],
)
def test_float_samples_follow_the_stated_rule_with_a_note(tmp_path, values, expected, how):
    Image.fromarray(np.array(values, np.float32)).save(tmp_path / "f.tif")
    pic = imageio.read(tmp_path / "f.tif")
    assert pic.pixels.dtype == np.uint16
    assert pic.pixels[..., 0].tolist() == expected
    assert any(how in n and "float" in n for n in pic.notes), pic.notes


@pytest.mark.parametrize(
    "values,expected",
    [
        ([[0, 300], [65535, 7]], [[0, 300], [65535, 7]]),
        ([[-5, 0], [5, 15]], [[0, 16384], [32768, 65535]]),
    ],
)
def test_32_bit_integer_samples_follow_the_stated_rule_with_a_note(tmp_path, values, expected):
    Image.fromarray(np.array(values, np.int32)).save(tmp_path / "i.tif")
    pic = imageio.read(tmp_path / "i.tif")
    assert pic.pixels[..., 0].tolist() == expected
    assert any("32-bit integer" in n for n in pic.notes)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_floats_are_refused_in_one_line_naming_the_file(tmp_path, bad):
    Image.fromarray(np.array([[0.0, bad], [1.0, 0.5]], np.float32)).save(tmp_path / "f.tif")
    with pytest.raises(BadImageError, match=r"f\.tif: 1 of 4 float samples") as caught:
        imageio.read(tmp_path / "f.tif")
    assert "\n" not in str(caught.value)


# -------------------------------------------------------------------------------- CMYK


CMYK = np.array([[[200, 40, 40, 10], [0, 0, 0, 0], [255, 255, 255, 255], [30, 160, 60, 0]]])


@pytest.mark.parametrize("fmt,slack", [("TIFF", 1), ("JPEG", 4)])
def test_cmyk_with_a_profile_goes_to_srgb_through_it(tmp_path, fmt, slack):
    # Flat 8×8 patches, so that JPEG (stored inverted, Adobe's way) keeps each colour.
    patches = np.kron(CMYK, np.ones((8, 8, 1))).astype(np.uint8)
    path = tmp_path / f"c.{fmt.lower()}"
    Image.fromarray(patches, "CMYK").save(path, format=fmt, icc_profile=cmyk_profile(), quality=100)
    pic = imageio.read(path)
    want = cmyk_to_srgb(CMYK[0])
    got = pic.pixels[4::8, 4::8][0]
    assert np.abs(got.astype(int) - want).max() <= slack, (got, want)
    naive = np.asarray(Image.fromarray(CMYK.astype(np.uint8), "CMYK").convert("RGB"))[0]
    assert np.abs(got.astype(int) - naive).max() > 50  # not the naive route
    assert any("through its ICC profile" in n for n in pic.notes)
    assert pic.icc == imageio.modes.srgb_profile()  # it says what the pixels now are


def test_cmyk_without_a_profile_is_converted_naively_with_a_note(tmp_path):
    Image.fromarray(CMYK.astype(np.uint8), "CMYK").save(tmp_path / "c.tif")
    pic = imageio.read(tmp_path / "c.tif")
    naive = np.asarray(Image.fromarray(CMYK.astype(np.uint8), "CMYK").convert("RGB"))
    assert np.array_equal(pic.pixels, naive)
    assert pic.icc is None
    assert any("naively" in n and "no ICC profile" in n for n in pic.notes)


def test_cmyk_with_a_broken_profile_is_converted_naively_with_a_note(tmp_path):
    Image.fromarray(CMYK.astype(np.uint8), "CMYK").save(
        tmp_path / "c.tif", icc_profile=b"junk" * 40
    )
    pic = imageio.read(tmp_path / "c.tif")
    assert any("naively" in n and "cannot be used" in n for n in pic.notes)


GHOSTSCRIPT_CMYK = Path("/usr/share/color/icc/ghostscript/default_cmyk.icc")


@pytest.mark.skipif(
    not GHOSTSCRIPT_CMYK.exists(), reason="the issue's own numbers need Ghostscript's CMYK profile"
)
def test_the_issues_cmyk_colours_come_out_as_a_colour_managed_viewer_shows_them(tmp_path):
    from PIL import ImageCms

    profile = ImageCms.getOpenProfile(str(GHOSTSCRIPT_CMYK))
    rgb = Image.new("RGB", (16, 8), (200, 40, 40))
    rgb.paste((40, 160, 60), (8, 0, 16, 8))
    cmyk = ImageCms.profileToProfile(
        rgb, ImageCms.createProfile("sRGB"), profile, outputMode="CMYK"
    )
    cmyk.save(tmp_path / "c.jpg", icc_profile=GHOSTSCRIPT_CMYK.read_bytes(), quality=100)
    px = imageio.read(tmp_path / "c.jpg").pixels
    assert np.abs(px[4, 4].astype(int) - (199, 42, 47)).max() <= 3
    assert np.abs(px[4, 12].astype(int) - (26, 159, 78)).max() <= 3


# -------------------------------------------------------------------------- flattening


HIDDEN_GREEN = np.zeros((2, 2, 4), np.uint8)
HIDDEN_GREEN[..., 1] = 255  # bright green under alpha 0 everywhere...
HIDDEN_GREEN[0, 0] = [255, 0, 0, 255]  # ...but one opaque red pixel
HIDDEN_GREEN[0, 1] = [0, 0, 255, 128]  # and one half-transparent blue one


@pytest.mark.parametrize("suffix", ["bmp", "jpg"])
@pytest.mark.parametrize("background", [(255, 255, 255), (0, 0, 0), (10, 20, 200)])
def test_alpha_is_flattened_onto_the_background_where_the_format_has_none(
    tmp_path, suffix, background
):
    notes = imageio.write(
        imageio.Picture(HIDDEN_GREEN), tmp_path / f"o.{suffix}", background=background
    )
    back = imageio.read(tmp_path / f"o.{suffix}").pixels.astype(int)
    half = np.rint(np.array([0, 0, 255]) * 128 / 255 + np.array(background) * 127 / 255)
    want = np.array([[[255, 0, 0], half], [background, background]])
    slack = 0 if suffix == "bmp" else 40  # a 2×2 JPEG blurs its four colours together
    assert np.abs(back - want).max() <= slack
    if suffix == "bmp":
        assert np.array_equal(back[1], [background, background])  # the green never shows
    assert any("flattened onto #{:02x}{:02x}{:02x}".format(*background) in n for n in notes)


def test_grey_with_alpha_flattens_to_grey_on_a_grey_background_and_to_rgb_otherwise(tmp_path):
    la = np.array([[[100, 0], [100, 255]]], np.uint8)
    imageio.write(imageio.Picture(la), tmp_path / "g.bmp")
    assert imageio.read(tmp_path / "g.bmp").pixels.tolist() == [[[255], [100]]]
    imageio.write(imageio.Picture(la), tmp_path / "c.bmp", background=(255, 0, 0))
    assert imageio.read(tmp_path / "c.bmp").pixels.tolist() == [[[255, 0, 0], [100, 100, 100]]]


def test_an_opaque_alpha_channel_is_dropped_without_a_note(tmp_path):
    rgba = np.full((2, 2, 4), 255, np.uint8)
    assert imageio.write(imageio.Picture(rgba), tmp_path / "o.bmp") == []


# ------------------------------------------------------------------------------- DPI


@pytest.mark.parametrize("suffix", ["png", "jpg", "tif", "webp", "bmp"])
@pytest.mark.parametrize("dpi", [(300.0, 300.0), (600.0, 150.0), (72.0, 72.0)])
def test_dpi_round_trips_through_every_format(tmp_path, suffix, dpi):
    exif = Image.Exif()
    exif[0x010F] = "scanner"
    pic = imageio.Picture(photo(8, 6), exif=exif.tobytes(), dpi=dpi)
    imageio.write(pic, tmp_path / f"o.{suffix}")
    back = imageio.read(tmp_path / f"o.{suffix}")
    assert back.dpi == pytest.approx(dpi, rel=2e-4)
    if back.exif:  # the resolution is Picture.dpi's, not an EXIF tag that could disagree
        kept = Image.Exif()
        kept.load(back.exif)
        assert not {0x011A, 0x011B, 0x0128} & set(kept)


@pytest.mark.parametrize("suffix", ["png", "jpg", "tif", "webp", "bmp"])
def test_a_picture_without_dpi_gets_none_invented(tmp_path, suffix):
    exif = Image.Exif()
    exif[0x010F] = "camera"  # a JPEG with EXIF but no resolution: Pillow says 72
    imageio.write(imageio.Picture(photo(8, 6), exif=exif.tobytes()), tmp_path / f"o.{suffix}")
    assert imageio.read(tmp_path / f"o.{suffix}").dpi is None


def test_dpi_is_read_in_each_files_own_unit(tmp_path):
    img = Image.fromarray(photo(8, 6))
    img.save(tmp_path / "a.tif", dpi=(118.11, 118.11))
    assert imageio.read(tmp_path / "a.tif").dpi == pytest.approx((118.11, 118.11))
    tags = {282: 100.0, 283: 50.0, 296: 3}  # dots per centimetre
    img.save(tmp_path / "cm.tif", tiffinfo=tags)
    assert imageio.read(tmp_path / "cm.tif").dpi == pytest.approx((254.0, 127.0))
    img.save(tmp_path / "none.tif", tiffinfo={282: 100.0, 283: 100.0, 296: 1})  # no unit
    assert imageio.read(tmp_path / "none.tif").dpi is None
    exif = Image.Exif()
    exif[282], exif[283], exif[296] = 240.0, 240.0, 2
    img.save(tmp_path / "exif.jpg", exif=exif.tobytes())  # JFIF says nothing: EXIF does
    assert imageio.read(tmp_path / "exif.jpg").dpi == pytest.approx((240.0, 240.0))


# ------------------------------------------------------------------------- orientation


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("kind", ["png", "tif16"])
def test_every_exif_orientation_turns_the_pixels_as_pillow_does(tmp_path, orientation, kind):
    exif = Image.Exif()
    exif[0x0112] = orientation
    if kind == "png":
        img = Image.fromarray(photo(7, 4))
        path = tmp_path / "o.png"
        img.save(path, exif=exif.tobytes())
        want = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    else:  # 16-bit colour: turned by srup, not by Pillow
        px = deep(4, 7)
        imageio.write(imageio.Picture(px, exif=exif.tobytes()), tmp_path / "o.tif")
        path = tmp_path / "o.tif"
        want = np.stack(
            [np.asarray(ImageOps.exif_transpose(_grey(px[..., c], exif))) for c in range(3)], 2
        )
    pic = imageio.read(path)
    assert np.array_equal(pic.pixels, want)
    kept = Image.Exif()
    if pic.exif:
        kept.load(pic.exif)
    assert 0x0112 not in kept  # applied, so not carried


def _grey(channel: np.ndarray, exif: Image.Exif) -> Image.Image:
    img = Image.fromarray(np.ascontiguousarray(channel))
    img.info["exif"] = exif.tobytes()
    return img


# ----------------------------------------------------------- files that are not pictures


def _read_in_a_thread(path) -> BaseException | None:
    """What reading ``path`` raised, failing the test if it did not return within 5 s."""
    caught: list[BaseException | None] = [None]

    def run() -> None:
        try:
            imageio.read(path)
        except BaseException as e:
            caught[0] = e

    reader = threading.Thread(target=run, daemon=True)
    reader.start()
    reader.join(5)
    assert not reader.is_alive(), f"reading {path} blocked"
    return caught[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_is_refused_at_once(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    error = _read_in_a_thread(tmp_path / "pipe.png")
    assert isinstance(error, BadImageError) and "not a regular file (a named pipe)" in str(error)
    with pytest.raises(BadImageError, match="named pipe"):
        imageio.probe(tmp_path / "pipe.png")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_device_is_refused_at_once():
    error = _read_in_a_thread("/dev/zero")
    assert isinstance(error, BadImageError) and "character device" in str(error)


def test_a_folder_and_a_missing_file_say_so(tmp_path):
    with pytest.raises(BadImageError, match="is a directory"):
        imageio.read(tmp_path)
    with pytest.raises(BadImageError, match="no such file"):
        imageio.read(tmp_path / "nothing.png")


# --------------------------------------------------------------------------- many pages


def many_page_tiff(pages: int) -> bytes:
    """A TIFF of ``pages`` 1×1 grey pages, all sharing one strip: built directly, as
    Pillow would take minutes to write 20,000 pages."""
    tags = [
        (256, 3, 1, 1),
        (257, 3, 1, 1),
        (258, 3, 1, 8),
        (259, 3, 1, 1),
        (262, 3, 1, 1),
        (273, 4, 1, 8),
        (277, 3, 1, 1),
        (278, 3, 1, 1),
        (279, 4, 1, 1),
    ]
    size = 2 + 12 * len(tags) + 4
    out = [b"II*\0" + struct.pack("<I", 10), b"\x80\0"]  # header, the strip (+ a pad byte)
    for page in range(pages):
        nxt = 10 + size * (page + 1) if page + 1 < pages else 0
        entries = b"".join(struct.pack("<HHII", t, k, n, v) for t, k, n, v in tags)
        out.append(struct.pack("<H", len(tags)) + entries + struct.pack("<I", nxt))
    return b"".join(out)


def test_page_counting_stops_at_a_bound(tmp_path):
    (tmp_path / "few.tif").write_bytes(many_page_tiff(3))
    assert (
        "animated (3 frames): only the first is upscaled"
        in imageio.read(tmp_path / "few.tif").notes
    )
    (tmp_path / "many.tif").write_bytes(many_page_tiff(20_000))
    start = time.perf_counter()
    pic = imageio.read(tmp_path / "many.tif")
    assert time.perf_counter() - start < 2.0  # counting all 20,000 took 6 s
    assert (
        f"animated (more than {imageio.FRAME_BOUND} frames): only the first is upscaled"
        in pic.notes
    )
    assert pic.pixels.tolist() == [[[128]]]


# ------------------------------------------------------- library messages become notes


def test_a_pillow_warning_is_a_note_not_a_stderr_line(tmp_path, capfd, monkeypatch):
    Image.fromarray(photo(20, 20)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300)  # 400 pixels: a warning, no error
    pic = imageio.read(tmp_path / "big.png")
    assert any("decompression bomb" in n for n in pic.notes), pic.notes
    assert capfd.readouterr().err == ""


def test_libtiffs_complaint_about_a_damaged_file_is_in_its_error_not_on_stderr(tmp_path, capfd):
    buf = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buf, format="TIFF", compression="tiff_lzw")
    data = bytearray(buf.getvalue())
    data[200:260] = b"\xff" * 60  # inside the LZW strip
    (tmp_path / "bad.tif").write_bytes(bytes(data))
    with pytest.raises(BadImageError, match=r"bad\.tif: damaged .*libtiff: .*table"):
        imageio.read(tmp_path / "bad.tif")
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("suffix", ["png", "tif"])
def test_a_damaged_sixteen_bit_colour_file_fails_in_one_line_without_stderr(
    tmp_path, capfd, suffix
):
    import cv2

    ok, data = cv2.imencode(f".{suffix}", deep(64, 64))
    assert ok
    damaged = bytearray(data.tobytes())
    damaged[len(damaged) // 2 :] = b"\0" * (len(damaged) - len(damaged) // 2)
    (tmp_path / f"d.{suffix}").write_bytes(bytes(damaged))
    with pytest.raises(BadImageError, match=rf"d\.{suffix}: (damaged|not an image)"):
        imageio.read(tmp_path / f"d.{suffix}")
    assert capfd.readouterr().err == ""


# --------------------------------------------------------------- what a TIFF's tags say


def test_a_sixteen_bit_min_is_white_tiff_is_inverted_as_the_eight_bit_one(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "w16.tif", np.full((3, 4), 2570, "u2"), photometric="miniswhite")
    tifffile.imwrite(tmp_path / "w8.tif", np.full((3, 4), 10, "u1"), photometric="miniswhite")
    assert (imageio.read(tmp_path / "w8.tif").pixels == 245).all()  # near white
    assert (imageio.read(tmp_path / "w16.tif").pixels == 65535 - 2570).all()


def test_sixteen_bit_associated_alpha_is_unpremultiplied_as_at_eight_bits(tmp_path):
    import tifffile

    for dtype, full in (("u1", 1), ("u2", 257)):
        rgba = np.full((3, 4, 4), [100 * full, 0, 0, 128 * full], dtype)
        extra = ["assocalpha"]
        tifffile.imwrite(tmp_path / f"{dtype}.tif", rgba, photometric="rgb", extrasamples=extra)
    eight = imageio.read(tmp_path / "u1.tif").pixels
    sixteen = imageio.read(tmp_path / "u2.tif").pixels
    assert eight[0, 0].tolist() == [199, 0, 0, 128]  # Pillow's RGBa → RGBA
    assert sixteen[0, 0].tolist() == [round(25700 * 65535 / 32896), 0, 0, 32896]  # 78 %


def test_unsigned_32_bit_samples_keep_their_order(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "u32.tif", np.array([[0, 1, 70000, 4_000_000_000]], "u4"))
    pic = imageio.read(tmp_path / "u32.tif")
    assert pic.pixels[0, :, 0].tolist() == [0, 0, 1, 65535]  # the brightest stays brightest
    assert "32-bit integer samples read as 16-bit (unsigned; 0..4e+09 stretched" in pic.notes[0]


def test_signed_eight_bit_samples_follow_the_stated_rule_with_a_note(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "s8.tif", np.array([[-100, 0, 100, 127]], "i1"))
    pic = imageio.read(tmp_path / "s8.tif")
    assert pic.pixels[0, :, 0].tolist() == [0, 28870, 57740, 65535]  # -100 darkest, not 156
    assert "8-bit integer samples read as 16-bit (signed; -100..127 stretched" in pic.notes[0]
    assert imageio.probe(tmp_path / "s8.tif").bytes_per_sample == 2


def test_sixteen_bit_cmyk_read_at_eight_bits_says_so(tmp_path):
    import tifffile

    cmyk = np.full((3, 4, 4), [1000, 2000, 3000, 4000], "u2")
    tifffile.imwrite(tmp_path / "c.tif", cmyk, photometric="separated")
    notes = imageio.read(tmp_path / "c.tif").notes
    assert "16-bit CMYK samples read at 8 bits: Pillow reads CMYK at 8" in notes


def test_a_sixteen_bit_png_with_a_bad_crc_is_refused_not_truncated(tmp_path, capfd):
    data = bytearray(png_bytes(deep(6, 8).reshape(6, -1), 16, 2))
    idat = data.index(b"IDAT")
    size = int.from_bytes(data[idat - 4 : idat], "big")
    data[idat + 4 + size + 3] ^= 0xFF  # the IDAT's CRC: Pillow does not check it, libpng does
    (tmp_path / "crc.png").write_bytes(bytes(data))
    with pytest.raises(BadImageError, match=r"crc\.png: damaged .*IDAT fails its CRC check"):
        imageio.read(tmp_path / "crc.png")
    assert capfd.readouterr().err == ""


def test_an_eight_sample_tiff_is_refused_as_a_tiff_pillow_cannot_decode(tmp_path, capfd):
    import tifffile

    tifffile.imwrite(tmp_path / "s8x.tif", np.zeros((4, 4, 8), "u1"), planarconfig="contig")
    with pytest.raises(BadImageError) as e:
        imageio.read(tmp_path / "s8x.tif")
    assert "a TIFF file it cannot decode: More samples per pixel" in str(e.value)
    assert "unknown format" not in str(e.value)
    assert capfd.readouterr().err == ""


# ------------------------------------------------------------- metadata on the way out


GREY_ICC = bytes(16) + b"GRAY" + b"XYZ " + bytes(104)  # an ICC header saying grey


@pytest.mark.parametrize(
    ("pixels", "fmt"),
    [
        (np.full((4, 4, 1), 90, np.uint8), "WEBP"),  # no grey in WebP
        (np.full((4, 4, 2), [90, 100], np.uint8), "JPEG"),  # flattened onto a colour
        (np.full((4, 4, 2), [900, 1000], np.uint16), "TIFF"),  # widened to RGBA
    ],
)
def test_a_grey_profile_is_left_out_when_grey_is_written_in_colour(tmp_path, pixels, fmt):
    path = tmp_path / f"g.{fmt.lower()}"
    notes = imageio.write(imageio.Picture(pixels, icc=GREY_ICC), path, background=(200, 0, 0))
    assert "grey ICC profile left out: the picture is written in colour" in notes
    with Image.open(path) as img:
        assert img.info.get("icc_profile") is None
    grey = imageio.write(imageio.Picture(pixels[..., :1], icc=GREY_ICC), tmp_path / "g.png")
    assert imageio.read(tmp_path / "g.png").icc == GREY_ICC and not grey


def test_xmp_comments_and_text_chunks_are_noted_as_not_carried(tmp_path):
    from PIL import PngImagePlugin

    Image.fromarray(photo(8, 6)).save(tmp_path / "x.jpg", xmp=b"<x:xmpmeta/>", comment=b"hi")
    text = PngImagePlugin.PngInfo()
    text.add_text("Title", "a cat")
    Image.fromarray(photo(8, 6)).save(tmp_path / "t.png", pnginfo=text)
    assert "XMP metadata, comment not carried" in imageio.read(tmp_path / "x.jpg").notes
    assert "text chunks (Title) not carried" in imageio.read(tmp_path / "t.png").notes
    Image.fromarray(photo(8, 6)).save(tmp_path / "plain.png")
    assert not imageio.read(tmp_path / "plain.png").notes


# ------------------------------------------------------------------------ folder scans


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and symlinks")
def test_a_folder_scan_leaves_out_what_is_not_a_regular_file_and_says_why(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "gone.png").symlink_to(tmp_path / "nowhere.png")
    (tmp_path / "loop.png").symlink_to(tmp_path / "loop.png")
    (tmp_path / "zero.png").symlink_to("/dev/zero")
    Image.fromarray(photo(8, 6)).save(tmp_path / "ok.png")
    pictures, others = imageio.scan(tmp_path)
    assert [p.name for p in pictures] == ["ok.png"]
    why = {p.name: imageio.not_regular(p) for p in others}
    assert why == {
        "gone.png": "a broken symbolic link (its target does not exist)",
        "loop.png": "a symbolic link loop",
        "pipe.png": "a named pipe (FIFO), not a regular file",
        "zero.png": "a character device, not a regular file",
    }


def test_geotiff_georeferencing_is_left_out_with_a_note_and_the_camera_tags_stay(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    path = tmp_path / "geo.tif"
    tifffile.imwrite(
        path,
        np.zeros((20, 30, 3), np.uint8),
        photometric="rgb",
        extratags=[
            (33550, "d", 3, (10.0, 10.0, 0.0), False),  # ModelPixelScale: 10 m a pixel
            (33922, "d", 6, (0, 0, 0, 500000.0, 4000000.0, 0), False),  # ModelTiepoint
            (0x010F, "s", 0, "GeoCam", False),  # Make
        ],
    )
    picture = imageio.read(path)
    assert "GeoTIFF georeferencing left out: it describes the input's pixel grid" in (picture.notes)
    kept = Image.Exif()
    kept.load(picture.exif)
    assert kept[0x010F] == "GeoCam" and not {33550, 33922} & set(kept)

"""Every input format × mode × output format: read → write → read gives the picture back.

A combination either round-trips faithfully (exactly for lossless formats, within a JPEG's or
lossy WebP's error otherwise) or changes in one of the documented ways, each with its note:
16 bits rounded to 8 where the format holds 8, transparency flattened onto white where it
holds no alpha. What each input mode reads as is checked against the pixels that went in.
The full cross-product is slow-marked; the default run keeps PNG, TIFF and JPEG inputs.

The next format bug (TIFF → TIFF once failed for every TIFF) is caught here, not by a user.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

import srup
from srup.choices import EXTENSIONS
from srup.media import pictures as imageio
from srup.media.modes import LAYOUTS
from tests.conftest import cmyk_profile, cmyk_to_srgb, photo

W, H = 13, 10
CAMERA = 0x010F  # EXIF Make
# Input modes: what the file holds. "+key" is a tRNS colour key (transparency=).
MODES = [
    "1",
    "L",
    "LA",
    "RGB",
    "RGBA",
    "P",
    "P+key",
    "L+key",
    "RGB+key",
    "I;16",
    "I;16+key",
    "RGB16",
    "RGBA16",
    "LA16",
    "F",
    "I",
    "CMYK",
    "CMYK+icc",
]
INPUTS = {
    "png": ("PNG", {}),
    "jpg": ("JPEG", {"quality": 95}),
    "tif": ("TIFF", {}),
    "tif-lzw": ("TIFF", {"compression": "tiff_lzw"}),
    "tif-deflate": ("TIFF", {"compression": "tiff_adobe_deflate"}),
    "tif-jpeg": ("TIFF", {"compression": "jpeg", "quality": 95}),
    "webp": ("WEBP", {"lossless": True}),
    "webp-lossy": ("WEBP", {"quality": 90}),
    "bmp": ("BMP", {}),
    "gif": ("GIF", {}),
}
DEFAULT_INPUTS = {"png", "jpg", "tif-lzw"}
OUTPUTS = ["png", "jpg", "webp", "tif", "bmp"]
LOSSY = {"jpg", "tif-jpeg", "webp-lossy"}
# What each mode reads as: (layout, dtype).
READS_AS = {
    "1": ("L", np.uint8),
    "L": ("L", np.uint8),
    "LA": ("LA", np.uint8),
    "RGB": ("RGB", np.uint8),
    "RGBA": ("RGBA", np.uint8),
    "P": ("RGB", np.uint8),
    "P+key": ("RGBA", np.uint8),
    "L+key": ("LA", np.uint8),
    "RGB+key": ("RGBA", np.uint8),
    "I;16": ("L", np.uint16),
    "I;16+key": ("LA", np.uint16),
    "RGB16": ("RGB", np.uint16),
    "RGBA16": ("RGBA", np.uint16),
    "LA16": ("LA", np.uint16),
    "F": ("L", np.uint16),
    "I": ("L", np.uint16),
    "CMYK": ("RGB", np.uint8),
    "CMYK+icc": ("RGB", np.uint8),
}
# What each mode reads as, from the pixels that went in.
RGB = photo(W, H, seed=5)
GREY = RGB[:, :, 1]
ALPHA = np.linspace(0, 255, W * H).reshape(H, W).astype(np.uint8)
ALPHA[0, :4] = 0  # some fully transparent pixels, whose colour must never show
DEEP = (RGB.astype(np.uint16) * 257) ^ np.arange(W, dtype=np.uint16)[:, None]  # low bytes differ
DEEP_ALPHA = ALPHA.astype(np.uint16) * 257
KEY_GREY, KEY_RGB = int(GREY[0, 0]), tuple(int(v) for v in RGB[0, 0])
CMYK = np.stack([255 - RGB[..., 0], 255 - RGB[..., 1], 255 - RGB[..., 2], GREY // 4], axis=2)


def chunk(kind: bytes, body: bytes) -> bytes:
    import struct
    import zlib

    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def sixteen_bit_png(pixels: np.ndarray, colour_type: int) -> bytes:
    """A 16-bit PNG made by hand (Pillow cannot write 16-bit colour)."""
    import struct
    import zlib

    h, w = pixels.shape[:2]
    rows = pixels.astype(">u2").reshape(h, -1).view(np.uint8)
    raw = b"".join(b"\0" + row.tobytes() for row in rows)
    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def source(mode: str) -> tuple[Image.Image | bytes | np.ndarray, np.ndarray]:
    """(what to save, the pixels srup must read back), for ``mode``."""
    if mode == "1":
        img = Image.fromarray(GREY).convert("1")
        return img, np.asarray(img.convert("L"))[:, :, None]
    if mode in {"L", "L+key"}:
        img = Image.fromarray(GREY)
        if mode == "L":
            return img, GREY[:, :, None]
        alpha = np.where(GREY == KEY_GREY, 0, 255).astype(np.uint8)
        return img, np.stack([GREY, alpha], axis=2)
    if mode == "LA":
        return Image.fromarray(np.stack([GREY, ALPHA], 2)), np.stack([GREY, ALPHA], 2)
    if mode in {"RGB", "RGB+key"}:
        if mode == "RGB":
            return Image.fromarray(RGB), RGB
        alpha = np.where(np.all(RGB == KEY_RGB, axis=2), 0, 255).astype(np.uint8)
        return Image.fromarray(RGB), np.concatenate([RGB, alpha[:, :, None]], axis=2)
    if mode == "RGBA":
        rgba = np.concatenate([RGB, ALPHA[:, :, None]], axis=2)
        return Image.fromarray(rgba), rgba
    if mode in {"P", "P+key"}:
        img = Image.fromarray(RGB).quantize(16)
        rgb = np.asarray(img.convert("RGB"))
        if mode == "P":
            return img, rgb
        alpha = np.where(np.asarray(img) == 3, 0, 255).astype(np.uint8)
        return img, np.concatenate([rgb, alpha[:, :, None]], axis=2)
    if mode in {"I;16", "I;16+key"}:
        grey = DEEP[:, :, 1]
        if mode == "I;16":
            return Image.fromarray(grey), grey[:, :, None]
        alpha = np.where(grey == grey[0, 0], 0, 65535).astype(np.uint16)
        return Image.fromarray(grey), np.stack([grey, alpha], axis=2)
    if mode == "RGB16":
        return DEEP, DEEP
    if mode == "RGBA16":
        rgba = np.concatenate([DEEP, DEEP_ALPHA[:, :, None]], axis=2)
        return rgba, rgba
    if mode == "LA16":
        la = np.stack([DEEP[:, :, 1], DEEP_ALPHA], axis=2)
        return la, la
    if mode == "F":
        values = GREY.astype(np.float32) / 255.0  # 0..1: × 65535
        return Image.fromarray(values), np.rint(values * 65535).astype(np.uint16)[:, :, None]
    if mode == "I":
        values = DEEP[:, :, 0].astype(np.int32)  # 0..65535: kept
        return Image.fromarray(values), values.astype(np.uint16)[:, :, None]
    img = Image.fromarray(CMYK, "CMYK")
    if mode == "CMYK":
        return img, np.asarray(img.convert("RGB"))
    return img, cmyk_to_srgb(CMYK)


def write_input(tmp_path, kind: str, mode: str):
    """(path, expected pixels), or None where the format cannot hold the mode."""
    fmt, options = INPUTS[kind]
    suffix = kind.split("-")[0]
    path = tmp_path / f"in-{kind}-{mode.replace(';', '').replace('+', '_')}.{suffix}"
    made, expected = source(mode)
    exif = Image.Exif()
    exif[CAMERA] = "srup-test-camera"
    if isinstance(made, np.ndarray):  # 16-bit colour: PNG by hand, TIFF by tifffile
        import tifffile

        if fmt == "PNG":
            path.write_bytes(sixteen_bit_png(made, {3: 2, 4: 6, 2: 4}[made.shape[2]]))
        elif fmt == "TIFF" and made.shape[2] in (3, 4) and kind == "tif-lzw":
            import cv2  # OpenCV writes LZW, as scanners do

            order = [2, 1, 0, 3][: made.shape[2]]
            assert cv2.imwrite(str(path), made[:, :, order])
        elif fmt == "TIFF" and made.shape[2] in (3, 4) and kind in {"tif", "tif-deflate"}:
            extra = {"extrasamples": ["unassalpha"]} if made.shape[2] == 4 else {}
            zlib = {"compression": "zlib"} if kind == "tif-deflate" else {}
            tifffile.imwrite(path, made, photometric="rgb", metadata=None, **extra, **zlib)
        else:
            return None
        return path, expected
    save = dict(options)
    if fmt in {"JPEG", "WEBP", "TIFF", "PNG"}:
        save["exif"] = exif.tobytes()
    if mode.endswith("+key"):
        if fmt != "PNG":
            return None  # a colour key is PNG's (GIF's palette keys are P+key)
        save["transparency"] = {"L+key": KEY_GREY, "RGB+key": KEY_RGB, "P+key": 3}.get(
            mode, int(DEEP[0, 0, 1])
        )
    if mode == "P+key" and fmt == "GIF":
        save["transparency"] = 3
    if mode == "CMYK+icc":
        save["icc_profile"] = cmyk_profile()
    try:
        made.save(path, format=fmt, **save)
        with Image.open(path) as check:
            check.load()
            if check.mode != made.mode and not mode.startswith("P"):
                return None  # the format changed the mode (JPEG of LA, GIF of RGB, ...)
            if mode.startswith("P") and check.mode != "P":
                return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return path, expected


def close(got: np.ndarray, want: np.ndarray, slack: float, lossy: bool = False) -> bool:
    """Same shape, and the same visible pixels: exactly, or within ``slack`` levels (the
    largest error; the mean error where ``lossy``, as a codec's errors are uneven). Colour
    under alpha 0 is invisible and compared nowhere."""
    if got.shape != want.shape:
        return False
    error = np.abs(got.astype(np.int64) - want.astype(np.int64))
    if want.shape[2] in (2, 4):
        error[..., :-1] *= want[..., -1:] > 0
    return (error.mean() if lossy else error.max()) <= slack


def expected_after(pixels: np.ndarray, fmt: str) -> tuple[np.ndarray, list[str]]:
    """What writing ``pixels`` as ``fmt`` must give, and the notes it must make: computed
    here from the documented rules, independently of srup.media.modes."""
    notes = []
    if pixels.dtype == np.uint16 and fmt in {"JPEG", "WEBP", "BMP"}:
        pixels = np.rint(pixels / 257.0).astype(np.uint8)
        notes.append("16-bit samples rounded to 8 bits")
    channels = pixels.shape[2]
    if channels in (2, 4) and fmt in {"JPEG", "BMP"}:
        full = float(np.iinfo(pixels.dtype).max)
        a = pixels[..., -1:] / full
        pixels = np.rint(pixels[..., :-1] * a + full * (1 - a)).astype(pixels.dtype)
        if (a < 1).any():
            notes.append("transparency flattened onto #ffffff")
    channels = pixels.shape[2]
    if fmt == "WEBP" and channels in (1, 2):
        pixels = np.concatenate([pixels[..., :1]] * 3 + [pixels[..., 1:]], axis=2)
    if fmt == "TIFF" and pixels.dtype == np.uint16 and channels == 2:
        pixels = np.concatenate([pixels[..., :1]] * 3 + [pixels[..., 1:]], axis=2)
    return pixels, notes


def feasible() -> list[tuple[str, str]]:
    """The (input, mode) pairs whose file Pillow (or, for 16-bit colour, tifffile, OpenCV
    or a PNG made by hand) can write: the matrix runs exactly these, found by writing each
    once at collection (under a second), so no combination is skipped or forgotten."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        return [
            (kind, mode)
            for kind, mode in itertools.product(INPUTS, MODES)
            if write_input(Path(tmp), kind, mode) is not None
        ]


CASES = feasible()


def marks(kind: str) -> list:
    return [] if kind in DEFAULT_INPUTS else [pytest.mark.slow]


@pytest.mark.parametrize(
    "kind,mode",
    [pytest.param(k, m, marks=marks(k), id=f"{k}-{m}") for k, m in CASES],
)
def test_every_mode_reads_faithfully_and_round_trips_through_every_format(tmp_path, kind, mode):
    path, truth = write_input(tmp_path, kind, mode)
    src = imageio.read(path)
    layout, dtype = READS_AS[mode]
    if mode.endswith("+key") and kind == "gif":
        layout = "RGBA"
    assert (src.layout, src.pixels.dtype) == (layout, dtype), (kind, mode)
    # Exact for lossless files (LittleCMS within 1 of the toy press's own arithmetic);
    # within a codec's mean error for lossy ones.
    slack = 12 if kind in LOSSY else (1 if mode == "CMYK+icc" else 0)
    assert close(src.pixels, truth, slack, lossy=kind in LOSSY), (kind, mode)
    assert src.lossy == (kind in LOSSY)
    src_tags = {}
    if src.exif:
        found = Image.Exif()
        found.load(src.exif)
        src_tags = dict(found)
    if not isinstance(source(mode)[0], np.ndarray) and INPUTS[kind][0] not in {"BMP", "GIF"}:
        assert src_tags.get(CAMERA) == "srup-test-camera", (kind, mode)
        assert not {256, 257, 273, 279} & set(src_tags)  # a TIFF's layout is not EXIF
    if mode in {"F", "I"}:
        assert any("32-bit" in n for n in src.notes), src.notes
    if mode.startswith("CMYK"):
        assert any("CMYK converted" in n for n in src.notes), src.notes
    for suffix in OUTPUTS:
        fmt = EXTENSIONS[f".{suffix}"]
        dst = tmp_path / f"out.{suffix}"
        notes = imageio.write(src, dst)
        back = imageio.read(dst)
        want, want_notes = expected_after(src.pixels, fmt)
        lossy_out = suffix in {"jpg", "webp"} or (suffix == "tif" and src.compression == "jpeg")
        assert back.pixels.dtype == want.dtype, (suffix, back.pixels.dtype)
        assert back.layout == LAYOUTS[want.shape[2]], (suffix, back.layout)
        # Lossy WebP (4:2:0 chroma) errs by about 10 levels on average on a picture this
        # small and colourful; JPEG (4:4:4 at quality 95) by under 6.
        slack = {"jpg": 6, "webp": 12}.get(suffix, 6 if lossy_out else 0)
        assert close(back.pixels, want, slack, lossy_out), (suffix, mode)
        for expected_note in want_notes:
            assert any(expected_note in n for n in notes), (suffix, notes)
        if src.exif and suffix != "bmp":
            kept = Image.Exif()
            kept.load(back.exif)
            assert dict(kept) == src_tags, suffix  # every tag, and no TIFF layout tags
        if src.icc and suffix != "bmp":
            assert back.icc == src.icc, suffix


def test_sixteen_bit_pixels_written_as_eight_are_rounded_not_truncated(tmp_path):
    pic = imageio.Picture(np.array([[[1000, 1000, 1000], [128, 129, 65535]]], np.uint16))
    notes = imageio.write(pic, tmp_path / "o.bmp")
    assert imageio.read(tmp_path / "o.bmp").pixels.tolist() == [[[4, 4, 4], [0, 1, 255]]]
    assert notes == ["16-bit samples rounded to 8 bits: BMP holds 8"]


@pytest.fixture(scope="module")
def upscaler():
    return srup.load("fsrcnn", 2, device="cpu", precision="fp32", tile=0)


UPSCALE_CASES = [
    ("png", "RGBA16"),
    ("png", "LA16"),
    ("png", "L+key"),
    ("png", "RGB+key"),
    ("png", "I;16+key"),
    ("tif", "RGB16"),
    ("tif-lzw", "F"),
    ("tif-lzw", "CMYK+icc"),
    ("jpg", "CMYK+icc"),
]


@pytest.mark.parametrize("kind,mode", UPSCALE_CASES, ids=[f"{k}-{m}" for k, m in UPSCALE_CASES])
def test_new_modes_go_through_the_upscaler_to_every_format(tmp_path, upscaler, kind, mode):
    path, _ = write_input(tmp_path, kind, mode)
    src = imageio.read(path)
    assert (src.layout, src.pixels.dtype) == READS_AS[mode]
    out = upscaler.upscale_picture(src)
    assert out.pixels.dtype == src.pixels.dtype and out.layout == src.layout
    for suffix in OUTPUTS:
        notes = imageio.write(out, tmp_path / f"out.{suffix}")
        back = imageio.read(tmp_path / f"out.{suffix}")
        want, want_notes = expected_after(out.pixels, EXTENSIONS[f".{suffix}"])
        assert back.size == (2 * W, 2 * H)
        assert (back.layout, back.pixels.dtype) == (LAYOUTS[want.shape[2]], want.dtype)
        for expected_note in want_notes:
            assert any(expected_note in n for n in notes), (suffix, notes)


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


def test_probe_says_what_read_makes_of_every_mode(tmp_path):
    for mode in MODES:
        for kind in ("png", "tif"):
            made = write_input(tmp_path, kind, mode)
            if made is None:
                continue
            probe = imageio.probe(made[0])
            pic = imageio.read(made[0])
            assert (probe.width, probe.height) == pic.size, (kind, mode)
            assert probe.channels == pic.pixels.shape[2], (kind, mode)
            assert probe.bytes_per_sample == pic.pixels.dtype.itemsize, (kind, mode)
            assert probe.format == INPUTS[kind][0]

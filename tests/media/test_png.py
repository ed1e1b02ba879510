"""srup's PNG encoder: bands deflated on threads must still make one valid PNG."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from srup.media import png
from srup.media.png import write_png
from tests.conftest import photo


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, body) of every chunk, each CRC checked."""
    assert data[:8] == png.SIGNATURE
    out, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(body, zlib.crc32(kind)), kind
        out.append((kind, body))
        pos += 12 + length
    return out


def encoded(pixels: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    write_png(buf, np.ascontiguousarray(pixels), **kw)
    return buf.getvalue()


def decoded(data: bytes) -> np.ndarray:
    img = Image.open(io.BytesIO(data))
    img.load()
    arr = np.asarray(img)
    return arr[:, :, None] if arr.ndim == 2 else arr


@pytest.fixture(params=[1, 3])
def many_bands(request, monkeypatch):
    """Bands of a few rows, on one thread and on three, so every seam is exercised."""
    monkeypatch.setattr(png, "BAND_BYTES", 200)
    return request.param


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("size", [(1, 1), (1, 37), (23, 1), (61, 45)])
def test_round_trip_through_pillow_is_exact(channels, size, many_bands):
    pixels = photo(*size)[:, :, :1].repeat(4, axis=2)[:, :, :channels]
    pixels[..., -1] ^= np.arange(pixels.shape[1], dtype=np.uint8)  # channels that differ
    assert np.array_equal(decoded(encoded(pixels, threads=many_bands)), pixels)


def test_sixteen_bit_gray_round_trips(many_bands):
    pixels = (np.arange(40 * 30, dtype=np.uint16).reshape(40, 30, 1) * 53) ^ 0x5A5A
    out = decoded(encoded(pixels, threads=many_bands))
    assert np.array_equal(out.astype(np.uint16), pixels)


def test_one_zlib_stream_with_a_valid_checksum(many_bands):
    pixels = photo(40, 50)  # 50 rows of 40
    parts = chunks(encoded(pixels, threads=many_bands))
    assert parts[0][0] == b"IHDR" and parts[-1][0] == b"IEND"
    stream = b"".join(body for kind, body in parts if kind == b"IDAT")
    raw = zlib.decompress(stream)  # checks the Adler-32 of the joined bands
    rows = np.frombuffer(raw, np.uint8).reshape(50, 1 + 40 * 3)
    assert (rows[:, 0] == png.UP).all()
    assert np.array_equal(np.cumsum(rows[:, 1:], axis=0, dtype=np.uint8), pixels.reshape(50, -1))


def test_icc_profile_and_exif_are_kept():
    exif = Image.Exif()
    exif[0x010F] = "srup test camera"
    icc = b"not a real profile, but bytes to carry" * 3
    img = Image.open(io.BytesIO(encoded(photo(8, 8), icc=icc, exif=exif.tobytes())))
    assert img.info["icc_profile"] == icc
    assert img.getexif()[0x010F] == "srup test camera"


def test_bad_arrays_are_refused():
    with pytest.raises(ValueError, match="pixels"):
        encoded(np.zeros((4, 4, 5), np.uint8))
    with pytest.raises(ValueError, match="uint8 or uint16"):
        encoded(np.zeros((4, 4, 3), np.float32))


def views(pixels: np.ndarray) -> dict[str, np.ndarray]:
    """The same picture in memory layouts a resize or a crop hands over."""
    big = np.zeros((pixels.shape[0] + 3, pixels.shape[1] * 2 + 5, pixels.shape[2]), pixels.dtype)
    big[1 : 1 + pixels.shape[0], 2 : 2 + 2 * pixels.shape[1] : 2] = pixels
    return {
        "strided crop": big[1 : 1 + pixels.shape[0], 2 : 2 + 2 * pixels.shape[1] : 2],
        "fortran order": np.asfortranarray(pixels),
        "transposed twice": pixels.transpose(1, 0, 2).copy().transpose(1, 0, 2),
        "flipped back": pixels[::-1].copy()[::-1],
        "one channel of many": np.concatenate([pixels, pixels], axis=2)[..., : pixels.shape[2]],
    }


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_any_memory_layout_is_written(channels, dtype, many_bands):
    # A 16-bit grey picture resized to a fractional size arrived non-contiguous and the
    # writer raised "the last axis must be contiguous", ending the batch.
    rng = np.random.default_rng(channels)
    pixels = rng.integers(0, np.iinfo(dtype).max, (23, 17, channels), dtype=dtype)
    for name, view in views(pixels).items():
        buf = io.BytesIO()
        write_png(buf, view, threads=many_bands)
        img = Image.open(io.BytesIO(buf.getvalue()))
        if dtype == np.uint16 and channels > 1:
            import cv2

            out = cv2.imdecode(np.frombuffer(buf.getvalue(), np.uint8), cv2.IMREAD_UNCHANGED)
            out = out[..., [2, 1, 0, 3][:channels]] if channels > 2 else out[..., [0, 3]]
        else:
            out = decoded(buf.getvalue()).astype(dtype)
        assert np.array_equal(out.reshape(pixels.shape), pixels), (name, img.mode)


def test_dpi_is_written_as_pixels_per_metre():
    data = encoded(photo(4, 4), dpi=(300.0, 72.0))
    body = dict(chunks(data))[b"pHYs"]
    assert struct.unpack(">IIB", body) == (11811, 2835, 1)  # 300 / 0.0254, 72 / 0.0254, metre
    assert Image.open(io.BytesIO(data)).info["dpi"] == pytest.approx((300.0, 72.0), abs=0.01)

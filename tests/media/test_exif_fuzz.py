"""EXIF can never fail a file: malformed tags are left out with a note, oversized blocks lose
their largest tags where a format bounds them, and a fuzzer that flips, overwrites, inserts
and deletes bytes in the EXIF of valid JPEG, PNG and TIFF files finds no input that makes
reading or writing raise anything but BadImageError, or print to stderr."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from srup.errors import BadImageError, OutputError
from srup.media import pictures as imageio
from tests.conftest import photo

OUTPUTS = ["jpg", "png", "tif", "webp", "bmp"]
MAKE, MODEL, DATE, USER_COMMENT, EXPOSURE = 0x010F, 0x0110, 0x0132, 0x9286, 0x829A
EXIF_IFD, GPS_IFD, INTEROP_IFD = 0x8769, 0x8825, 0xA005


def camera_exif(comment: bytes = b"ASCII\0\0\0a holiday") -> bytes:
    """EXIF as a camera writes it: IFD0, an Exif IFD with an Interop IFD and a maker note,
    and a GPS IFD."""
    exif = Image.Exif()
    exif[MAKE], exif[MODEL], exif[DATE] = "srup", "test camera", "2024:05:01 12:00:00"
    exif[0x0112] = 1
    exif[EXIF_IFD] = {
        EXPOSURE: (1, 250),
        0x829D: (28, 10),  # FNumber
        0x8827: 200,  # ISO
        0x9003: "2024:05:01 12:00:00",  # DateTimeOriginal
        USER_COMMENT: comment,
        0x927C: b"MAKERNOTE" + bytes(range(64)),
        INTEROP_IFD: {1: "R98"},
    }
    exif[GPS_IFD] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 8.0)}
    return exif.tobytes()


def jpeg_with_app1(payload: bytes) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(photo(16, 12)).save(buf, format="JPEG", quality=90)
    body = buf.getvalue()
    payload = payload[:65533]
    return body[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + body[2:]


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_with_exif(payload: bytes) -> bytes:
    """A PNG whose eXIf chunk holds ``payload`` (checksum fixed, so the EXIF is what is
    tested, not PNG's own integrity check)."""
    buf = io.BytesIO()
    Image.fromarray(photo(16, 12)).save(buf, format="PNG")
    data = buf.getvalue()
    ihdr_end = 8 + 25
    body = payload.removeprefix(b"Exif\0\0")
    return data[:ihdr_end] + chunk(b"eXIf", body) + data[ihdr_end:]


def tiff_with_exif() -> tuple[bytes, int]:
    """An uncompressed TIFF with camera EXIF in its IFD0, and where its pixels start (the
    fuzzer changes what lies before them: header, tags, sub-IFDs)."""
    buf = io.BytesIO()
    Image.fromarray(photo(16, 12)).save(buf, format="TIFF", exif=camera_exif())
    data = buf.getvalue()
    with Image.open(io.BytesIO(data)) as img:
        strips = img.tag_v2[273]
    return data, min(strips) if isinstance(strips, tuple) else strips


def round_trip(path) -> None:
    """Read ``path`` and write it in every format: only BadImageError may come out of
    reading, nothing out of writing, and each output must read back."""
    try:
        pic = imageio.read(path)
    except BadImageError:
        return
    for suffix in OUTPUTS:
        out = path.with_name(f"out.{suffix}")
        try:
            imageio.write(pic, out)
        except OutputError as e:  # a mutated height of 65,540 is no JPEG: said in one line
            assert "is too large for" in str(e) and "\n" not in str(e)
            continue
        imageio.read(out)


# ------------------------------------------------------------------- known bad blocks


ISSUE_APP1 = b"Exif\0\0MM\0*\0\0\0\x08\0\x01" + struct.pack(">HHII", 0xA005, 10, 1, 8) + bytes(4)


def test_the_issues_malformed_app1_is_left_out_with_a_note(tmp_path, capfd):
    # Interop pointer (0xA005) in IFD0, typed SRATIONAL, count 1, value 8: Pillow reads it
    # as 0.16 and raised struct.error when the block was written back.
    path = tmp_path / "bad.jpg"
    path.write_bytes(jpeg_with_app1(ISSUE_APP1))
    pic = imageio.read(path)
    assert pic.exif is None
    assert any("ExifInteroperabilityOffset" in n and "left out" in n for n in pic.notes)
    round_trip(path)
    assert capfd.readouterr().err == ""


def test_a_malformed_tag_costs_only_that_tag(tmp_path):
    good = struct.pack(">HHII", MAKE, 2, 4, int.from_bytes(b"cam\0", "big"))
    bad = struct.pack(">HHII", 0xA005, 10, 1, 8)
    payload = b"Exif\0\0MM\0*\0\0\0\x08\0\x02" + good + bad + bytes(4)
    (tmp_path / "one.jpg").write_bytes(jpeg_with_app1(payload))
    pic = imageio.read(tmp_path / "one.jpg")
    kept = Image.Exif()
    kept.load(pic.exif)
    assert dict(kept) == {MAKE: "cam"}
    assert len([n for n in pic.notes if n.startswith("EXIF")]) == 1


def test_an_exif_block_cut_short_keeps_what_precedes_the_cut(tmp_path, capfd):
    full = camera_exif()
    (tmp_path / "cut.png").write_bytes(png_with_exif(full[: len(full) * 2 // 3]))
    pic = imageio.read(tmp_path / "cut.png")
    round_trip(tmp_path / "cut.png")
    assert capfd.readouterr().err == ""
    assert pic.pixels.shape == (12, 16, 3)


# ---------------------------------------------------------------------- large blocks


BIG_COMMENT = b"ASCII\0\0\0" + b"a long story " * 5400  # 70,208 bytes


@pytest.mark.parametrize("suffix", OUTPUTS)
def test_exif_over_64_kb_loses_only_what_the_format_cannot_hold(tmp_path, suffix):
    pic = imageio.Picture(photo(16, 12), exif=camera_exif(BIG_COMMENT))
    notes = imageio.write(pic, tmp_path / f"o.{suffix}")
    back = imageio.read(tmp_path / f"o.{suffix}")
    if suffix == "bmp":
        assert back.exif is None and notes == ["EXIF left out: BMP holds none"]
        return
    kept = Image.Exif()
    kept.load(back.exif)
    assert kept[MAKE] == "srup" and kept.get_ifd(GPS_IFD)[1] == "N"
    exif_ifd = kept.get_ifd(EXIF_IFD)
    assert exif_ifd[EXPOSURE] == (1, 250)
    if suffix == "jpg":  # an APP1 segment holds 65,533 bytes: the comment goes, with a note
        assert USER_COMMENT not in exif_ifd
        assert notes == [
            "EXIF UserComment (70,208 bytes) left out: JPEG format holds at most 65,533 "
            "bytes of EXIF"
        ]
    else:
        assert exif_ifd[USER_COMMENT] == BIG_COMMENT and notes == []


@pytest.mark.parametrize("compression", ["raw", "tiff_lzw", "tiff_adobe_deflate", "jpeg"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_camera_exif_survives_every_tiff_compression_and_depth(tmp_path, compression, dtype):
    # libtiff, which Pillow hands compressed TIFFs to, refused any EXIF sub-IFD
    # ("Error setting from dictionary"): every camera photo written as LZW TIFF failed.
    pixels = photo(16, 12).astype(dtype) * (257 if dtype == np.uint16 else 1)
    pic = imageio.Picture(pixels, exif=camera_exif(), compression=compression)
    assert imageio.write(pic, tmp_path / "o.tif") == []
    kept = Image.Exif()
    kept.load(imageio.read(tmp_path / "o.tif").exif)
    assert kept[MODEL] == "test camera"
    assert kept.get_ifd(EXIF_IFD)[EXPOSURE] == (1, 250)
    assert kept.get_ifd(INTEROP_IFD) == {1: "R98"}
    assert kept.get_ifd(GPS_IFD)[2] == (48.0, 51.0, 24.0)


# --------------------------------------------------------------------------- fuzzing


edits = st.lists(
    st.tuples(
        st.sampled_from(["flip", "set", "insert", "delete"]),
        st.integers(0, 1 << 16),
        st.integers(0, 255),
        st.binary(min_size=1, max_size=8),
    ),
    min_size=1,
    max_size=6,
)


def mutate(data: bytes, changes, start: int = 0, end: int | None = None) -> bytes:
    """``data`` with each change applied at an offset within [start, end)."""
    out = bytearray(data)
    for kind, where, value, blob in changes:
        stop = len(out) if end is None else min(end, len(out))
        if stop <= start:
            break
        i = start + where % (stop - start)
        if kind == "flip":
            out[i] ^= 1 << (value % 8)
        elif kind == "set":
            out[i] = value
        elif kind == "insert":
            out[i:i] = blob
        else:
            del out[i : i + 1 + value % 8]
    return bytes(out)


FUZZ = {
    "default": settings(
        max_examples=40,
        deadline=None,
        derandomize=True,  # the default run is the same every time; the slow one explores
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    ),
    "slow": settings(
        max_examples=400,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    ),
}
EXIF = camera_exif()
TIFF, TIFF_PIXELS = tiff_with_exif()


def fuzz_jpeg(tmp_path, changes) -> None:
    path = tmp_path / "f.jpg"
    path.write_bytes(jpeg_with_app1(mutate(EXIF, changes, start=6)))
    round_trip(path)


def fuzz_png(tmp_path, changes) -> None:
    path = tmp_path / "f.png"
    path.write_bytes(png_with_exif(mutate(EXIF, changes, start=6)))
    round_trip(path)


def fuzz_tiff(tmp_path, changes) -> None:
    path = tmp_path / "f.tif"
    path.write_bytes(mutate(TIFF, changes, start=4, end=TIFF_PIXELS))
    round_trip(path)


FUZZERS = {"jpeg": fuzz_jpeg, "png": fuzz_png, "tiff": fuzz_tiff}


@pytest.mark.parametrize("container", list(FUZZERS))
def test_mutated_exif_never_fails_a_read_or_a_write(tmp_path, capfd, container):
    @FUZZ["default"]
    @given(changes=edits)
    def run(changes):
        FUZZERS[container](tmp_path, changes)

    run()
    assert capfd.readouterr().err == ""


@pytest.mark.slow
@pytest.mark.parametrize("container", list(FUZZERS))
def test_mutated_exif_never_fails_a_read_or_a_write_long_run(tmp_path, capfd, container):
    @FUZZ["slow"]
    @given(changes=edits)
    def run(changes):
        FUZZERS[container](tmp_path, changes)

    run()
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("suffix", ["jpg", "png", "tif", "webp"])
def test_exif_pixel_dimensions_give_the_size_written(tmp_path, suffix):
    exif = Image.Exif()
    exif[0x010F] = "Camera-X"
    exif.get_ifd(0x8769).update({0xA002: 8, 0xA003: 6})  # PixelXDimension, PixelYDimension
    Image.fromarray(photo(8, 6)).save(tmp_path / "in.jpg", exif=exif.tobytes())
    pic = imageio.read(tmp_path / "in.jpg")
    pic.pixels = np.repeat(np.repeat(pic.pixels, 3, axis=0), 2, axis=1)  # now 16×18
    imageio.write(pic, tmp_path / f"out.{suffix}")
    with Image.open(tmp_path / f"out.{suffix}") as img:
        written = img.getexif()  # a TIFF's: its IFD0, the EXIF IFD hanging off it
        ifd = written.get_ifd(0x8769)
    assert (ifd.get(0xA002), ifd.get(0xA003)) == (16, 18)
    assert written[0x010F] == "Camera-X"

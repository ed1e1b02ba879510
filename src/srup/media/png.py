"""A PNG encoder that deflates bands of rows on every core.

A 4K upscale is 25 MB of pixels; Pillow encodes it on one core in about 0.45 s at zlib
level 1, as long as the upscale itself. Here each band of rows is filtered (PNG's "Up"
filter, one NumPy subtraction) and deflated on its own thread (zlib releases the GIL); the
bands' raw deflate streams, each ended by a sync flush on a byte boundary, join into the one
zlib stream that PNG wants, as pigz does. Files are about 4% larger than Pillow's at the same
level (Pillow picks a filter per row); memory is a few bands, whatever the image size.
"""

from __future__ import annotations

import os
import struct
import zlib
from typing import IO

import numpy as np

from srup.concurrency import ordered_map

__all__ = ["write_png"]

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOUR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels → gray, gray+alpha, RGB, RGBA
BAND_BYTES = 1 << 20  # a band is about 1 MiB of filtered rows: small enough to spread work
UP = 2  # PNG filter type: each byte minus the byte above it


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(kind))
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _bands(height: int, row_bytes: int) -> list[tuple[int, int]]:
    rows = max(1, BAND_BYTES // (row_bytes + 1))
    return [(r, min(height, r + rows)) for r in range(0, height, rows)]


def write_png(
    f: IO[bytes],
    pixels: np.ndarray,
    icc: bytes | None = None,
    exif: bytes | None = None,
    level: int = 1,
    threads: int | None = None,
    dpi: tuple[float, float] | None = None,
) -> None:
    """Write ``(H, W, C)`` uint8 or uint16 pixels, C = 1 (L), 2 (LA), 3 (RGB) or 4 (RGBA),
    in any memory layout (views, transposes, negative strides), as a PNG to ``f``, with an
    ICC profile (iCCP), EXIF (eXIf) and a resolution (pHYs, from ``dpi``: dots per inch
    (x, y), stored as whole pixels per metre) if given. Raises ValueError for other
    shapes or dtypes."""
    if pixels.ndim != 3 or pixels.shape[2] not in COLOUR_TYPE:
        raise ValueError(f"expected (H, W, 1..4) pixels, got {pixels.shape}")
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected uint8 or uint16 pixels, got {pixels.dtype}")
    height, width, channels = pixels.shape
    depth = pixels.dtype.itemsize * 8
    # PNG samples are big-endian; a band converts its own rows, so no full-size copy.
    rows = pixels.reshape(height, width * channels)
    row_bytes = width * channels * pixels.dtype.itemsize
    f.write(SIGNATURE)
    f.write(
        _chunk(
            b"IHDR", struct.pack(">IIBBBBB", width, height, depth, COLOUR_TYPE[channels], 0, 0, 0)
        )
    )
    if icc:
        f.write(_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc)))
    if dpi:
        ppm = [max(1, min(0xFFFFFFFF, round(d / 0.0254))) for d in dpi]
        f.write(_chunk(b"pHYs", struct.pack(">IIB", ppm[0], ppm[1], 1)))  # unit 1: metre
    if exif:
        f.write(_chunk(b"eXIf", exif.removeprefix(b"Exif\x00\x00")))

    def big_endian(a: np.ndarray) -> np.ndarray:
        # C order, whatever the caller's strides: a band of a resized or transposed array
        # is not contiguous, and only a contiguous array can be viewed as bytes.
        if depth == 16:
            return np.ascontiguousarray(a, dtype=">u2").view(np.uint8)
        return a

    bands = _bands(height, row_bytes)

    def encode(index: int) -> tuple[bytes, bytes]:
        r0, r1 = bands[index]
        here = big_endian(rows[r0:r1]).reshape(r1 - r0, row_bytes)
        above = np.zeros((r1 - r0, row_bytes), np.uint8)
        if r0 > 0:
            above[0] = big_endian(rows[r0 - 1 : r0]).reshape(row_bytes)
        above[1:] = here[:-1]
        filtered = np.empty((r1 - r0, row_bytes + 1), np.uint8)
        filtered[:, 0] = UP
        np.subtract(here, above, out=filtered[:, 1:])  # wraps modulo 256, as PNG wants
        raw = filtered.tobytes()
        packer = zlib.compressobj(level, zlib.DEFLATED, -15)
        last = index == len(bands) - 1
        body = packer.compress(raw) + packer.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
        return raw, body

    adler = zlib.adler32(b"")
    # The zlib header for a 32 KiB window: CMF 0x78, FLG with FCHECK making it divisible by 31.
    head = b"\x78\x01"
    workers = min(threads or os.cpu_count() or 1, len(bands))
    encoded = ordered_map(encode, range(len(bands)), workers if workers > 1 else 0)
    for index, (raw, body) in enumerate(encoded):
        adler = zlib.adler32(raw, adler)
        f.write(_chunk(b"IDAT", (head if index == 0 else b"") + body))
    f.write(_chunk(b"IDAT", struct.pack(">I", adler)))
    f.write(_chunk(b"IEND", b""))

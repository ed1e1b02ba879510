"""16-bit colour (RGB, RGBA, grey + alpha): read by OpenCV, TIFFs written by tifffile.

Pillow has no 16-bit colour mode: it opens a 16-bit RGB PNG or TIFF as 8-bit RGB keeping
the high byte (1000 → 3, truncated). srup still opens every file with Pillow (size, ICC
profile, EXIF, DPI, colour key come from there), decides from the header whether the
samples are 16-bit colour (PNG: IHDR bit depth 16 with colour type 2, 4 or 6; TIFF:
``BitsPerSample`` 16 for two or more unsigned samples), and then takes the pixels from
OpenCV's ``cv2.imdecode(..., IMREAD_UNCHANGED)`` instead (libpng and libtiff underneath, all
of TIFF's usual compressions and predictors; BGR order turned into RGB here). A TIFF's
associated (premultiplied) alpha is un-premultiplied here, as Pillow does at 8 bits.

Pillow does not check the CRCs of a PNG's image data, which libpng (inside OpenCV) does,
printing "libpng error: IDAT: CRC error" on stderr and failing: :func:`png_damage` checks
every chunk's CRC first (zlib's ``crc32``, a fraction of the decoding time), so a damaged
file is refused in one line, by srup, before OpenCV sees it.

Why OpenCV: one maintained library, wheels for every platform, that decodes both PNG and
TIFF at 16 bits in C. pypng reads only PNG, in pure Python (a 4K frame takes seconds);
tifffile reads only TIFF and needs the large imagecodecs package for LZW.

Writing 16-bit colour: PNG by :func:`srup.media.png.write_png`; TIFF by tifffile (Pillow cannot,
and OpenCV's TIFF writer drops the ICC profile), with the ICC profile, the DPI and Deflate
with a horizontal predictor (lossless; tifffile writes no LZW without imagecodecs), or
uncompressed when the input TIFF was; EXIF is added afterwards by :mod:`srup.media.tiffexif`.
"""

from __future__ import annotations

import io
import zlib

import numpy as np
from PIL import Image

__all__ = ["colour_layout", "decode", "png_damage", "png_header", "write_tiff"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour types holding colour or alpha → srup layout.
_PNG_LAYOUT = {2: "RGB", 4: "LA", 6: "RGBA"}


def png_header(head: bytes) -> tuple[int, int] | None:
    """``(bit depth, colour type)`` from a PNG's first 26 bytes, or None if not a PNG."""
    if len(head) < 26 or head[:8] != PNG_SIGNATURE or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def png_damage(data: bytes) -> str | None:
    """What is wrong with the chunks of ``data`` (a PNG file): a chunk whose CRC does not
    match, or one that runs past the end; None when every chunk up to IEND is sound."""
    view, pos = memoryview(data), len(PNG_SIGNATURE)
    while pos + 12 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        kind = bytes(data[pos + 4 : pos + 8]).decode("latin-1")
        end = pos + 8 + size
        if end + 4 > len(data):
            return f"PNG chunk {kind!r} runs past the end of the file"
        if zlib.crc32(view[pos + 4 : end]) != int.from_bytes(data[end : end + 4], "big"):
            return f"PNG chunk {kind} fails its CRC check"
        if kind == "IEND":
            return None
        pos = end + 4
    return "PNG file ends before its IEND chunk"


def colour_layout(img: Image.Image, head: bytes) -> str | None:
    """``"RGB"``, ``"RGBA"`` or ``"LA"`` when ``img`` (opened, not loaded) holds 16-bit
    samples in that layout, which Pillow would truncate to 8 bits; ``"RGBa"`` for RGBA
    whose alpha is associated (premultiplied: a TIFF's ExtraSamples 1); None otherwise."""
    if img.format == "PNG":
        header = png_header(head)
        if header and header[0] == 16:
            return _PNG_LAYOUT.get(header[1])
        return None
    if img.format != "TIFF":
        return None
    tags = img.tag_v2
    bits = tags.get(258, (1,))
    bits = bits if isinstance(bits, tuple) else (bits,)
    formats = tags.get(339, (1,))
    formats = formats if isinstance(formats, tuple) else (formats,)
    samples = tags.get(277, 1)
    if samples < 2 or set(bits) != {16} or set(formats) != {1}:
        return None
    photometric = tags.get(262)
    if photometric == 2 and samples in (3, 4):
        extra = tags.get(338, (2,))
        first = (extra if isinstance(extra, tuple) else (extra,))[:1]
        if samples == 3 or first == (0,):
            return "RGB"
        return "RGBa" if first == (1,) else "RGBA"
    if photometric in (0, 1) and samples == 2:
        return "LA"
    return None


def decode(data: bytes, layout: str) -> np.ndarray | None:
    """The first picture in ``data`` (a PNG or TIFF file) as ``(H, W, C)`` uint16 in
    ``layout`` (RGB, RGBA or LA; RGBa: RGBA un-premultiplied here), or None where OpenCV
    cannot decode it at 16 bits."""
    import cv2  # imported here: only 16-bit colour files pay its import

    # OpenCV logs a file it cannot decode on stderr; srup refuses the file in one line.
    # (The caller has Pillow decode the file and checks a PNG's CRCs first, so damaged
    # data is refused there, before libpng, inside OpenCV, could print about it.)
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    level = logging.getLogLevel() if logging else None
    if logging:
        logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    finally:
        if logging:
            logging.setLogLevel(level)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3:
        return None
    channels = arr.shape[2]
    if layout == "RGB" and channels >= 3:
        # A colour-key PNG comes back with libpng's alpha: the key is applied by srup
        # itself, as for 8-bit files, so drop it here.
        return np.ascontiguousarray(arr[:, :, 2::-1])
    if layout in ("RGBA", "RGBa") and channels == 4:
        rgba = np.ascontiguousarray(arr[:, :, [2, 1, 0, 3]])
        return _unpremultiply(rgba) if layout == "RGBa" else rgba
    if layout == "LA" and channels == 4:  # OpenCV expands grey + alpha to BGRA
        return np.ascontiguousarray(arr[:, :, [0, 3]])
    if layout == "LA" and channels == 2:
        return np.ascontiguousarray(arr)
    return None


def _unpremultiply(rgba: np.ndarray) -> np.ndarray:
    """uint16 RGBA with associated alpha → straight alpha: ``C · 65535 / α``, rounded and
    clipped; colour 0 where α is 0 (invisible), as Pillow's RGBa → RGBA at 8 bits."""
    alpha = rgba[:, :, 3:].astype(np.float64)
    colour = rgba[:, :, :3] * np.divide(65535.0, alpha, out=np.zeros_like(alpha), where=alpha > 0)
    rgba[:, :, :3] = np.clip(np.rint(colour), 0, 65535)
    return rgba


def write_tiff(
    pixels: np.ndarray,
    icc: bytes | None,
    dpi: tuple[float, float] | None,
    compressed: bool = True,
) -> bytes:
    """``(H, W, C)`` uint16 pixels, C = 1, 3 or 4 (L, RGB, RGBA: alpha unassociated), as
    TIFF bytes: Deflate with a horizontal predictor when ``compressed``, else none; the
    ICC profile and the DPI (inch) if given; no software tag, no tifffile metadata."""
    import tifffile

    channels = pixels.shape[2]
    if channels not in (1, 3, 4) or pixels.dtype != np.uint16:
        raise ValueError(f"expected (H, W, 1|3|4) uint16 pixels, got {pixels.shape} {pixels.dtype}")
    options: dict[str, object] = {
        "photometric": "rgb" if channels >= 3 else "minisblack",
        "metadata": None,
        "software": False,
    }
    if channels == 4:
        options["extrasamples"] = ["unassalpha"]
    if compressed:
        options["compression"] = "zlib"
        options["predictor"] = True
    if icc:
        options["iccprofile"] = icc
    if dpi:
        options["resolution"] = dpi
        options["resolutionunit"] = "INCH"
    buf = io.BytesIO()
    tifffile.imwrite(buf, pixels if channels > 1 else pixels[:, :, 0], **options)
    return buf.getvalue()

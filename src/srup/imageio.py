"""Reading and writing pictures with Pillow.

Reading applies EXIF orientation, keeps the ICC profile and the rest of the EXIF, and turns
every Pillow mode into one of four layouts (L, LA, RGB, RGBA) of uint8 or, for 16-bit
grayscale, uint16. Writing is atomic: a temporary file in the target folder, then a rename,
so a reader never sees half a file, even after Ctrl-C or a full disk.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import BadImageError, OutputError, UsageError
from .formats import EXTENSIONS, FORMAT_NAMES, IMAGE_SUFFIXES, SUFFIX_FOR, VIDEO_SUFFIXES
from .png import write_png

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "EXTENSIONS",
    "FORMAT_NAMES",
    "IMAGE_SUFFIXES",
    "Picture",
    "atomic_write",
    "format_for",
    "from_pil",
    "image_files",
    "is_lossy",
    "read",
    "scan",
    "to_8bit",
    "to_pil",
    "write",
    "write_file",
]

DEFAULT_MAX_PIXELS = 150_000_000
MEDIA_SUFFIXES = IMAGE_SUFFIXES | VIDEO_SUFFIXES
LAYOUTS = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
# TIFF compressions Pillow writes; others (or none known) get lossless LZW.
_TIFF_WRITES = {"raw", "tiff_lzw", "tiff_adobe_deflate", "packbits", "jpeg"}
_TIFF_DEFAULT = "tiff_lzw"
# Tags that describe a TIFF container's own layout (sizes, strips, tiles, sample format,
# the embedded ICC profile): a TIFF's IFD0 is what Pillow returns as its "EXIF", and these
# would describe the input file, not the picture written. Camera, date and GPS tags stay.
_CONTAINER_TAGS = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 277, 278, 279, 280, 281, 284, 288}
    | {289, 290, 291, 292, 293, 317, 320, 322, 323, 324, 325, 338, 339, 340, 341, 347}
    | {530, 531, 532, 0x0112, 34675}
)
_SIXTEEN_BIT = {"I;16", "I;16B", "I;16L", "I;16N", "I", "F"}
# Layouts each format can hold; others are converted by _fit_layout.
_HOLDS = {
    "JPEG": {"L", "RGB"},
    "WEBP": {"RGB", "RGBA"},
    "BMP": {"L", "RGB"},  # Pillow writes RGBA BMPs that read back as RGB
    "PNG": {"L", "LA", "RGB", "RGBA"},
    "TIFF": {"L", "LA", "RGB", "RGBA"},
}
_HOLDS_16 = {"PNG", "TIFF"}


@dataclass
class Picture:
    """``pixels``: ``(H, W, C)`` uint8 or uint16, C = 1 (L), 2 (LA), 3 (RGB) or 4 (RGBA).
    ``notes``: things a user should know about how the file was read (animation, CMYK)."""

    pixels: np.ndarray
    icc: bytes | None = None
    exif: bytes | None = None
    format: str | None = None
    notes: list[str] = field(default_factory=list)
    compression: str | None = None  # the input TIFF's, kept for TIFF output
    lossy: bool = False  # the file was lossy-compressed (JPEG, lossy WebP, JPEG-in-TIFF)

    @property
    def layout(self) -> str:
        return LAYOUTS[self.pixels.shape[2]]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), as Pillow says it."""
        return self.pixels.shape[1], self.pixels.shape[0]


def format_for(path: Path) -> str:
    """The output format that ``path``'s suffix names; :class:`UsageError` otherwise."""
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        what = f"unknown output extension {path.suffix!r}" if path.suffix else "no extension"
        raise UsageError(
            f"{path}: {what}; use one of {', '.join(sorted(set(EXTENSIONS)))}, "
            "or end the name with / for a folder"
        )
    return fmt


def suffix_list() -> str:
    """The image suffixes srup reads, for messages."""
    return ", ".join(sorted(IMAGE_SUFFIXES))


def scan(folder: Path, recursive: bool = False) -> tuple[list[Path], list[Path]]:
    """``(pictures, left_out)`` in ``folder``: image and video files by suffix, sorted, and
    the other regular files (hidden ones included) that a batch leaves out and reports."""
    pattern = folder.rglob("*") if recursive else folder.glob("*")
    images, others = [], []
    for p in sorted(pattern):
        if not p.is_file():
            continue
        if p.suffix.lower() in MEDIA_SUFFIXES and not p.name.startswith("."):
            images.append(p)
        else:
            others.append(p)
    return images, others


def image_files(folder: Path, recursive: bool = False) -> list[Path]:
    """Image files in ``folder`` (by suffix), sorted; hidden files skipped."""
    return [p for p in scan(folder, recursive)[0] if p.suffix.lower() in IMAGE_SUFFIXES]


def to_8bit(pixels: np.ndarray) -> np.ndarray:
    """uint16 → uint8 by rounding ``v / 257`` (65535 → 255); uint8 unchanged."""
    if pixels.dtype == np.uint8:
        return pixels
    return np.clip(np.rint(pixels / 257.0), 0, 255).astype(np.uint8)


_LOSSY_FORMATS = {"JPEG", "MPO"}


def is_lossy(path: Path, fmt: str | None, compression: str | None = None) -> bool:
    """Whether a file's pixels went through lossy compression: JPEG (and phones' MPO),
    JPEG-compressed TIFF, and WebP whose image chunk is VP8 (lossy) rather than VP8L."""
    if fmt in _LOSSY_FORMATS or (fmt == "TIFF" and compression == "jpeg"):
        return True
    if fmt != "WEBP":
        return False
    with open(path, "rb") as f:
        data = f.read(1 << 16)
    # RIFF container: 12-byte header, then chunks of (fourcc, little-endian size, data).
    pos = 12
    while pos + 8 <= len(data):
        fourcc, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        if fourcc in (b"VP8 ", b"VP8L"):
            return fourcc == b"VP8 "
        pos += 8 + size + (size & 1)
    return False


def _real_exif(exif: Image.Exif) -> bytes | None:
    """The EXIF worth carrying to the output: no orientation (applied to the pixels) and
    none of a TIFF container's own layout tags."""
    for tag in [t for t in exif if t in _CONTAINER_TAGS]:
        del exif[tag]
    return exif.tobytes() if len(exif) else None


def suffix_for(fmt: str) -> str:
    return SUFFIX_FOR[fmt]


def from_pil(img: Image.Image) -> Picture:
    """A Pillow image (already loaded and oriented) as a :class:`Picture`."""
    notes = []
    icc = img.info.get("icc_profile")
    mode = img.mode
    if mode in _SIXTEEN_BIT:
        arr = np.asarray(img)
        if arr.dtype != np.uint16:
            arr = np.clip(np.rint(arr.astype(np.float64)), 0, 65535).astype(np.uint16)
        return Picture(arr.reshape(arr.shape[0], arr.shape[1], 1), icc=icc, notes=notes)
    if mode == "CMYK":
        # The CMYK profile does not describe the RGB result, so it is not carried over.
        icc = None
        notes.append("CMYK converted to RGB")
        img = img.convert("RGB")
    elif mode == "P" or mode == "PA":
        has_alpha = mode == "PA" or "transparency" in img.info
        img = img.convert("RGBA" if has_alpha else "RGB")
    elif mode == "1":
        img = img.convert("L")
    elif mode == "La":
        img = img.convert("LA")
    elif mode == "RGBa":
        img = img.convert("RGBA")
    elif mode not in {"L", "LA", "RGB", "RGBA"}:
        if mode == "LAB":
            icc = None
        img = img.convert("RGBA" if "A" in mode else "RGB")
    arr = np.asarray(img)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return Picture(np.ascontiguousarray(arr), icc=icc, notes=notes)


def read(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> Picture:
    """Read an image file; :class:`BadImageError` says which file and what is wrong."""
    path = Path(path)
    if not path.exists():
        raise BadImageError(f"{path}: no such file")
    if path.is_dir():
        raise BadImageError(f"{path}: is a directory")
    try:
        if path.stat().st_size == 0:
            raise BadImageError(f"{path}: empty file (0 bytes)")
        # Pillow's own limit (Image.MAX_IMAGE_PIXELS) is the host program's setting: srup's
        # CLI lifts it once at start-up, a library call leaves it as it finds it.
        img = Image.open(path)
        with img:
            w, h = img.size
            if w * h > max_pixels:
                raise BadImageError(
                    f"{path}: {w}×{h} = {w * h / 1e6:.0f} megapixels is over the limit of "
                    f"{max_pixels / 1e6:.0f}; raise --max-pixels if the file is trusted"
                )
            fmt = img.format
            compression = img.info.get("compression")
            notes = []
            if getattr(img, "n_frames", 1) > 1:
                notes.append(f"animated ({img.n_frames} frames): only the first is upscaled")
            img.load()
            exif = img.getexif()
            oriented = ImageOps.exif_transpose(img)
            picture = from_pil(oriented)
    except BadImageError:
        raise
    except UnidentifiedImageError:
        raise BadImageError(f"{path}: not an image Pillow can read (unknown format)") from None
    except OSError as e:
        if e.errno is not None:  # the OS refused (permissions, I/O error), not the decoder
            raise BadImageError(f"{path}: cannot read ({e.strerror or e})") from None
        raise BadImageError(f"{path}: damaged or incomplete image ({e})") from None
    except Image.DecompressionBombError as e:
        raise BadImageError(
            f"{path}: refused by Pillow's Image.MAX_IMAGE_PIXELS ({e}); raise it if the file "
            "is trusted"
        ) from None
    except (ValueError, SyntaxError) as e:
        raise BadImageError(f"{path}: damaged or incomplete image ({e})") from None
    picture.exif = _real_exif(exif)
    picture.format = fmt
    picture.compression = compression if fmt == "TIFF" else None
    picture.lossy = is_lossy(path, fmt, compression)
    picture.notes[:0] = notes
    return picture


def _fit_layout(picture: Picture, fmt: str) -> Picture:
    """Convert to what ``fmt`` can hold: drop alpha for JPEG, 8 bits where 16 cannot go."""
    px = picture.pixels
    if px.dtype == np.uint16 and fmt not in _HOLDS_16:
        px = to_8bit(px)
    layout = LAYOUTS[px.shape[2]]
    holds = _HOLDS[fmt]
    if layout not in holds:
        gray, alpha = layout in {"L", "LA"}, layout in {"LA", "RGBA"}
        if alpha and ("RGBA" in holds or "LA" in holds) and gray:
            px = np.concatenate([px[..., :1]] * 3 + [px[..., 1:]], axis=2)
        elif alpha:
            px = px[..., :-1]
            if LAYOUTS[px.shape[2]] not in holds:
                px = np.concatenate([px] * 3, axis=2)
        else:
            px = np.concatenate([px] * 3, axis=2)
    return replace(picture, pixels=px)


def to_pil(picture: Picture) -> Image.Image:
    px = picture.pixels
    if px.dtype == np.uint16:
        if px.shape[2] != 1:
            raise OutputError("16-bit colour images cannot be written by Pillow")
        img = Image.fromarray(px[:, :, 0])
    else:
        img = Image.fromarray(px[:, :, 0] if px.shape[2] == 1 else px, LAYOUTS[px.shape[2]])
    if picture.icc:
        img.info["icc_profile"] = picture.icc
    return img


@contextmanager
def atomic_write(path: Path) -> Iterator[IO[bytes]]:
    """A binary file that appears at ``path`` only once it is complete."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".srup-part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write(
    picture: Picture,
    path: str | os.PathLike[str],
    fmt: str | None = None,
    quality: int = 95,
) -> None:
    """Write ``picture`` atomically; the format comes from ``fmt`` or the extension."""
    path = Path(path)
    fmt = fmt or format_for(path)
    write_file(path, _encoder(_fit_layout(picture, fmt), fmt, quality))


def write_file(path: str | os.PathLike[str], fill: Callable[[IO[bytes]], object]) -> None:
    """Write a file atomically with ``fill(f)``; an OS failure (full disk, permissions)
    becomes an :class:`OutputError` naming the file."""
    path = Path(path)
    try:
        with atomic_write(path) as f:
            fill(f)
    except OSError as e:
        raise OutputError(f"{path}: cannot write ({e.strerror or e})") from None


def _tiff_compression(picture: Picture) -> str:
    """The input TIFF's compression where Pillow can write it for this picture (JPEG only
    for 8-bit L/RGB), else lossless LZW."""
    c = picture.compression
    if c not in _TIFF_WRITES:
        return _TIFF_DEFAULT
    if c == "jpeg" and (picture.pixels.dtype != np.uint8 or picture.layout not in {"L", "RGB"}):
        return _TIFF_DEFAULT
    return c


def _encoder(picture: Picture, fmt: str, quality: int) -> Callable[[IO[bytes]], None]:
    """What writes ``picture`` (already in a layout ``fmt`` holds) to an open file."""
    if fmt == "PNG":
        # zlib level 1, as OpenCV, deflated on every core: 0.12 s for a 4K frame where
        # Pillow takes 0.46 s on one (see srup.png).
        return lambda f: write_png(f, picture.pixels, icc=picture.icc, exif=picture.exif)
    img = to_pil(picture)
    kwargs: dict[str, object] = {}
    if picture.icc and fmt in {"JPEG", "WEBP", "TIFF"}:
        kwargs["icc_profile"] = picture.icc
    if picture.exif and fmt in {"JPEG", "WEBP", "TIFF"}:
        kwargs["exif"] = picture.exif
    if fmt in {"JPEG", "WEBP"}:
        kwargs["quality"] = quality
    if fmt == "TIFF":
        kwargs["compression"] = _tiff_compression(picture)
        if kwargs["compression"] == "jpeg":
            kwargs["quality"] = quality
    if fmt == "JPEG" and quality >= 90:
        kwargs["subsampling"] = 0
    return lambda f: img.save(f, format=fmt, **kwargs)

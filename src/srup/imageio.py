"""Reading and writing pictures with Pillow.

Reading applies EXIF orientation, keeps the ICC profile and the rest of the EXIF, and turns
every Pillow mode into one of four layouts (L, LA, RGB, RGBA) of uint8 or, for 16-bit
grayscale, uint16. Writing is atomic: a temporary file in the target folder, then a rename,
so a reader never sees half a file, even after Ctrl-C or a full disk.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import BadImageError, OutputError
from .png import write_png

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "EXTENSIONS",
    "Picture",
    "atomic_write",
    "format_for",
    "from_pil",
    "read",
    "to_pil",
    "write",
]

DEFAULT_MAX_PIXELS = 150_000_000
LAYOUTS = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
EXTENSIONS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}
_SUFFIX = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "TIFF": ".tif", "BMP": ".bmp"}
_SIXTEEN_BIT = {"I;16", "I;16B", "I;16L", "I;16N", "I", "F"}
# Layouts each format can hold; others are converted by _fit_layout.
_HOLDS = {
    "JPEG": {"L", "RGB"},
    "WEBP": {"RGB", "RGBA"},
    "BMP": {"L", "RGB", "RGBA"},
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

    @property
    def layout(self) -> str:
        return LAYOUTS[self.pixels.shape[2]]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), as Pillow says it."""
        return self.pixels.shape[1], self.pixels.shape[0]


def format_for(path: Path) -> str:
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise OutputError(
            f"{path}: unknown output extension {path.suffix!r}; "
            f"use one of {', '.join(sorted(set(EXTENSIONS)))}"
        )
    return fmt


def suffix_for(fmt: str) -> str:
    return _SUFFIX[fmt]


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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            old_limit = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None  # srup applies its own limit, below
            try:
                img = Image.open(path)
            finally:
                Image.MAX_IMAGE_PIXELS = old_limit
        with img:
            w, h = img.size
            if w * h > max_pixels:
                raise BadImageError(
                    f"{path}: {w}×{h} = {w * h / 1e6:.0f} megapixels is over the limit of "
                    f"{max_pixels / 1e6:.0f}; raise --max-pixels if the file is trusted"
                )
            fmt = img.format
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
    except (ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise BadImageError(f"{path}: damaged or incomplete image ({e})") from None
    exif.pop(0x0112, None)  # orientation was applied to the pixels
    picture.exif = exif.tobytes() if len(exif) else None
    picture.format = fmt
    picture.notes[:0] = notes
    return picture


def _fit_layout(picture: Picture, fmt: str) -> Picture:
    """Convert to what ``fmt`` can hold: drop alpha for JPEG, 8 bits where 16 cannot go."""
    px = picture.pixels
    if px.dtype == np.uint16 and fmt not in _HOLDS_16:
        px = np.clip(np.rint(px / 257.0), 0, 255).astype(np.uint8)
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
    encode = _encoder(_fit_layout(picture, fmt), fmt, quality)
    try:
        with atomic_write(path) as f:
            encode(f)
    except OSError as e:
        raise OutputError(f"{path}: cannot write ({e.strerror or e})") from None


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
    if fmt == "JPEG" and quality >= 90:
        kwargs["subsampling"] = 0
    return lambda f: img.save(f, format=fmt, **kwargs)

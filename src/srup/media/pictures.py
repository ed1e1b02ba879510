"""Reading and writing pictures: every file Pillow opens comes out as it went in.

Reading (:func:`read`) refuses what is not a regular file before opening it for reading
(a FIFO would block, ``/dev/zero`` never ends), applies the EXIF orientation to the pixels,
and turns every Pillow mode into one of four layouts (L, LA, RGB, RGBA) of uint8 or uint16
(:mod:`srup.media.modes`: colour keys become alpha, CMYK goes through its ICC profile, 32-bit
and float samples follow a stated rule); 16-bit colour, which Pillow truncates, is read by
OpenCV (:mod:`srup.media.deep`); a 16-bit file OpenCV cannot decode (a PNG whose CRCs fail,
which Pillow does not check) is refused, never delivered at 8 bits. The ICC profile, the
EXIF that describes the content (:mod:`srup.media.exif`: salvaged tag by tag, never fatal) and
the DPI (:mod:`srup.media.dpi`, x and y swapped where the orientation turns the picture a
quarter) travel with the pixels; a TIFF's own layout tags, the orientation (applied) and
the resolution tags (become :attr:`Picture.dpi`) do not, nor do XMP, comments and PNG text
chunks (noted). Library warnings, Pillow's log records and libtiff's messages become the
file's notes instead of stderr lines.

Writing (:func:`write`) converts to what the format holds (:func:`srup.media.modes.fit`: 16 bits
rounded to 8, alpha flattened onto a background), writes the metadata the format can carry
(EXIF's PixelXDimension/PixelYDimension set to the size written; a grey ICC profile left
out where grey is written as colour) and returns a note for each thing it could not. Files
appear atomically (:mod:`srup.files`), so a reader never sees half a file, even after Ctrl-C
or a full disk.
"""

from __future__ import annotations

import errno
import inspect
import io
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, UnidentifiedImageError

from srup._moved import names_moved_from
from srup.choices import EXTENSIONS, IMAGE_SUFFIXES, SUFFIX_FOR, VIDEO_SUFFIXES
from srup.errors import BadImageError, OutputError, SrupError, UsageError
from srup.files import (
    atomic_write,  # noqa: F401  (srup.imageio.atomic_write, until 0.3)
    write_file,
)
from srup.media import deep, libtiff, modes
from srup.media import dpi as dpi_field
from srup.media import exif as exif_tags
from srup.media.modes import LAYOUTS, to_8bit
from srup.media.png import write_png
from srup.media.tiffexif import attach
from srup.notes import collect
from srup.units import over_max_pixels

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "FRAME_BOUND",
    "Picture",
    "Probe",
    "check_size",
    "format_for",
    "from_pil",
    "image_files",
    "is_lossy",
    "not_regular",
    "probe",
    "read",
    "scan",
    "to_pil",
    "write",
]

DEFAULT_MAX_PIXELS = 150_000_000
MEDIA_SUFFIXES = IMAGE_SUFFIXES | VIDEO_SUFFIXES
# Pages counted for the "animated" note at most: a TIFF of 200,000 pages is not read
# through to say so.
FRAME_BOUND = 100
WHITE = (255, 255, 255)
# The largest width or height each format's encoder takes (libjpeg-turbo, libwebp).
_MAX_SIDE = {"JPEG": 65_500, "WEBP": 16_383}
# TIFF compressions Pillow writes; others (or none known) get lossless LZW.
_TIFF_WRITES = {"raw", "tiff_lzw", "tiff_adobe_deflate", "packbits", "jpeg"}
_TIFF_DEFAULT = "tiff_lzw"
# Tags that describe a TIFF container's own layout (sizes, strips, tiles, sample format,
# the embedded ICC profile): a TIFF's IFD0 is what Pillow returns as its "EXIF", and these
# would describe the input file, not the picture written. Camera, date and GPS tags stay.
_CONTAINER_TAGS = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 277, 278, 279, 280, 281, 284, 288}
    | {289, 290, 291, 292, 293, 317, 320, 322, 323, 324, 325, 330, 338, 339, 340, 341, 347}
    | {530, 531, 532, 34675}
)
# Not carried as EXIF: the orientation is applied to the pixels, the resolution becomes
# Picture.dpi (which the engine scales and the writer puts back).
_NOT_CARRIED = _CONTAINER_TAGS | {exif_tags.ORIENTATION, *exif_tags.RESOLUTION_TAGS}
# GeoTIFF's georeferencing (ModelPixelScale, ModelTiepoint, ModelTransformation, the
# GeoKey directory and its parameters) maps the input's pixel grid to the ground: on a
# resized picture it would put every pixel in the wrong place, so it is left out, noted.
_GEOTIFF_TAGS = frozenset({33550, 33922, 34264, 34735, 34736, 34737})
_FILE_KINDS = {
    stat.S_IFDIR: "is a directory",
    stat.S_IFIFO: "not a regular file (a named pipe)",
    stat.S_IFCHR: "not a regular file (a character device)",
    stat.S_IFBLK: "not a regular file (a block device)",
    stat.S_IFSOCK: "not a regular file (a socket)",
}


@dataclass
class Picture:
    """``pixels``: ``(H, W, C)`` uint8 or uint16, C = 1 (L), 2 (LA), 3 (RGB) or 4 (RGBA),
    alpha straight (not premultiplied). ``icc``: the ICC profile the pixels are in (None:
    sRGB by convention). ``exif``: EXIF bytes (``Exif\\0\\0`` + a TIFF header and IFDs) of
    what describes the content, known to read back. ``dpi``: dots per inch (x, y) as the
    file states them, None when it does not. ``notes``: what a user should know about how
    the file was read (animation, conversions, EXIF left out, library warnings).
    ``quantization``: a JPEG's quantization tables (``{index: 64 ints}``, natural
    row-major order in Pillow 13; :func:`srup.imaging.estimate.jpeg_quality` reads zigzag order
    too), keyed by use: 0 the table of the first component (the luma), 1 the next table a
    component uses (the chroma), whatever ids the file gives them, tables no component
    uses left out; what ``--denoise auto`` estimates the file's quality from
    (:mod:`srup.models.denoise`); None for every other file."""

    pixels: np.ndarray
    icc: bytes | None = None
    exif: bytes | None = None
    format: str | None = None
    notes: list[str] = field(default_factory=list)
    compression: str | None = None  # the input TIFF's, kept for TIFF output
    lossy: bool = False  # the file was lossy-compressed (JPEG, lossy WebP, JPEG-in-TIFF)
    dpi: tuple[float, float] | None = None  # dots per inch (x, y) as read from the file
    quantization: dict[int, tuple[int, ...]] | None = None  # a JPEG's tables, as read

    @property
    def layout(self) -> str:
        return LAYOUTS[self.pixels.shape[2]]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), as Pillow says it."""
        return self.pixels.shape[1], self.pixels.shape[0]


@dataclass(frozen=True)
class Probe:
    """What a picture file's header says, without decoding pixels: ``width`` and
    ``height`` in pixels as stored (before EXIF orientation, which may swap them), and the
    ``channels`` (1–4) and ``bytes_per_sample`` (1 or 2) of the :class:`Picture` that
    :func:`read` makes of it; ``format``: Pillow's name (PNG, JPEG, TIFF, ...); ``lossy``:
    as :attr:`Picture.lossy`."""

    width: int
    height: int
    channels: int
    bytes_per_sample: int
    format: str | None
    lossy: bool = False  # the file is lossy-compressed, as Picture.lossy (is_lossy)


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


def suffix_for(fmt: str) -> str:
    return SUFFIX_FOR[fmt]


_KIND_NAMES = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}


def not_regular(path: Path) -> str | None:
    """Why ``path`` is not a regular file (links followed), in a few words, as a batch
    reports a file it left out ("a named pipe (FIFO), not a regular file", "a broken
    symbolic link (its target does not exist)", "a symbolic link loop"); None when it is
    one. One ``stat``: never opens it."""
    try:
        kind = stat.S_IFMT(os.stat(path).st_mode)
    except FileNotFoundError:
        if os.path.islink(path):
            return "a broken symbolic link (its target does not exist)"
        return "no such file"
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "a symbolic link loop"
        return f"cannot be read ({e.strerror or e})"
    if kind == stat.S_IFREG:
        return None
    return f"{_KIND_NAMES.get(kind, 'something else')}, not a regular file"


def scan(folder: Path, recursive: bool = False) -> tuple[list[Path], list[Path]]:
    """``(pictures, left_out)`` in ``folder``: image and video files by suffix, sorted, and
    the other entries that are not folders (hidden files, other suffixes, and what is not a
    regular file: FIFOs, devices, broken links, link loops; :func:`not_regular` says why)
    that a batch leaves out and reports."""
    pattern = folder.rglob("*") if recursive else folder.glob("*")
    images, others = [], []
    for p in sorted(pattern):
        if p.is_dir():  # folders: the batch's own business (--recursive)
            continue
        if not_regular(p) is not None:
            others.append(p)
        elif p.suffix.lower() in MEDIA_SUFFIXES and not p.name.startswith("."):
            images.append(p)
        else:
            others.append(p)
    return images, others


def image_files(folder: Path, recursive: bool = False) -> list[Path]:
    """Image files in ``folder`` (by suffix), sorted; hidden files skipped."""
    return [p for p in scan(folder, recursive)[0] if p.suffix.lower() in IMAGE_SUFFIXES]


# Formats whose pixels went through lossy compression, whatever else the file says:
# - JPEG and phones' MPO;
# - AVIF and HEIF (AV1 and HEVC intra frames): both can be lossless, but only deep in the
#   coded stream (AV1's base_q_idx 0 with the identity matrix; HEVC's transquant bypass),
#   which srup does not parse, and lossless ones are rare: taken as lossy;
# - JPEG 2000: the wavelet a codestream names (COD marker: 9/7 irreversible, 5/3
#   reversible) does not say either: OpenJPEG and Pillow write lossy files with the
#   reversible 5/3 too, by cutting its layers short (Pillow's quality_layers), which no
#   header records; so every JPEG 2000 is taken as lossy.
# --denoise auto gives them Policy.lossy_without_tables (srup.models.denoise), and says why.
_LOSSY_FORMATS = {"JPEG", "MPO", "AVIF", "HEIF", "JPEG2000"}
_RIFF_CHUNKS_READ = 1 << 16  # a WebP's chunks walked at most (each one seek)


def _webp_lossy(f: IO[bytes]) -> bool:
    """Whether the WebP open in ``f`` (at its start) holds a lossy (VP8) image: its RIFF
    chunks walked by their sizes, with seeks (an ICC or XMP chunk of any size is skipped,
    not read), into the frames (ANMF) of an animation, whose image is the first VP8 or
    VP8L chunk inside each. Lossy when any frame is VP8; False when none is found."""
    header = f.read(12)
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WEBP":
        return False
    end = 8 + int.from_bytes(header[4:8], "little")  # the RIFF size counts from byte 8
    for fourcc, pos, size in _riff_chunks(f, 12, end):
        if fourcc == b"VP8 ":
            return True
        if fourcc == b"ANMF":
            # A frame: 16 bytes of position, size, duration and flags, then its own chunks
            # (ALPH, VP8 / VP8L) within the frame's size.
            for kind, _, _ in _riff_chunks(f, pos + 8 + 16, min(pos + 8 + size, end)):
                if kind == b"VP8 ":
                    return True
                if kind == b"VP8L":
                    break
    return False


def _riff_chunks(f, pos: int, stop: int):
    """``(fourcc, offset, size)`` of each RIFF chunk from ``pos`` up to ``stop``, read by
    seeking from header to header (at most ``_RIFF_CHUNKS_READ``; a chunk's data is padded to
    an even length)."""
    for _ in range(_RIFF_CHUNKS_READ):
        if pos + 8 > stop:
            return
        f.seek(pos)
        head = f.read(8)
        if len(head) < 8:
            return
        size = int.from_bytes(head[4:8], "little")
        yield head[:4], pos, size
        pos += 8 + size + (size & 1)


def is_lossy(path: Path, fmt: str | None, compression: str | None = None) -> bool:
    """Whether a file's pixels went through lossy compression: JPEG (and phones' MPO),
    JPEG-compressed TIFF, AVIF, HEIF and JPEG 2000 (see ``_LOSSY_FORMATS``: none of them
    says in its headers that it is lossless), and WebP whose image chunk (or any frame's, in
    an animation) is VP8 (lossy) rather than VP8L, found by walking its RIFF chunks
    whatever their sizes. A file that cannot be read again counts as not lossy."""
    if fmt in _LOSSY_FORMATS or (fmt == "TIFF" and compression == "jpeg"):
        return True
    if fmt != "WEBP":
        return False
    try:
        with open(path, "rb") as f:
            return _webp_lossy(f)
    except OSError:
        return False


# ------------------------------------------------------------------------------ reading


@contextmanager
def _regular_file(path: Path) -> Iterator[IO[bytes]]:
    """``path`` open for reading, once it is known to be a non-empty regular file. Opened
    non-blocking and checked again on the open descriptor, so a FIFO swapped in meanwhile
    is refused too, never waited on."""
    try:
        kind = stat.S_IFMT(os.stat(path).st_mode)
        if kind != stat.S_IFREG:
            raise BadImageError(f"{path}: {_FILE_KINDS.get(kind, 'not a regular file')}")
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise BadImageError(f"{path}: no such file") from None
    except OSError as e:
        raise BadImageError(f"{path}: cannot read ({e.strerror or e})") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = stat.S_IFMT(st.st_mode)
            raise BadImageError(f"{path}: {_FILE_KINDS.get(kind, 'not a regular file')}")
        if st.st_size == 0:
            raise BadImageError(f"{path}: empty file (0 bytes)")
        yield f


def _recognised(head: bytes) -> str | None:
    """The format whose signature ``head`` (a file's first bytes) has, by Pillow's own
    checks, or None."""
    Image.init()
    for fmt, (_, accept) in Image.OPEN.items():
        try:
            if accept is not None and accept(head):
                return fmt
        except Exception:  # a plugin's check that fails on short input: not this one
            continue
    return None


def _failure(path: Path, e: Exception, said: list[str], head: bytes = b"") -> BadImageError:
    """The one-line error for what a decoder raised on ``path`` (``head``: its first
    bytes); ``said``: what the libraries reported meanwhile (libtiff's reason for "decoder
    error -2", Pillow's log records)."""
    if isinstance(e, UnidentifiedImageError):
        fmt = _recognised(head)
        if fmt is None:
            return BadImageError(f"{path}: not an image Pillow can read (unknown format)")
        logged = [n.split(": ", 1)[-1] for n in said if n.startswith("PIL said: ")]
        reason = "; ".join(logged) or "a layout or encoding it does not support"
        return BadImageError(
            f"{path}: not an image Pillow can read (a {fmt} file it cannot decode: {reason})"
        )
    if isinstance(e, Image.DecompressionBombError):
        return BadImageError(
            f"{path}: refused by Pillow's Image.MAX_IMAGE_PIXELS ({e}); raise it if the file "
            "is trusted"
        )
    if isinstance(e, OSError) and e.errno is not None:  # the OS refused, not the decoder
        return BadImageError(f"{path}: cannot read ({e.strerror or e})")
    reason = " ".join(str(e).split()) or type(e).__name__
    if not isinstance(e, (OSError, ValueError, SyntaxError, EOFError)):
        reason = f"{type(e).__name__}: {reason}"  # a library's own failure (struct.error...)
    details = [n.split(": ", 1)[-1] for n in said if n.startswith("libtiff")]
    if details:
        reason += f"; libtiff: {'; '.join(details)}"
    return BadImageError(f"{path}: damaged or incomplete image ({reason})")


def _head(f: IO[bytes]) -> bytes:
    """The first 32 bytes of ``f`` (b"" when it cannot be read again)."""
    try:
        f.seek(0)
        return f.read(32)
    except Exception:
        return b""


@contextmanager
def _library_notes() -> Iterator[list[str]]:
    """Python warnings and libtiff messages raised in this thread meanwhile, as notes."""
    said: list[str] = []
    with collect(said), libtiff.messages(said):
        yield said


def _frames_note(img: Image.Image) -> str | None:
    """The note for a file of several frames or pages, "animated (N frames): ...",
    counting at most :data:`FRAME_BOUND` of them; None for a single picture."""
    if not getattr(img, "is_animated", False):
        return None
    tail = "only the first is upscaled"
    if not isinstance(inspect.getattr_static(type(img), "n_frames", None), property):
        return f"animated ({img.n_frames} frames): {tail}"  # a number from the header
    if img.format == "GIF":
        # Pillow counts a GIF's frames by skipping their data, without decoding it.
        return f"animated ({img.n_frames} frames): {tail}"
    # Others (TIFF) are counted by seeking page by page, each a small read: bounded.
    count = 1
    try:
        while count <= FRAME_BOUND:
            img.seek(count)
            count += 1
    except EOFError:
        return f"animated ({count} frames): {tail}"
    except Exception:  # a damaged page chain: what was counted stands
        return f"animated (at least {count} frames): {tail}"
    finally:
        img.seek(0)
    return f"animated (more than {FRAME_BOUND} frames): {tail}"


def _orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """``pixels`` turned as EXIF ``orientation`` (1–8) says, as ``ImageOps.exif_transpose``."""
    turned = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
        8: lambda a: np.rot90(a, 1),
    }.get(orientation)
    return pixels if turned is None else np.ascontiguousarray(turned(pixels))


def _file_exif(img: Image.Image, notes: list[str]) -> Image.Exif | None:
    """The salvaged EXIF of ``img`` (loaded): for a TIFF its IFD0, else the EXIF block."""
    try:
        source: Image.Exif | bytes | None = img.getexif()
    except Exception:  # Pillow's parser refuses the block: salvage what can be read of it
        source = img.info.get("exif")
    found, said = exif_tags.salvage(source)
    notes.extend(said)
    raw = img.info.get("exif")
    if found is None and not said and raw and len(raw) > 14:  # Pillow read no tag at all
        notes.append("EXIF unreadable: left out")
    if found is None or exif_tags.ORIENTATION not in found:
        value = exif_tags.raw_orientation(raw)
        if value is not None and value != 1:
            found = found if found is not None else Image.Exif()
            found[exif_tags.ORIENTATION] = value
            notes.append(f"EXIF orientation {value} read from its entry and applied")
    return found


def _not_carried(img: Image.Image, fmt: str | None) -> str | None:
    """The note for metadata ``img``'s file has that no output carries: XMP (JPEG, PNG,
    WebP; a TIFF's travels in its IFD0 with the EXIF), comments, PNG text chunks. Not
    carried, as XMP states the old size and format of the picture among its properties."""
    info, found = img.info, []
    if info.get("xmp") and fmt != "TIFF":
        found.append("XMP metadata")
    if info.get("comment"):
        found.append("comment")
    text = getattr(img, "text", None) if fmt == "PNG" else None
    keys = [k for k in (text or {}) if k != "XML:com.adobe.xmp"]
    if keys:
        shown = ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")
        found.append(f"text chunks ({shown})")
    return f"{', '.join(found)} not carried" if found else None


def _carried_exif(found: Image.Exif | None, notes: list[str]) -> bytes | None:
    """The EXIF bytes to carry to the output: ``found`` less what the picture no longer
    needs (:data:`_NOT_CARRIED`) and less GeoTIFF georeferencing, with a note for that."""
    if found is not None and _GEOTIFF_TAGS & set(found):
        notes.append("GeoTIFF georeferencing left out: it describes the input's pixel grid")
    carried = exif_tags.without(found, _NOT_CARRIED | _GEOTIFF_TAGS)
    if carried is None:
        return None
    exif, said = exif_tags.encode(carried)
    notes.extend(said)
    return exif


def _quantization(img: Image.Image) -> dict[int, tuple[int, ...]] | None:
    """A JPEG's quantization tables, keyed by use: 0 the table the frame header (SOF)
    assigns its first component (the luma of a YCbCr or grey JPEG), 1 the next other table
    a component uses, and so on; tables no component uses are left out. Pillow's
    ``quantization`` is keyed by the tables' ids instead, and ``layer`` holds each
    component's (id, h, v, table id); where ``layer`` is missing or names a table the file
    does not define, Pillow's ids are kept. Read while the file is open; None for other
    formats or tables that are not 64 integers."""
    tables = getattr(img, "quantization", None)
    if not isinstance(tables, dict) or not tables:
        return None
    try:
        by_id = {int(k): tuple(int(v) for v in table) for k, table in tables.items()}
    except (TypeError, ValueError):
        return None
    try:
        used = [int(component[3]) for component in getattr(img, "layer", None) or ()]
    except (TypeError, ValueError, IndexError):
        used = []
    order = list(dict.fromkeys(used))
    if not order or any(t not in by_id for t in order):
        return by_id
    return {i: by_id[t] for i, t in enumerate(order)}


def _decode(f: IO[bytes], path: Path, max_pixels: int) -> Picture:
    head = f.read(64)
    f.seek(0)
    notes: list[str] = []
    with Image.open(f) as img:
        w, h = img.size
        if w * h > max_pixels:
            raise BadImageError(over_max_pixels(path, w, h, max_pixels))
        fmt, compression = img.format, img.info.get("compression")
        tables = _quantization(img)
        deep_layout = deep.colour_layout(img, head)
        animated = _frames_note(img)
        if animated:
            notes.append(animated)
        # Decoded by Pillow even where OpenCV gives the pixels (16-bit colour): that refuses
        # damaged data in one place, and reads what PNG stores after its pixels (eXIf).
        img.load()
        found = _file_exif(img, notes)
        orientation = exif_tags.orientation(found, notes)
        dpi = dpi_field.read(img, found)
        if orientation in (5, 6, 7, 8) and dpi:  # turned a quarter: x and y change places
            dpi = dpi[1], dpi[0]
        not_carried = _not_carried(img, fmt)
        if not_carried:
            notes.append(not_carried)
        pixels = None
        if deep_layout:
            f.seek(0)
            data = f.read()
            # Pillow read it (at 8 bits) without checking the CRCs of a PNG's image data,
            # which libpng inside OpenCV does, printing on stderr: checked here first.
            damage = deep.png_damage(data) if fmt == "PNG" else None
            pixels = None if damage else deep.decode(data, deep_layout)
            icc = img.info.get("icc_profile") or None
            if pixels is None:  # never its 16-bit samples truncated to 8, damaged rows and all
                reason = damage or "OpenCV cannot decode its 16-bit samples"
                raise BadImageError(f"{path}: damaged or incomplete image ({reason})")
            if deep_layout == "RGB" and "transparency" in img.info:
                keyed = modes.with_key(pixels, img.info["transparency"])
                pixels = pixels if keyed is None else keyed
        if pixels is None:
            png = deep.png_header(head)
            low_bits = png[0] if png and png[1] == 0 and png[0] < 8 else None
            try:
                pixels, icc, said = modes.from_pil(img, low_bits)
            except BadImageError as e:  # a refusal of the samples: name the file
                raise BadImageError(f"{path}: {e}") from None
            notes.extend(said)
    exif = _carried_exif(found, notes)
    return Picture(
        _orient(pixels, orientation),
        icc=icc,
        exif=exif,
        format=fmt,
        notes=notes,
        compression=compression if fmt == "TIFF" else None,
        lossy=is_lossy(path, fmt, compression),
        dpi=dpi,
        quantization=tables,
    )


def read(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> Picture:
    """Read a picture file as a :class:`Picture` (see the module docstring for what each
    mode becomes). Raises :class:`BadImageError`, naming the file and what is wrong, for
    anything that is not a regular, readable picture of at most ``max_pixels`` pixels;
    ``MemoryError`` where decoding needs more memory than there is."""
    path = Path(path)
    with _regular_file(path) as f, _library_notes() as said:
        try:
            picture = _decode(f, path, max_pixels)
        except (BadImageError, MemoryError):
            raise
        except Exception as e:  # decoders raise anything on hostile input: this file's error
            raise _failure(path, e, said, _head(f)) from None
    picture.notes.extend(said)
    return picture


def probe(path: str | os.PathLike[str]) -> Probe:
    """Read ``path``'s header only (no pixels, no page count); :class:`BadImageError` when
    it is not a regular file or not a picture Pillow can open."""
    path = Path(path)
    with _regular_file(path) as f, _library_notes() as said:
        try:
            head = f.read(64)
            f.seek(0)
            with Image.open(f) as img:
                (w, h), fmt = img.size, img.format
                layout = deep.colour_layout(img, head)
                channels, sample = (len(layout), 2) if layout else modes.shape_of(img)
                compression = img.info.get("compression")
            lossy = is_lossy(path, fmt, compression)
        except (BadImageError, MemoryError):
            raise
        except Exception as e:
            raise _failure(path, e, said, _head(f)) from None
    return Probe(w, h, channels, sample, fmt, lossy)


def from_pil(img: Image.Image, orient: bool = False) -> Picture:
    """A Pillow image (loaded) as a :class:`Picture`, as :func:`read` converts modes; its
    ICC profile and DPI come along. ``orient``: also as :func:`read` does, turn the pixels
    as the image's EXIF orientation says and carry its EXIF (salvaged tag by tag, less the
    orientation, now applied), with notes; otherwise the image is taken as already oriented
    and its EXIF is left behind. Raises :class:`BadImageError` for float samples that are
    NaN or infinite."""
    pixels, icc, notes = modes.from_pil(img)
    dpi = dpi_field.clean(img.info.get("dpi"))
    if not orient:
        return Picture(pixels, icc=icc, notes=notes, dpi=dpi)
    found = _file_exif(img, notes)
    orientation = exif_tags.orientation(found, notes)
    if orientation in (5, 6, 7, 8) and dpi:  # turned a quarter: x and y change places
        dpi = dpi[1], dpi[0]
    exif = _carried_exif(found, notes)
    return Picture(_orient(pixels, orientation), icc=icc, exif=exif, notes=notes, dpi=dpi)


def to_pil(picture: Picture) -> Image.Image:
    """``picture`` as a Pillow image: L, LA, RGB, RGBA, or I;16 for 16-bit grey; 16-bit
    grey with alpha (a 16-bit colour key) becomes 8-bit LA, rounded, as Pillow has no mode
    for it. Raises :class:`OutputError` for 16-bit colour, which Pillow has no mode for
    (write it with :func:`write`, as PNG or TIFF)."""
    px = picture.pixels
    if px.dtype == np.uint16 and px.shape[2] == 2:
        px = to_8bit(px)
    if px.dtype == np.uint16:
        if px.shape[2] != 1:
            raise OutputError(
                "Pillow has no mode for 16-bit colour or grey with alpha; write it with "
                "srup.media.pictures.write as PNG or TIFF"
            )
        img = Image.fromarray(np.ascontiguousarray(px[:, :, 0]))
    else:
        img = Image.fromarray(np.ascontiguousarray(px[:, :, 0] if px.shape[2] == 1 else px))
    if picture.icc:
        img.info["icc_profile"] = picture.icc
    if picture.dpi:
        img.info["dpi"] = picture.dpi
    if picture.exif:
        img.info["exif"] = picture.exif  # what Image.save(..., exif=img.info["exif"]) takes
    return img


# ------------------------------------------------------------------------------ writing


def check_size(path: str | os.PathLike[str], fmt: str, size: tuple[int, int]) -> None:
    """:class:`~srup.errors.OutputError` when a picture of ``size`` (width, height) cannot
    be written as ``fmt`` to ``path``: over the largest side its encoder takes (JPEG
    65,500, WebP 16,383 pixels). :func:`write` checks it; :mod:`srup.batch` checks the
    output size with it before any upscaling."""
    side = _MAX_SIDE.get(fmt)
    w, h = size
    if side is not None and max(w, h) > side:
        raise OutputError(
            f"{path}: {w}×{h} is too large for {fmt}, which holds at most {side:,} pixels a "
            "side; write PNG or TIFF instead"
        )


def write(
    picture: Picture,
    path: str | os.PathLike[str],
    fmt: str | None = None,
    quality: int = 95,
    background: tuple[int, int, int] = WHITE,
    overwrite: bool = True,
) -> list[str]:
    """Write ``picture`` atomically as ``fmt`` (PNG, JPEG, WEBP, TIFF, BMP; default: from
    the extension) and return the notes it made: 16 bits rounded to 8, transparency
    flattened onto ``background`` (RGB, 0–255) for JPEG and BMP, EXIF tags or an ICC profile
    the format cannot hold, library warnings. ``quality``: JPEG/WebP (and JPEG-in-TIFF),
    1–100. ``overwrite``: replace an existing file; otherwise create or fail
    (:class:`srup.files.OutputExistsError`), as :func:`srup.files.atomic_write`. Raises
    :class:`UsageError` for an unknown extension, :class:`OutputError` when the file
    cannot be written (a picture larger than a JPEG's 65,500 or a WebP's 16,383 pixels a
    side is refused before anything is written)."""
    path = Path(path)
    fmt = fmt or format_for(path)
    check_size(path, fmt, picture.size)
    with _library_notes() as said:
        pixels, notes = modes.fit(picture.pixels, fmt, background)
        if picture.icc and pixels.shape[2] >= 3 and picture.icc[16:20] == b"GRAY":
            # Grey widened to RGB (WebP, flattened onto a colour, 16-bit TIFF): a grey
            # profile cannot describe colour pixels, and readers refuse or misread it.
            notes.append("grey ICC profile left out: the picture is written in colour")
            picture = replace(picture, icc=None)
        fill = _encoder(picture, pixels, fmt, quality, notes)

        def guarded(f: IO[bytes]) -> None:
            try:
                fill(f)
            except (SrupError, MemoryError):
                raise
            except OSError as e:
                if e.errno is not None:
                    raise  # the OS refused: write_file names the file and the reason
                raise _write_failure(path, fmt, e, said) from None
            except Exception as e:  # an encoder's own exception: this file's error
                raise _write_failure(path, fmt, e, said) from None

        write_file(path, guarded, overwrite=overwrite)
    return notes + said


def _write_failure(path: Path, fmt: str, e: Exception, said: list[str]) -> OutputError:
    reason = " ".join(str(e).split()) or type(e).__name__
    details = [n.split(": ", 1)[-1] for n in said if n.startswith("libtiff")]
    if details:
        reason += f"; libtiff: {'; '.join(details)}"
    return OutputError(f"{path}: cannot write {fmt} ({reason})")


def _tiff_compression(picture: Picture, pixels: np.ndarray) -> str:
    """The input TIFF's compression where Pillow can write it for these pixels (JPEG only
    for 8-bit L/RGB), else lossless LZW."""
    c = picture.compression
    if c not in _TIFF_WRITES:
        return _TIFF_DEFAULT
    if c == "jpeg" and (pixels.dtype != np.uint8 or pixels.shape[2] not in (1, 3)):
        return _TIFF_DEFAULT
    return c


def _exif_for(picture: Picture, fmt: str, notes: list[str]) -> bytes | None:
    """The EXIF block to write as ``fmt``: the picture's, with its DPI in the resolution
    tags where EXIF is how the format says it (WebP) or would otherwise contradict it, and
    its PixelXDimension/PixelYDimension (where present) giving the size written."""
    source, said = exif_tags.with_size(picture.exif, *picture.size)
    notes.extend(said)
    if picture.dpi and (fmt == "WEBP" or (picture.exif and fmt in {"JPEG", "PNG"})):
        found, _ = exif_tags.salvage(source)  # its notes come from encode() below
        source = exif_tags.with_resolution(found, picture.dpi)
    limit = exif_tags.JPEG_LIMIT if fmt == "JPEG" else None
    data, said = exif_tags.encode(source, limit, fmt)
    notes.extend(n for n in said if n not in notes)
    return data


def _encoder(
    picture: Picture, pixels: np.ndarray, fmt: str, quality: int, notes: list[str]
) -> Callable[[IO[bytes]], None]:
    """What writes ``pixels`` (already in a layout ``fmt`` holds) with ``picture``'s
    metadata to an open file; notes on metadata left out go to ``notes``."""
    icc, dpi = picture.icc, picture.dpi
    if fmt == "BMP":
        if picture.exif:
            notes.append("EXIF left out: BMP holds none")
        if icc and icc != modes.srgb_profile():
            notes.append("ICC profile left out: BMP holds none (colours may shift)")
        img = to_pil(Picture(pixels))
        # Pillow writes 96 dpi when given none: (0, 0) writes "unknown", as the input was.
        return lambda f: img.save(f, format="BMP", dpi=dpi or (0, 0))
    exif = _exif_for(picture, fmt, notes)
    if fmt == "PNG":
        # zlib level 1, as OpenCV, deflated on every core: 0.12 s for a 4K frame where
        # Pillow takes 0.46 s on one (see srup.media.png).
        return lambda f: write_png(f, pixels, icc=icc, exif=exif, dpi=dpi)
    if fmt == "TIFF":
        return _tiff_encoder(picture, pixels, exif, quality, notes)
    img = to_pil(Picture(pixels))
    kwargs: dict[str, object] = {"quality": quality}
    if icc:
        kwargs["icc_profile"] = icc
    if exif:
        kwargs["exif"] = exif
    if fmt == "JPEG":
        if quality >= 90:
            kwargs["subsampling"] = 0
        if dpi:  # JFIF density: whole numbers from 1 to 65535
            kwargs["dpi"] = tuple(min(65535, max(1, round(d))) for d in dpi)
    return lambda f: img.save(f, format=fmt, **kwargs)


def _tiff_encoder(
    picture: Picture, pixels: np.ndarray, exif: bytes | None, quality: int, notes: list[str]
) -> Callable[[IO[bytes]], None]:
    """TIFF: Pillow for 8-bit and 16-bit grey, tifffile for 16-bit colour; the EXIF added
    afterwards by :func:`srup.media.tiffexif.attach` (libtiff refuses Pillow's sub-IFDs)."""

    def encode() -> bytes:
        if pixels.dtype == np.uint16 and pixels.shape[2] > 1:
            compressed = picture.compression != "raw"
            return deep.write_tiff(pixels, picture.icc, picture.dpi, compressed)
        kwargs: dict[str, object] = {"compression": _tiff_compression(picture, pixels)}
        if kwargs["compression"] == "jpeg":
            kwargs["quality"] = quality
        if picture.icc:
            kwargs["icc_profile"] = picture.icc
        if picture.dpi:
            kwargs["dpi"] = picture.dpi
        buf = io.BytesIO()
        to_pil(Picture(pixels)).save(buf, format="TIFF", **kwargs)
        return buf.getvalue()

    def fill(f: IO[bytes]) -> None:
        data = encode()
        if exif:
            try:
                data = attach(data, exif_tags.tree(exif))
            except ValueError as e:
                notes.append(f"EXIF left out: {e}")
        f.write(data)

    return fill


# Names that lived here before 0.2.0 (old users import them through srup._moved's aliases).
__getattr__ = names_moved_from(
    __name__,
    "srup.imageio",
    {"FORMAT_NAMES": ("srup.choices", "FORMAT_NAMES")},
)

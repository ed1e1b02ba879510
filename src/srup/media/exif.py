"""EXIF that can never fail a file: read tag by tag, keep what is sound, say what is not.

Pillow parses EXIF lazily and trusts it: a pointer tag of the wrong type, a count that runs
past the block or a value of an impossible type surfaces as ``struct.error``,
``TypeError``, ``KeyError`` or ``AttributeError`` when a tag is read, when the orientation
is applied, or only when the block is written again. Here every tag is read and
re-serialised on its own, inside ``try``, so one bad tag costs that tag (with a note), never
the picture. Sub-IFDs (Exif, GPS, Interop) are checked the same way, entry by entry.

What is kept is an :class:`PIL.Image.Exif` that is known to serialise and to read back
(:func:`salvage`); :func:`encode` turns it into bytes for one output format, leaving out the
largest tags (maker notes, user comments) with a note when the format bounds the size
(a JPEG APP1 segment holds at most 65,533 bytes, ``Exif\\0\\0`` included).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from typing import Any

from PIL import ExifTags, Image

__all__ = [
    "JPEG_LIMIT",
    "ORIENTATION",
    "RESOLUTION_TAGS",
    "encode",
    "orientation",
    "resolution",
    "salvage",
    "tree",
    "with_resolution",
    "without",
]

ORIENTATION = 0x0112
X_RESOLUTION, Y_RESOLUTION, RESOLUTION_UNIT = 0x011A, 0x011B, 0x0128
RESOLUTION_TAGS = (X_RESOLUTION, Y_RESOLUTION, RESOLUTION_UNIT)
IFD_EXIF, IFD_GPS, IFD_INTEROP = 0x8769, 0x8825, 0xA005
# The largest EXIF block a JPEG can hold: an APP1 segment's 65,535 bytes less its length.
JPEG_LIMIT = 65_533
# Where each sub-IFD may sit: IFD0 points to Exif and GPS, the Exif IFD to Interop. A
# pointer anywhere else (the 0xA005 in IFD0) points into nothing once rewritten.
_POINTERS = {(): (IFD_EXIF, IFD_GPS), (IFD_EXIF,): (IFD_INTEROP,)}
_ALL_POINTERS = {IFD_EXIF, IFD_GPS, IFD_INTEROP, 0x014A}  # 0x014A: SubIFDs (TIFF layout)

Group = tuple[int, ...]  # the pointer tags from IFD0 down to an IFD: () is IFD0


def tag_name(group: Group, tag: int) -> str:
    """``UserComment``, ``GPSLatitude``, or ``0xA005`` for a tag Pillow has no name for."""
    names = ExifTags.GPSTAGS if group == (IFD_GPS,) else ExifTags.TAGS
    return names.get(tag) or f"0x{tag:04X}"


def _nest(group: Group, entries: dict[int, Any]) -> Image.Exif:
    """An Exif holding ``entries`` in ``group``'s IFD."""
    exif = Image.Exif()
    if not group:
        for tag, value in entries.items():
            exif[tag] = value
        return exif
    inner: dict[int, Any] = entries
    for pointer in reversed(group[1:]):
        inner = {pointer: inner}
    exif[group[0]] = inner
    return exif


def _walk(exif: Image.Exif) -> None:
    """Read every value and every sub-IFD, as a writer or a viewer would: raises whatever
    Pillow raises on a bad block."""
    for tag in list(exif):
        exif[tag]
    for pointer in (IFD_EXIF, IFD_GPS, IFD_INTEROP):
        dict(exif.get_ifd(pointer))


def _round_trips(exif: Image.Exif) -> bytes:
    """``exif`` as bytes, checked to read back; raises on any fault."""
    data = exif.tobytes()
    check = Image.Exif()
    check.load(data)
    _walk(check)
    return data


def _sound(group: Group, tag: int, value: Any) -> bool:
    try:
        _round_trips(_nest(group, {tag: value}))
    except Exception:  # Pillow's serialiser raises many types on a bad value
        return False
    return True


def _entries(source: Image.Exif, group: Group, notes: list[str]) -> dict[int, Any]:
    """The readable entries of one IFD of ``source``, sub-IFDs as nested dicts."""
    try:
        if not group:
            tags = {tag: None for tag in list(source)}
            read = source.__getitem__
        else:
            ifd = source.get_ifd(group[-1])
            tags = {tag: None for tag in ifd}
            read = ifd.__getitem__
    except Exception as e:
        notes.append(
            f"EXIF {tag_name((), group[-1]) if group else 'IFD0'} unreadable "
            f"({_reason(e)}): left out"
        )
        return {}
    kept: dict[int, Any] = {}
    for tag in sorted(tags):
        if tag in _POINTERS.get(group, ()):
            inner = _entries(source, (*group, tag), notes)
            if inner:
                kept[tag] = inner
            continue
        try:
            value = read(tag)
        except Exception as e:
            notes.append(f"EXIF {tag_name(group, tag)} unreadable ({_reason(e)}): left out")
            continue
        if tag in _ALL_POINTERS or isinstance(value, dict):
            notes.append(f"EXIF {tag_name(group, tag)} is a pointer out of place: left out")
            continue
        kept[tag] = value
    return kept


def _reason(e: Exception) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _flatten(entries: dict[int, Any], group: Group = ()) -> Iterator[tuple[Group, int, Any]]:
    for tag, value in entries.items():
        if isinstance(value, dict):
            yield from _flatten(value, (*group, tag))
        else:
            yield group, tag, value


def _tree(items: list[tuple[Group, int, Any]]) -> dict[int, Any]:
    tree: dict[int, Any] = {}
    for group, tag, value in items:
        node = tree
        for pointer in group:
            node = node.setdefault(pointer, {})
        node[tag] = value
    return tree


def _build(items: list[tuple[Group, int, Any]]) -> Image.Exif:
    return _nest((), _tree(items))


def tree(data: bytes | None) -> dict[int, Any]:
    """The sound tags of EXIF ``data`` as IFD0 tag → value, each sub-IFD (Exif, GPS, and
    Interop inside Exif) as a nested dict: what :func:`srup.media.tiffexif.attach` takes."""
    return _tree(_items(data)[0]) if data else {}


def _items(source: Image.Exif | bytes) -> tuple[list[tuple[Group, int, Any]], list[str]]:
    """The sound ``(group, tag, value)`` entries of ``source`` and notes on the rest."""
    notes: list[str] = []
    try:
        if isinstance(source, Image.Exif):
            exif = source
        else:
            exif = Image.Exif()
            exif.load(bytes(source))
        items = list(_flatten(_entries(exif, (), notes)))
    except Exception as e:
        return [], [f"EXIF unreadable ({_reason(e)}): left out"]
    try:
        _round_trips(_build(items))
    except Exception:
        # Some value reads but does not write back: find it tag by tag.
        sound = []
        for group, tag, value in items:
            if _sound(group, tag, value):
                sound.append((group, tag, value))
            else:
                notes.append(f"EXIF {tag_name(group, tag)} malformed: left out")
        items = sound
        try:
            _round_trips(_build(items))
        except Exception as e:
            return [], [*notes, f"EXIF cannot be written back ({_reason(e)}): left out"]
    return items, notes


def salvage(source: Image.Exif | bytes | None) -> tuple[Image.Exif | None, list[str]]:
    """Every sound tag of ``source`` (EXIF bytes, with or without ``Exif\\0\\0``, or an
    :class:`~PIL.Image.Exif` that Pillow read from a file, e.g. a TIFF's IFD0) in a fresh
    Exif that serialises and reads back, and a note for each tag left out; ``(None,
    notes)`` when nothing is left. Never raises (``MemoryError`` and ``KeyboardInterrupt``
    aside)."""
    if source is None:
        return None, []
    items, notes = _items(source)
    return (_build(items) if items else None), notes


def without(exif: Image.Exif | None, tags: set[int] | frozenset[int]) -> Image.Exif | None:
    """``exif`` less ``tags`` of IFD0; None when nothing is left."""
    if exif is None:
        return None
    for tag in [t for t in exif if t in tags]:
        del exif[tag]
    return exif if len(exif) else None


def orientation(exif: Image.Exif | None, notes: list[str]) -> int:
    """The EXIF orientation, 1–8 (1 when absent); a value outside 1–8 is ignored with a
    note."""
    if exif is None or ORIENTATION not in exif:
        return 1
    value = exif[ORIENTATION]
    if isinstance(value, int) and 1 <= value <= 8:
        return value
    notes.append(f"EXIF orientation {value!r} is not 1–8: ignored")
    return 1


def _number(value: Any) -> float | None:
    if isinstance(value, tuple) and len(value) == 2:  # a bare (numerator, denominator)
        value = value[0] / value[1] if value[1] else math.nan
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def resolution(exif: Image.Exif | None) -> tuple[float, float] | None:
    """Dots per inch from EXIF's XResolution, YResolution and ResolutionUnit (2: inch,
    the default; 3: centimetre; 1, "no unit": None)."""
    if exif is None or X_RESOLUTION not in exif:
        return None
    unit = exif.get(RESOLUTION_UNIT, 2)
    scale = {2: 1.0, 3: 2.54}.get(unit) if isinstance(unit, int) else None
    x = _number(exif.get(X_RESOLUTION))
    y = _number(exif.get(Y_RESOLUTION, exif.get(X_RESOLUTION)))
    if scale is None or x is None or y is None:
        return None
    return x * scale, y * scale


def with_resolution(exif: Image.Exif | None, dpi: tuple[float, float]) -> Image.Exif:
    """``exif`` (or a new one) saying ``dpi`` in its resolution tags (unit: inch)."""
    from PIL.TiffImagePlugin import IFDRational

    exif = exif if exif is not None else Image.Exif()
    exif[X_RESOLUTION] = IFDRational(*IFDRational(dpi[0]).limit_rational(1 << 20))
    exif[Y_RESOLUTION] = IFDRational(*IFDRational(dpi[1]).limit_rational(1 << 20))
    exif[RESOLUTION_UNIT] = 2
    return exif


PIXEL_X_DIMENSION, PIXEL_Y_DIMENSION = 0xA002, 0xA003


def with_size(
    exif: Image.Exif | bytes | None, width: int, height: int
) -> tuple[Image.Exif | bytes | None, list[str]]:
    """``exif`` with the Exif IFD's PixelXDimension and PixelYDimension, where it has them,
    saying ``width`` × ``height`` (the size of the picture written, not of the file read),
    and notes on the tags left out as malformed meanwhile; ``exif`` unchanged, and no notes,
    when it has neither."""
    if exif is None:
        return None, []
    items, notes = _items(exif)
    size = {PIXEL_X_DIMENSION: width, PIXEL_Y_DIMENSION: height}
    if not any(group == (IFD_EXIF,) and tag in size for group, tag, _ in items):
        return exif, []
    return _build(
        [
            (group, tag, size[tag] if group == (IFD_EXIF,) and tag in size else value)
            for group, tag, value in items
        ]
    ), notes


def _size(value: Any) -> int:
    """About what ``value`` takes in a serialised IFD, for choosing what to leave out."""
    if isinstance(value, (bytes, str)):
        return len(value)
    if isinstance(value, tuple):
        return 8 * len(value)
    return 4


def encode(
    exif: Image.Exif | bytes | None, limit: int | None = None, fmt: str = ""
) -> tuple[bytes | None, list[str]]:
    """``exif`` as ``Exif\\0\\0``-prefixed bytes of at most ``limit`` bytes, and notes: the
    tags left out as malformed, then the largest ones left out until the block fits
    (``fmt`` names the format in the note). ``(None, notes)`` when nothing is left.
    Never raises."""
    if exif is None:
        return None, []
    if isinstance(exif, Image.Exif):
        try:
            exif = exif.tobytes()
        except Exception as e:
            return None, [f"EXIF cannot be written ({_reason(e)}): left out"]
    items, notes = _items(exif)
    data = _build(items).tobytes() if items else b""
    while limit is not None and len(data) > limit and items:
        biggest = max(items, key=lambda item: _size(item[2]))
        items.remove(biggest)
        group, tag, value = biggest
        notes.append(
            f"EXIF {tag_name(group, tag)} ({_size(value):,} bytes) left out: {fmt or 'the'} "
            f"format holds at most {limit:,} bytes of EXIF"
        )
        data = _build(items).tobytes() if items else b""
    return (data or None), notes


def raw_orientation(data: bytes | None) -> int | None:
    """The orientation (1–8) read straight from IFD0's entries of EXIF ``data`` (TIFF
    layout, with or without ``Exif\0\0``), or None. For EXIF that Pillow refuses whole
    (one tag whose value lies past the end makes it drop every tag): the orientation, a
    SHORT stored in its own entry, decides which way up the picture is, so it is worth
    finding on its own. Never raises."""
    if not data:
        return None
    tiff = bytes(data).removeprefix(b"Exif\x00\x00")
    try:
        order = {b"II": "<", b"MM": ">"}[tiff[:2]]
        (offset,) = struct.unpack_from(order + "I", tiff, 4)
        (count,) = struct.unpack_from(order + "H", tiff, offset)
        for i in range(min(count, 512)):
            tag, kind, n = struct.unpack_from(order + "HHI", tiff, offset + 2 + 12 * i)
            if tag == ORIENTATION and kind == 3 and n == 1:  # SHORT, one value, inline
                (value,) = struct.unpack_from(order + "H", tiff, offset + 2 + 12 * i + 8)
                return value if 1 <= value <= 8 else None
    except (KeyError, struct.error):
        return None
    return None

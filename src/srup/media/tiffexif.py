"""EXIF into a finished TIFF: its IFD0 tags and its Exif and GPS sub-IFDs.

Neither writer srup uses can do it whole: Pillow hands a compressed TIFF's tags to libtiff,
which refuses any sub-IFD ("Error setting from dictionary", for every camera EXIF), and
tifffile, which writes 16-bit colour, has no EXIF IFD at all. So the TIFF is written first
without EXIF, then :func:`attach` appends the EXIF entries, serialised by Pillow's own
``ImageFileDirectory_v2`` at their final offsets, and a copy of IFD0 with those entries
merged in (in tag order, as TIFF asks), and points the header at the new IFD0. The old
IFD0's entries are copied byte for byte, so every offset they hold (strips, ICC profile,
resolution) stays valid; the old table is left as a few unused bytes.
"""

from __future__ import annotations

import struct
from typing import Any

from PIL.TiffImagePlugin import ImageFileDirectory_v2

__all__ = ["attach"]


def attach(tiff: bytes, tags: dict[int, Any]) -> bytes:
    """``tiff`` (a classic, not Big, TIFF) with ``tags`` (IFD0 tag → value, a dict for a
    sub-IFD) added to its first IFD; tags the TIFF already has keep the TIFF's value.
    Raises ValueError for what is not a classic TIFF."""
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or struct.unpack(order + "H", tiff[2:4])[0] != 42:
        raise ValueError("not a classic TIFF")
    (first,) = struct.unpack(order + "I", tiff[4:8])
    (count,) = struct.unpack(order + "H", tiff[first : first + 2])
    table = tiff[first + 2 : first + 2 + 12 * count]
    after = tiff[first + 2 + 12 * count : first + 6 + 12 * count]  # the next IFD's offset
    entries = {
        struct.unpack(order + "H", table[i : i + 2])[0]: table[i : i + 12]
        for i in range(0, len(table), 12)
    }
    extra = ImageFileDirectory_v2(ifh=tiff[:8])
    for tag, value in tags.items():
        if tag not in entries:
            extra[tag] = value
    if not len(extra):
        return tiff
    start = len(tiff) + (len(tiff) & 1)  # TIFF offsets are word-aligned
    blob = extra.tobytes(start)
    (added,) = struct.unpack(order + "H", blob[:2])
    for i in range(2, 2 + 12 * added, 12):
        entries[struct.unpack(order + "H", blob[i : i + 2])[0]] = blob[i : i + 12]
    new_first = start + len(blob) + (len(blob) & 1)
    ifd = struct.pack(order + "H", len(entries)) + b"".join(entries[tag] for tag in sorted(entries))
    head = tiff[:4] + struct.pack(order + "I", new_first)
    pad1 = b"\0" * (start - len(tiff))
    pad2 = b"\0" * (new_first - start - len(blob))
    return head + tiff[8:] + pad1 + blob + pad2 + ifd + after

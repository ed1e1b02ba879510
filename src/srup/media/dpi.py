"""Print resolution (dots per inch), read from and written to each format's own field.

Read: PNG ``pHYs`` (unit metre), JPEG JFIF density (inch or cm) or else EXIF, TIFF
``XResolution``/``YResolution`` with ``ResolutionUnit`` (inch, the TIFF default, or cm; "no
unit" is no DPI), BMP pixels per metre, WebP (no field of its own) EXIF. Pillow's own
``info["dpi"]`` is not used where it invents a value: 72 for a JPEG whose EXIF has no
resolution, 1 for a TIFF without resolution tags. Written: PNG ``pHYs`` (by
:func:`srup.media.png.write_png`), JPEG JFIF (whole numbers: JFIF holds no fractions), TIFF
rational tags, BMP pixels per metre (none when the picture has no DPI: Pillow would write
96), WebP EXIF resolution tags. The engine scales the DPI with the picture (same print
size); this module only carries it.
"""

from __future__ import annotations

import math
from typing import Any

from PIL import Image

from srup.media import exif as exif_tags

__all__ = ["clean", "read"]


def clean(dpi: Any) -> tuple[float, float] | None:
    """``(x, y)`` as two positive finite floats, or None for anything else."""
    try:
        x, y = (float(v) for v in dpi)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not (math.isfinite(x) and math.isfinite(y) and x > 0 and y > 0):
        return None
    return x, y


def read(img: Image.Image, exif: Image.Exif | None) -> tuple[float, float] | None:
    """The DPI ``img``'s file states, or None. ``exif``: its salvaged EXIF (for a TIFF, its
    IFD0), read before orientation and resolution tags are taken out."""
    fmt = img.format
    if fmt in {"JPEG", "MPO"}:
        unit, density = img.info.get("jfif_unit"), img.info.get("jfif_density")
        if unit in (1, 2) and density:
            scale = 1.0 if unit == 1 else 2.54
            found = clean(tuple(v * scale for v in density))
            if found:
                return found
        return clean(exif_tags.resolution(exif))
    if fmt in {"TIFF", "WEBP"}:
        return clean(exif_tags.resolution(exif))
    if fmt in {"PNG", "BMP"}:
        return clean(img.info.get("dpi"))
    return clean(img.info.get("dpi")) or clean(exif_tags.resolution(exif))

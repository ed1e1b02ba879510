"""Counts and sizes as a person reads them in a message: ``76,800 pixels``, ``150
megapixels``, ``512 bytes``, ``1.0 KiB``, ``2.9 GiB``. A number that is not zero never
prints as 0, and a value over a limit never prints as the limit itself."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["bytes_text", "over_limit", "over_max_pixels", "pixels_text"]

_BINARY = (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10))


def _trim(number: float) -> str:
    """``150.0`` → ``150``, ``1.25`` → ``1.2``, ``1234.5`` → ``1,234.5``: one decimal at most."""
    return f"{number:,.1f}".removesuffix(".0")


def pixels_text(n: int) -> str:
    """A pixel count: exact under a million (``76,800 pixels``), else in megapixels with one
    decimal at most (``150 megapixels``, ``1.2 megapixels``)."""
    if n < 1_000_000:
        return f"{n:,} pixel{'' if n == 1 else 's'}"
    return f"{_trim(n / 1e6)} megapixels"


def bytes_text(n: int) -> str:
    """A size in bytes, in the largest binary unit it reaches, one decimal (``2.9 GiB``,
    ``1.0 KiB``); exact under 1 KiB (``512 bytes``)."""
    for unit, size in _BINARY:
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:,} byte{'' if n == 1 else 's'}"


def over_limit(value: int, limit: int, text: Callable[[int], str], unit: str) -> tuple[str, str]:
    """``value`` and ``limit`` as ``text`` writes them, or both exact in ``unit`` (``150,000,001
    pixels`` against ``150,000,000 pixels``) where rounding would print the same twice."""
    a, b = text(value), text(limit)
    if a == b:
        a, b = f"{value:,} {unit}", f"{limit:,} {unit}"
    return a, b


def over_max_pixels(path: object, width: int, height: int, limit: int) -> str:
    """The message for a ``width``×``height`` picture at ``path`` over ``--max-pixels``."""
    n, most = over_limit(width * height, limit, pixels_text, "pixels")
    return (
        f"{path}: {width}×{height} = {n} is over the limit of {most}; raise --max-pixels if "
        "the file is trusted"
    )

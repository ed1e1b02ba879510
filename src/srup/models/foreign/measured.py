"""Measurements of a weights file, remembered across runs by the file's content.

Measuring how far a network reaches (:mod:`srup.models.foreign.reach`) and how much memory
it works in (:mod:`srup.models.foreign.working`) runs it a few times on small probes:
milliseconds for a compact network, seconds for a deep one such as ESRGAN's 23-block
RRDBNet or HAT. The result depends only on the file's tensors and the measuring
code, so it is kept under ``reach/`` in srup's cache folder (``$SRUP_CACHE_DIR``, else
``$XDG_CACHE_HOME/srup``, else ``~/.cache/srup``), one file per weights file's SHA-256,
loader and :data:`VERSION`. A cache that cannot be read or written is ignored: it only saves time.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from srup.models.foreign.reach import PERIODS, Reach

__all__ = ["VERSION", "Measured", "cache_dir", "remembered"]

VERSION = 2  # raise when the measurement changes what it returns
# Bytes an output pixel: below, the output's own float32 planes (12 for RGB) are missing;
# above, more than any network keeps. A value outside would run a huge picture whole.
_BYTES_PER_OUT_PX = (4.0, 1e7)


class Measured(NamedTuple):
    """What srup measures of a weights file: its :class:`Reach` and its working memory
    (float32 bytes kept alive per output pixel,
    :func:`~srup.models.foreign.working.working_bytes_per_out_px`)."""

    reach: Reach
    bytes_per_out_px: float


def cache_dir() -> Path:
    """Where srup keeps what it measured (see the module doc)."""
    override = os.environ.get("SRUP_CACHE_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "srup"


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _entry(file: Path) -> Measured | None:
    """The remembered :class:`Measured` in ``file``, or None unless it is a small regular
    file holding a radius, a period and a working memory that a measurement can give (a
    wrong entry would make srup tile a network as it must not be tiled)."""
    try:
        if not file.is_file() or file.is_symlink() or file.stat().st_size > 96:
            return None
        entry = json.loads(file.read_text())
    except (OSError, ValueError, RecursionError):
        return None
    if not (isinstance(entry, list) and len(entry) == 3):
        return None
    radius, period, working = entry
    radius_ok = radius is None or (type(radius) is int and 0 <= radius <= 10**6)
    period_ok = period is None or period in PERIODS
    low, high = _BYTES_PER_OUT_PX
    working_ok = type(working) in (int, float) and low <= working <= high
    if not (radius_ok and period_ok and working_ok):
        return None
    return Measured(Reach(radius, period), float(working))


def remembered(path: Path, loader: str, measure: Callable[[], Measured]) -> Measured:
    """What srup measured of the weights in ``path`` (read by ``loader``, e.g. ``spandrel
    0.4.2``): remembered, or ``measure()`` and remembered. One small file per weights file
    and loader, so that runs side by side (``--shard``, ``parallel``) never lose one
    another's."""
    from srup.errors import OutputError
    from srup.files import write_file

    slug = "".join(c if c.isalnum() or c in ".-" else "_" for c in loader)
    file = cache_dir() / "reach" / f"{_digest(path)}-{slug}-v{VERSION}.json"
    entry = _entry(file)
    if entry is not None:
        return entry
    found = measure()
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        reach = found.reach
        blob = json.dumps([reach.radius, reach.period, found.bytes_per_out_px]).encode()
        write_file(file, lambda f: f.write(blob))
    except (OSError, OutputError):
        pass  # a read-only home: measured again next time
    return found

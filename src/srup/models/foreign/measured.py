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

VERSION = 3  # raise when the measurement changes what it returns
# Bytes an output pixel: below, the output's own float32 planes (12 for RGB) are missing;
# above, more than any network keeps. A value outside would run a huge picture whole.
_BYTES_PER_OUT_PX = (4.0, 1e7)


_LOW = ("fp16", "bf16")  # the precisions a probe may leave out (fp32 always runs)
_MAX_REASON = 300  # characters of a reason a precision is left out


class Measured(NamedTuple):
    """What srup measures of a weights file: its :class:`Reach`, its working memory
    (float32 bytes kept alive per output pixel,
    :func:`~srup.models.foreign.working.working_bytes_per_out_px`), the precisions it runs
    in (``fp32`` first) and why each other one spandrel claims is left out (a deep
    network's probe in fp16 on a CPU takes tens of seconds: not paid on every run)."""

    reach: Reach
    bytes_per_out_px: float
    precisions: tuple[str, ...] = ("fp32",)
    left_out: tuple[tuple[str, str], ...] = ()  # (precision, why)

    def to_json(self) -> dict:
        """The entry as it is remembered."""
        return {
            "radius": self.reach.radius,
            "period": self.reach.period,
            "bytes_per_out_px": self.bytes_per_out_px,
            "precisions": list(self.precisions),
            "left_out": dict(self.left_out),
        }


def _precisions_ok(precisions: object, left_out: object) -> bool:
    return (
        isinstance(precisions, list)
        and precisions[:1] == ["fp32"]
        and all(p in _LOW for p in precisions[1:])
        and len(set(precisions)) == len(precisions)
        and isinstance(left_out, dict)
        and all(k in _LOW and k not in precisions for k in left_out)
        and all(isinstance(v, str) and len(v) <= _MAX_REASON for v in left_out.values())
    )


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
    file holding what a measurement can give (a wrong entry would make srup tile a network
    as it must not be tiled, or run a whole picture it cannot hold)."""
    try:
        if not file.is_file() or file.is_symlink() or file.stat().st_size > 2048:
            return None
        entry = json.loads(file.read_text())
    except (OSError, ValueError, RecursionError):
        return None
    if not (isinstance(entry, dict) and set(entry) == set(Measured(Reach(0, 1), 4.0).to_json())):
        return None
    radius, period, working = entry["radius"], entry["period"], entry["bytes_per_out_px"]
    radius_ok = radius is None or (type(radius) is int and 0 <= radius <= 10**6)
    period_ok = period is None or period in PERIODS
    low, high = _BYTES_PER_OUT_PX
    working_ok = type(working) in (int, float) and low <= working <= high
    precisions, left_out = entry["precisions"], entry["left_out"]
    if not (radius_ok and period_ok and working_ok and _precisions_ok(precisions, left_out)):
        return None
    reasons = tuple(left_out.items())
    return Measured(Reach(radius, period), float(working), tuple(precisions), reasons)


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
        blob = json.dumps(found.to_json()).encode()
        write_file(file, lambda f: f.write(blob))
    except (OSError, OutputError):
        pass  # a read-only home: measured again next time
    return found

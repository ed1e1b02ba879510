"""Keep freed memory in the process instead of handing it back to the OS at once.

glibc serves large blocks with mmap and unmaps them on free, so every tile's activations
(tens of MB) are page-faulted in anew: on a 2-core CPU that is a third of ESPCN's time
(benchmarks/speed.py). Raising the mmap and trim thresholds makes freed blocks reusable;
peak memory is unchanged, the process just does not shrink between tiles.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done = False


def keep_freed_memory() -> bool:
    """Tune glibc's malloc once per process; False where it does not apply (not glibc)."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return _done
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: nothing to tune
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    _done = bool(mallopt(_M_MMAP_THRESHOLD, 1 << 30) and mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    return _done

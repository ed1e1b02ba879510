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

__all__ = ["MMAP_THRESHOLD_MAX", "freed_memory_kept", "keep_freed_memory"]

# glibc's largest dynamic mmap threshold on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX, 4 MiB ×
# sizeof(long)): once a block of up to this size has been freed, blocks that size come from
# the heap and are reused; larger ones are mmapped and unmapped, every time.
MMAP_THRESHOLD_MAX = 32 * 2**20

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done = False


def freed_memory_kept() -> bool:
    """Whether :func:`keep_freed_memory` has tuned this process's malloc."""
    return _done


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

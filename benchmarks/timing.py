"""Timing shared by the speed benchmarks: the median of repeated runs after a warm-up, and
whether freed memory is kept in the process while they run."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_time(fn: Callable[[], object], repeat: int) -> float:
    """Seconds per call of ``fn``: one warm-up call, then the median of ``repeat`` calls."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def alternating_medians(fns: list[Callable[[], object]], repeat: int) -> list[float]:
    """Seconds per call of each of ``fns``, called in turn (A, B, A, B…) after one warm-up
    call each, the median of ``repeat`` calls: on a machine other work keeps busy, a burst
    of load lands on every function alike, so their ratio holds where separate runs of
    each drift apart."""
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, spent in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times]


def keep_memory_option(parser) -> None:  # type: ignore[no-untyped-def]
    """``--keep-freed-memory`` on a benchmark's argparse ``parser``."""
    parser.add_argument(
        "--keep-freed-memory",
        action="store_true",
        help="Keep freed memory in the process as `srup upscale` does (every engine in this "
        "process gains: srup.runtime.allocator); the library alone leaves malloc as it is.",
    )


def apply_memory_option(keep: bool) -> str:
    """Keep freed memory where ``keep`` (:func:`srup.runtime.allocator.keep_freed_memory`);
    the words a table's head uses for the choice."""
    if not keep:
        return "as the library leaves it"
    from srup.runtime.allocator import keep_freed_memory

    keep_freed_memory()
    return "kept as `srup upscale` does"

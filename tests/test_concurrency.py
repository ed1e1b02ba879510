"""ordered_map: results in order, computed a bounded distance ahead of the consumer."""

import threading
import time

import pytest

from srup.concurrency import ordered_map


@pytest.mark.parametrize("workers", [0, 1, 3])
def test_results_come_in_order_even_when_later_items_finish_first(workers):
    def slow_first(i):
        time.sleep(0.02 if i % 4 == 0 else 0)
        return i * i

    assert list(ordered_map(slow_first, range(20), workers)) == [i * i for i in range(20)]


@pytest.mark.parametrize("workers", [1, 2])
def test_never_more_than_twice_the_workers_ahead(workers):
    started: list[int] = []
    lock = threading.Lock()

    def record(i):
        with lock:
            started.append(i)
        return i

    results = ordered_map(record, range(50), workers)
    for consumed, value in enumerate(results, start=1):
        time.sleep(0.002)  # let the threads run as far ahead as they are allowed
        with lock:
            assert len(started) <= consumed + 2 * workers
        assert value == consumed - 1

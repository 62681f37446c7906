"""How the benchmarks time a query: once to warm up, then the median of several runs."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_s(query: Callable[[], object], runs: int = 5) -> float:
    """The median time of `runs` calls of `query` after one untimed call, in seconds."""
    query()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        query()
        times.append(time.perf_counter() - began)
    return statistics.median(times)

"""Reuse in a trace: exact LRU miss ratios at a few cache sizes (``trace info --reuse``).

One Mattson pass (:mod:`simulator.mattson`), which holds the trace's page sequence in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.traces.base import TraceReader

REUSE_FRACTIONS = (0.01, 0.1, 0.2, 0.4, 0.8)
"""Cache sizes, as fractions of the distinct pages, that ``trace info --reuse`` reports."""


@dataclass(frozen=True, slots=True)
class Reuse:
    """What a Mattson pass found."""

    cold_ratio: float
    """Distinct pages per access: the misses no cache avoids."""
    median_distance: int | None
    """Median LRU stack distance of the reuses (None: no page is touched twice)."""
    sizes: tuple[int, ...]
    """Cache sizes in pages, one per :data:`REUSE_FRACTIONS` entry."""
    miss_ratios: tuple[float, ...]


def reuse(reader: TraceReader, chunk: int, distinct_pages: int) -> Reuse:
    """Exact LRU at :data:`REUSE_FRACTIONS` of ``distinct_pages``."""
    from simulator.mattson import miss_ratio_curve

    pages = np.concatenate([c.pages for c in reader.chunks(chunk)])
    curve = miss_ratio_curve(pages)
    sizes = tuple(max(1, round(f * distinct_pages)) for f in REUSE_FRACTIONS)
    median = int(np.median(curve.sorted_distances)) if len(curve.sorted_distances) else None
    return Reuse(curve.distinct_pages / curve.accesses, median, sizes,
                 tuple(float(r) for r in curve.miss_ratio(list(sizes))))


__all__ = ["REUSE_FRACTIONS", "Reuse", "reuse"]

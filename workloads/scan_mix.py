"""A skewed hot set interrupted by periodic one-pass scans of cold pages: scan resistance.

What it models: the textbook failure of plain LRU, a backup, a ``grep -r`` or an analytics
query streaming once through data that will not be used again, between the touches of a
working set that should stay resident. A policy is scan-resistant when the scan does not push
the hot set out (MGLRU's claim: scanned pages enter the youngest generation only if aging sees
them young, and tiers protect refaulting hot pages).

Of the footprint's ``K = max(1, int(pages * footprint))`` pages, ``H = max(1, round(K *
hot_fraction))`` are hot and ``C = K - H`` cold. Each stream repeats a cycle: ``scan_every``
touches of the hot set, Zipf(``theta``) over its ``H`` ranks (``theta = 0``: uniform), then one
sequential pass over ``L = scan_pages`` cold pages (``0``: all ``C``; at most ``C``, so a scan
never touches a page twice). Successive scans continue where the previous one stopped, wrapping
over the cold pages; stream ``s`` of ``S`` starts at cold page ``s * C // S``. With no cold page
(``hot_fraction`` 1, or a one-page footprint) there is nothing to scan: plain Zipf.

Placement: without ``scatter`` the hot ranks are pages ``0..H-1`` and the cold pages ``H..K-1``;
with it the hot ranks take the first ``H`` entries of the seeded region permutation (spread over
page tables, like ``zipf``) and the cold pages are the next ``C`` entries *sorted*, so a scan
still walks up the address space.

What it simplifies: a scan is one touch per page, reads or writes like any touch
(``write_fraction``); it does not model readahead or file pages (everything is anonymous).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from simulator.params import param
from workloads import params as shared
from workloads.base import (
    PLACEMENT_BYTES_PER_PAGE,
    PageArray,
    StreamWorkload,
    check_theta,
    placement,
)
from workloads.zipf import zipf_cdf


@dataclass(frozen=True, slots=True)
class ScanMixParams:
    """``kind = "scan_mix"``."""

    theta: float = shared.theta()
    footprint: float = shared.footprint()
    think_ns: int = shared.think_ns()
    write_fraction: float = shared.write_fraction()
    scatter: bool = shared.scatter()
    hot_fraction: float = shared.hot_fraction()
    scan_every: int = param(10_000, lo=1, hi=2**62,
                            doc="hot-set touches per stream between two scans")
    scan_pages: int = param(0, lo=0, hi=2**40,
                            doc="pages per one-pass sequential scan of the cold pages (0: all "
                                "of them)")


class ScanMixWorkload(StreamWorkload[ScanMixParams]):
    """Zipf touches of a hot set, and every ``scan_every`` of them a cold one-pass scan."""

    name: ClassVar[str] = "scan_mix"
    description: ClassVar[str] = (
        "Zipf hot set plus periodic one-pass sequential scans of cold pages (scan resistance)")
    Params: ClassVar[type[ScanMixParams]] = ScanMixParams

    @classmethod
    def memory_bytes(cls, params: ScanMixParams, pages: int, streams: int) -> int:
        """The placement permutation (while the hot and cold sets are cut from it), the hot
        and cold page arrays, and the hot set's CDF."""
        return PLACEMENT_BYTES_PER_PAGE * 3 * pages

    def __init__(self, params: ScanMixParams, pages: int, streams: int,
                 seed: np.random.SeedSequence) -> None:
        super().__init__(params, pages, streams, seed)
        k = self.footprint_pages
        h = min(k, max(1, round(k * params.hot_fraction)))
        self.hot_pages, self.cold_pages = h, k - h
        self.scan_every = int(params.scan_every)
        self.scan_pages = min(int(params.scan_pages) or self.cold_pages, self.cold_pages)
        self.cycle = self.scan_every + self.scan_pages  # no cold page: no scan
        perm = placement(seed, self.pages, k, bool(params.scatter))
        if perm is None:
            self._hot = np.arange(h, dtype=np.int64)
            self._cold = np.arange(h, k, dtype=np.int64)
        else:
            self._hot = perm[:h].copy()
            self._cold = np.sort(perm[h:k])
        self._cdf = zipf_cdf(h, check_theta(params.theta))
        self._done = [0] * self.streams
        self._start = [s * self.cold_pages // self.streams for s in range(self.streams)]

    @property
    def hot_set(self) -> PageArray:
        """The hot pages, hottest rank first."""
        return self._hot

    @property
    def cold_set(self) -> PageArray:
        """The cold pages, in scan (address) order."""
        return self._cold

    def _touch(self, stream: int, rng: np.random.Generator, n: int) -> PageArray:
        done = self._done[stream]
        self._done[stream] = done + n
        idx = done + np.arange(n, dtype=np.int64)
        cycle, within = np.divmod(idx, self.cycle)
        scan = within >= self.scan_every
        out = np.empty(n, dtype=np.int64)
        nbg = int(n - np.count_nonzero(scan))
        ranks = np.searchsorted(self._cdf, rng.random(nbg), side="right")
        np.minimum(ranks, self.hot_pages - 1, out=ranks)
        out[~scan] = self._hot[ranks]
        if self.scan_pages:
            j = (self._start[stream] + cycle[scan] * self.scan_pages
                 + within[scan] - self.scan_every) % self.cold_pages
            out[scan] = self._cold[j]
        return out


__all__ = ["ScanMixParams", "ScanMixWorkload"]

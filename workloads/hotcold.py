"""A hot set that takes most touches, and moves.

What it models: the phase behaviour aging has to track, in its simplest form. Of the footprint's
``K = max(1, int(pages * footprint))`` pages, ``H = max(1, round(K * hot_fraction))`` are hot
and receive ``hot_access_fraction`` of the touches, uniformly; the rest go uniformly to the
``K - H`` cold pages. Every ``phase_accesses`` touches of a stream (0: never) the hot set moves
to a new random place, so pages that were hot turn cold at once and a working-set estimate
(generations, refault distances) must notice.

The hot set of phase ``k`` is the ``H`` consecutive ranks starting at a random offset
``o_k = splitmix64(key ^ k) mod K`` (wrapping at ``K``), with ``key`` drawn from the seed at
``(seed, 2)``: every stream sees the same hot set in the same phase, and phase ``k`` is the
same whatever the batch sizes were (computed per touch, vectorised, however short the phases).
Ranks are placed on pages like every ranked workload (``scatter``: a seeded permutation, so the
hot set is spread over page tables; else rank ``r`` is page ``r``, a contiguous hot window).

What it simplifies: streams count their own touches, so with several streams the hot set moves
for each stream when that stream reaches the boundary (streams progress at about the same rate,
so they move at about the same time); within the hot and the cold set touches are uniform.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from simulator.params import param
from workloads import params as shared
from workloads.base import PageArray, RankedWorkload, derive_seed

HOT_KEY = 2
"""``spawn_key`` namespace of the hot-set offset key: ``(..., 2)``."""


def splitmix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The splitmix64 finaliser (Steele, Lea and Flood, OOPSLA 2014): a well-mixed 64-bit
    hash of each value, vectorised."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


@dataclass(frozen=True, slots=True)
class HotColdParams:
    """``kind = "hotcold"``."""

    footprint: float = shared.footprint()
    think_ns: int = shared.think_ns()
    write_fraction: float = shared.write_fraction()
    scatter: bool = shared.scatter()
    hot_fraction: float = shared.hot_fraction()
    hot_access_fraction: float = param(0.9, lo=0.0, hi=1.0,
                                       doc="fraction of touches that go to the hot set")
    phase_accesses: int = param(0, lo=0, hi=2**62,
                                doc="touches per stream before the hot set moves to a new "
                                    "random place (0: never)")


class HotColdWorkload(RankedWorkload[HotColdParams]):
    """``hot_access_fraction`` of the touches on a hot ``hot_fraction`` that moves every
    ``phase_accesses`` touches."""

    name: ClassVar[str] = "hotcold"
    description: ClassVar[str] = (
        "a hot set takes hot_access_fraction of the touches; it moves every phase_accesses")
    Params: ClassVar[type[HotColdParams]] = HotColdParams

    def __init__(self, params: HotColdParams, pages: int, streams: int,
                 seed: np.random.SeedSequence) -> None:
        super().__init__(params, pages, streams, seed)
        k = self.footprint_pages
        self.hot_pages = min(k, max(1, round(k * params.hot_fraction)))
        self.hot_access_fraction = float(params.hot_access_fraction)
        self.phase_accesses = int(params.phase_accesses)
        self._key = derive_seed(seed, HOT_KEY).generate_state(1, np.uint64)[0]
        self._done = [0] * self.streams  # touches so far, per stream

    def hot_offsets(self, phases: npt.ArrayLike) -> PageArray:
        """First rank of the hot set in each phase: ``splitmix64(key ^ phase) mod K``."""
        ph = np.asarray(phases, dtype=np.int64).astype(np.uint64)
        return (splitmix64(ph ^ self._key) % np.uint64(self.footprint_pages)).astype(np.int64)

    def hot_ranks(self, phase: int) -> PageArray:
        """The hot set's ranks in ``phase``."""
        start = int(self.hot_offsets([phase])[0])
        return (start + np.arange(self.hot_pages, dtype=np.int64)) % self.footprint_pages

    def _touch(self, stream: int, rng: np.random.Generator, n: int) -> PageArray:
        k, h = self.footprint_pages, self.hot_pages
        # rank offset from the hot set's first rank: [0, h) hot, [h, k) cold
        if h >= k:
            within = rng.integers(0, k, size=n, dtype=np.int64)
        else:
            hot = rng.random(n) < self.hot_access_fraction
            within = np.where(hot, rng.integers(0, h, size=n, dtype=np.int64),
                              h + rng.integers(0, k - h, size=n, dtype=np.int64))
        done = self._done[stream]
        self._done[stream] = done + n
        if self.phase_accesses:
            phase = (done + np.arange(n, dtype=np.int64)) // self.phase_accesses
        else:
            phase = np.zeros(n, dtype=np.int64)
        ranks = (within + self.hot_offsets(phase)) % k
        return ranks if self._map is None else self._map[ranks]


__all__ = ["HOT_KEY", "HotColdParams", "HotColdWorkload", "splitmix64"]

"""Cyclic sequential scans, after the KVM selftests' memstress guest loop.

What it models: the guest code of tools/testing/selftests/kvm/lib/memstress.c
(``memstress_guest_code``), which the dirty-log, access-tracking and page-fault selftests run in
every vCPU: forever, for ``i`` in ``0..pages-1`` touch page ``gva + i * guest_page_size``,
writing it if ``guest_random_u32(&rand_state) % 100 < write_percent`` and reading it otherwise,
then ``GUEST_SYNC(1)`` and start over. Each pass touches every page once, in address order, so
every page is exactly as old as its position in the scan: the pattern where LRU-like aging
needs every page to stay resident, and where a scan larger than memory thrashes.

Here stream ``s`` of ``streams`` scans the footprint's ``K = max(1, int(pages * footprint))``
pages (always pages ``0..K-1``: ``scatter`` is ignored, sequential means contiguous)
cyclically, starting at offset ``s * K // streams``; each :meth:`next_batch` call continues
where that stream's previous call ended, wrapping from ``K - 1`` to ``0``.

What it simplifies: memstress gives each vCPU a disjoint slice (``vcpu_args->gva``/``pages``)
and restarts at the slice's start after every pass; here every stream walks the whole
footprint from a staggered offset, which is the same as partitioning while the streams progress
at equal speed and lets a faster stream run into its neighbour's slice otherwise. There is no
``GUEST_SYNC`` exit between passes, and the write decision is a continuous
Bernoulli(``write_fraction``) instead of an integer percentage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from workloads import params as shared
from workloads.base import PageArray, StreamWorkload


@dataclass(frozen=True, slots=True)
class SequentialParams:
    """``kind = "sequential"``."""

    footprint: float = shared.footprint()
    think_ns: int = shared.think_ns()
    write_fraction: float = shared.write_fraction()


class SequentialWorkload(StreamWorkload[SequentialParams]):
    """Per-stream cyclic scans of the footprint, staggered by ``K // streams``."""

    name: ClassVar[str] = "sequential"
    description: ClassVar[str] = (
        "memstress-style cyclic scans of the footprint, each stream from its own offset")
    Params: ClassVar[type[SequentialParams]] = SequentialParams

    def __init__(self, params: SequentialParams, pages: int, streams: int,
                 seed: np.random.SeedSequence) -> None:
        super().__init__(params, pages, streams, seed)
        k = self.footprint_pages
        self._next: list[int] = [s * k // self.streams for s in range(self.streams)]

    def position(self, stream: int) -> int:
        """The page ``stream`` touches next."""
        return self._next[stream]

    def _touch(self, stream: int, rng: np.random.Generator, n: int) -> PageArray:
        k = self.footprint_pages
        start = self._next[stream]
        touched = np.arange(start, start + n, dtype=np.int64)
        if start + n > k:
            np.remainder(touched, k, out=touched)
        self._next[stream] = (start + n) % k
        return touched


__all__ = ["SequentialParams", "SequentialWorkload"]

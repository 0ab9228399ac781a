"""The KVM selftests' guest loop, ``memstress_guest_code``, per vCPU.

What it models: tools/testing/selftests/kvm/lib/memstress.c, the guest code of the dirty-log,
access-tracking and demand-paging selftests. ``memstress_setup_vcpus`` gives vCPU ``i`` the
slice ``gva = base + i * vcpu_memory_bytes`` of ``pages = vcpu_memory_bytes / page_size`` pages,
or, with ``-o`` (overlap, ``partition_vcpu_memory_access = false``), the whole region
``gva = base`` of ``nr_vcpus * vcpu_memory_bytes``. The guest then loops forever::

    for (i = 0; i < pages; i++) {
        page = random_access ? guest_random_u32(&rand_state) % pages : i;
        addr = gva + page * guest_page_size;
        if (__guest_random_bool(&rand_state, write_percent)) *(uint64_t *)addr = ...;
        else READ_ONCE(*(uint64_t *)addr);
    }
    GUEST_SYNC(1);

so in sequential order every pass restarts at the slice's first page. Here the region is the
footprint's ``K = max(1, int(pages * footprint))`` first pages; stream ``s`` of ``S`` owns pages
``[s*K//S, (s+1)*K//S)`` (the selftest divides evenly; this rounds when ``S`` does not divide
``K``, and with fewer pages than streams stream ``s`` gets page ``s mod K``), or all ``K`` with
``overlap``. ``random_access`` draws uniformly from the stream's pages.

What it simplifies: the guest's reads of the ``memstress_args`` page at the top of every pass,
``GUEST_SYNC`` exits and ``iterations`` are left out (a stream is endless); the write decision
is Bernoulli(``write_fraction``) instead of an integer percentage; random pages are exactly
uniform (no ``% pages`` bias). ``scatter`` is ignored: memstress touches contiguous memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from simulator.params import param
from workloads import params as shared
from workloads.base import PageArray, StreamWorkload


@dataclass(frozen=True, slots=True)
class MemstressParams:
    """``kind = "memstress"``."""

    footprint: float = shared.footprint()
    think_ns: int = shared.think_ns()
    write_fraction: float = shared.write_fraction()
    random_access: bool = param(False, doc="random page order (-a) instead of sequential")
    overlap: bool = param(False, doc="every vCPU walks the whole region (-o) instead of its "
                                     "own slice")


class MemstressWorkload(StreamWorkload[MemstressParams]):
    """Per-vCPU sequential (or random) passes over its own slice, or the whole region."""

    name: ClassVar[str] = "memstress"
    description: ClassVar[str] = (
        "KVM selftests' memstress guest loop: per-vCPU slice (overlap: all), sequential or "
        "random")
    Params: ClassVar[type[MemstressParams]] = MemstressParams

    def __init__(self, params: MemstressParams, pages: int, streams: int,
                 seed: np.random.SeedSequence) -> None:
        super().__init__(params, pages, streams, seed)
        k, s = self.footprint_pages, self.streams
        self.overlap = bool(params.overlap)
        self.random_access = bool(params.random_access)
        if self.overlap:
            self.slices = [(0, k)] * s
        elif k < s:  # fewer pages than vCPUs: vCPU i gets page i mod K
            self.slices = [(i % k, i % k + 1) for i in range(s)]
        else:
            self.slices = [(i * k // s, (i + 1) * k // s) for i in range(s)]
        self._next = [0] * s  # index within the slice of the next sequential touch

    def slice_of(self, stream: int) -> tuple[int, int]:
        """``[first, end)`` pages of ``stream``'s region."""
        return self.slices[stream]

    def _touch(self, stream: int, rng: np.random.Generator, n: int) -> PageArray:
        first, end = self.slices[stream]
        size = end - first
        if self.random_access:
            return rng.integers(first, end, size=n, dtype=np.int64)
        start = self._next[stream]
        idx = np.arange(start, start + n, dtype=np.int64)
        if start + n > size:
            np.remainder(idx, size, out=idx)
        self._next[stream] = (start + n) % size
        idx += first
        return idx


__all__ = ["MemstressParams", "MemstressWorkload"]

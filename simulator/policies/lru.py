"""The ``lru`` policy: exact LRU over every access, in order (the yardstick).

Every touch moves its page to the most-recently-used end of one list
(``simulator.mm.lru.ExactLru``); a miss inserts the page and, when that overflows the memcg
limit, the least recently used page is evicted at once: its PTE becomes a swap entry and every
VM drops its SPTE. On the same access sequence this gives exactly the misses of Mattson's
stack algorithm (``simulator.mattson``), which ``tests/test_lru_policy.py`` checks.

It is not a kernel policy (see ``classic`` for the kernel's active/inactive lists): it counts
misses and charges their service time, but takes no ``mmu_lock``, runs no reclaim and records
no fault latencies; the hardware path (TLBs, A bits) is not used.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, ClassVar

import numpy as np
import simpy

from simulator.mm.lru import ExactLru
from simulator.mm.reclaim import AbortCheck, Request
from simulator.policies.base import AccessOutcome, AccessPath, BoolArray, IntArray, PolicyHost


class ExactLruPolicy:
    """One exact LRU list of the memcg's resident pages, capacity = the memcg limit."""

    name: ClassVar[str] = "lru"
    description: ClassVar[str] = (
        "exact LRU over every access in order (the yardstick; equal to Mattson's stack "
        "algorithm)")
    evicts_inline: ClassVar[bool] = True
    memory_per_page: ClassVar[int] = 200
    """Resource-estimate fact: bytes per page of the host index space at the peak, as if every
    page were resident: an ordered-dict entry and its int key (about 150), and the boolean
    temporaries of a batch (touched pages, the resident mask)."""

    def __init__(self, host: PolicyHost) -> None:
        self.host = host
        self.lru = ExactLru(host.limit_pages)
        self.passes: list[dict[str, Any]] = []

    def resident_pages(self) -> int:
        return len(self.lru)

    def resident_mask(self) -> BoolArray:
        mask = np.zeros(self.host.pt.nr_pages, dtype=bool)
        mask[self.lru.resident()] = True
        return mask

    def run_accesses(self, path: AccessPath, pages: IntArray,
                     writes: BoolArray) -> AccessOutcome:
        """Run the touches through the list in order: (first-touch misses, refaults).
        Evicted pages are unmapped to swap (and zapped from every VM); missed pages still
        resident at the end are mapped (and get an SPTE on the touching VM)."""
        host, lru, pt = self.host, self.lru, self.host.pt
        touched_before = pt.present | pt.swapped
        misses, evicted = lru.access(pages)
        first_seen = np.unique(misses, return_index=True)[1]
        is_first = np.zeros(len(misses), dtype=bool)
        is_first[first_seen] = True
        first_touch = int((is_first & ~touched_before[misses]).sum())
        gone = np.unique(evicted)
        gone = gone[[int(p) not in lru for p in gone]]
        if len(gone):
            pt.unmap_to_swap(gone)
            host.zap(gone)
        new = np.unique(misses)
        new = new[[int(p) in lru for p in new]]
        if len(new):
            wrote = np.isin(new, pages[writes])
            pt.map_pages(new, wrote)
            path.install(new, wrote)
        host.counters.evictions += len(evicted)
        host.truth.record_access(pages)
        host.check()
        return AccessOutcome(accesses=len(pages), first_touch=first_touch,
                             swap_in=len(misses) - first_touch, yardstick=True)

    def mark_accessed(self, pages: IntArray) -> None:
        """The yardstick sees every access already."""

    # --- reclaim: none, evictions happen at the access ----------------------------------------
    def initial_priority(self, nr_to_reclaim: int) -> int:
        raise TypeError("the exact LRU evicts inline and never reclaims")

    def shrink(self, priority: int, nr_to_reclaim: int,
               should_abort: AbortCheck) -> Generator[Request, Any, int]:
        raise TypeError("the exact LRU evicts inline and never reclaims")

    def perform(self, request: Request, actor: int) -> Generator[simpy.Event, Any, Any]:
        raise TypeError("the exact LRU evicts inline and never reclaims")

    # --- reporting ----------------------------------------------------------------------------
    def sample(self) -> dict[str, Any]:
        return {}

    def snapshot(self, now_ns: int) -> str | None:
        return None

    def check_invariants(self) -> None:
        from simulator.mm.lruvec import InvariantError

        if len(self.lru) > self.lru.capacity:
            raise InvariantError(f"exact LRU holds {len(self.lru)} pages, "
                                 f"capacity {self.lru.capacity}")


__all__ = ["ExactLruPolicy"]

"""The ``lru`` policy: exact LRU over every access, in order (the yardstick).

Every touch moves its page to the most-recently-used end of one list
(``simulator.mm.lru.ExactLru``); a miss inserts the page and, when that overflows the memcg
limit, the least recently used page is evicted at once: its PTE becomes a swap entry and every
VM drops its SPTE. On the same access sequence this gives exactly the misses of Mattson's
stack algorithm (``simulator.mattson``), which ``tests/test_lru_policy.py`` checks.

It is not a kernel policy (see ``classic`` for the kernel's active/inactive lists): it counts
misses and charges their service time, but takes no ``mmu_lock``, runs no reclaim and records
no fault latencies; the hardware path (TLBs, A bits) is not used.

With THP (``vm.thp`` or ``task.thp = "always"``) the list holds folios: a THP is one entry of
512 pages, a first touch of an empty THP range maps and inserts the whole folio, and the
capacity is in pages, so one THP insertion may evict several entries and evicting a THP frees
512 pages (its pages then refault as 4 KiB folios). That replay maps and unmaps at each access
(a Python loop per access), and Mattson's equality no longer applies: folios are not pages.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Generator
from typing import Any, ClassVar

import numpy as np
import simpy

from simulator.mm.fault import map_faults
from simulator.mm.folio import HPAGE_PMD_NR, expand_mask
from simulator.mm.lru import make_exact_lru
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
        self.lru = make_exact_lru(host.limit_pages, host.pt.nr_pages)
        self.folios: OrderedDict[int, int] = OrderedDict()
        """With THP: resident folio heads, least recently used first, and their pages."""
        self.folio_pages = 0
        self.passes: list[dict[str, Any]] = []

    def resident_pages(self) -> int:
        return self.folio_pages if self.host.pt.has_thp else len(self.lru)

    def resident_mask(self) -> BoolArray:
        pt = self.host.pt
        mask = np.zeros(pt.nr_pages, dtype=bool)
        if pt.has_thp:
            heads = np.fromiter(self.folios.keys(), dtype=np.int64, count=len(self.folios))
            mask[heads] = True
            return expand_mask(mask, pt.folios)
        mask[self.lru.resident()] = True
        return mask

    def run_accesses(self, path: AccessPath, pages: IntArray,
                     writes: BoolArray) -> AccessOutcome:
        """Run the touches through the list in order: (first-touch misses, refaults)."""
        if self.host.pt.has_thp:
            return self._run_folios(path, pages, writes)
        return self._run_pages(path, pages, writes)

    def _run_folios(self, path: AccessPath, pages: IntArray,
                    writes: BoolArray) -> AccessOutcome:
        """The folio replay (see the module docstring): map, insert and evict at each miss."""
        host, pt, lst = self.host, self.host.pt, self.folios
        first = swap_in = thp = 0
        for i, page in enumerate(pages.tolist()):
            head = page & ~(HPAGE_PMD_NR - 1) if pt.folios.huge[page // HPAGE_PMD_NR] else page
            if head in lst:
                lst.move_to_end(head)
                continue
            refault = bool(pt.swapped[page])
            one, w = pages[i:i + 1], writes[i:i + 1]
            heads, (n_thp, _) = map_faults(pt, one, w)
            path.install(one, w)
            size = HPAGE_PMD_NR if n_thp else 1
            lst[int(heads[0])] = size
            self.folio_pages += size
            swap_in += refault
            first += not refault
            thp += n_thp
            while self.folio_pages > self.lru.capacity:
                old, n = lst.popitem(last=False)
                self.folio_pages -= n
                gone = np.arange(old, old + n, dtype=np.int64)
                pt.unmap_to_swap(gone)
                host.zap(gone)
                host.counters.evictions += n
        host.truth.record_access(pages, not path.host_side)
        host.check()
        return AccessOutcome(accesses=len(pages), first_touch=first, swap_in=swap_in,
                             thp_faults=thp, yardstick=True)

    def _run_pages(self, path: AccessPath, pages: IntArray,
                   writes: BoolArray) -> AccessOutcome:
        """The page replay, equal to Mattson's stack algorithm.
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
        gone = gone[~lru.contains(gone)]
        if len(gone):
            pt.unmap_to_swap(gone)
            host.zap(gone)
        new = np.unique(misses)
        new = new[lru.contains(new)]
        if len(new):
            wrote = np.isin(new, pages[writes])
            pt.map_pages(new, wrote)
            path.install(new, wrote)
        host.counters.evictions += len(evicted)
        host.truth.record_access(pages, not path.host_side)
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

        held = self.resident_pages()
        if held > self.lru.capacity:
            raise InvariantError(f"exact LRU holds {held} pages, capacity {self.lru.capacity}")


__all__ = ["ExactLruPolicy"]

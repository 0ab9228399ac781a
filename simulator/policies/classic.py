"""The ``classic`` policy: the kernel's active/inactive LRU when lru_gen is disabled.

The baseline MGLRU was built to beat (``echo n > /sys/kernel/mm/lru_gen/enabled``), wired to
simulated time; the model is ``simulator.mm.classic``. Accesses reach it through the hardware
(A bits and faults, like MGLRU). It never walks page tables: recency is learned only by the
rmap walk of ``folio_referenced``, which asks KVM once per mapped PTE
(``clear_flush_young``), on the active list (``shrink_active_list``, timed as ``aging``) and
on the inactive list (``shrink_inactive_list``, timed as ``eviction``). The MGLRU notifier
design (``mglru.notifier``) does not apply: the notifier op is called directly.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, ClassVar

import simpy

from simulator.accounting import Work
from simulator.mm.classic import ACTIVE, INACTIVE, Classic, ShrinkList, ShrinkResult, shrink_list
from simulator.mm.constants import DEF_PRIORITY
from simulator.mm.fault import FaultResult
from simulator.mm.folio import expand_mask
from simulator.mm.reclaim import AbortCheck, Request
from simulator.policies.base import (
    AccessOutcome,
    AccessPath,
    BoolArray,
    IntArray,
    PolicyHost,
    hardware_accesses,
)


class ClassicPolicy:
    """Active/inactive anon lists over the memcg's one lruvec."""

    name: ClassVar[str] = "classic"
    description: ClassVar[str] = (
        "the kernel's active/inactive LRU (lru_gen disabled): rmap checks with "
        "clear_flush_young into KVM on every mapped PTE, refault activation")
    evicts_inline: ClassVar[bool] = False
    memory_per_page: ClassVar[int] = 72
    """Resource-estimate fact: bytes per page of the host index space at the peak: the lists
    (list 1, position 8, referenced 1, workingset 1), shadow tokens (age 8, workingset 1), and
    the temporaries of ordering one list (members, positions, sort order: 3 × 8, a boolean
    scan)."""

    def __init__(self, host: PolicyHost) -> None:
        self.host = host
        self.classic = Classic(host.pt, host.notifiers, host.truth, host.costs,
                               host.costs.swap_out_ns(host.swap))
        self.passes: list[dict[str, Any]] = []

    # --- accesses -----------------------------------------------------------------------------
    def resident_pages(self) -> int:
        return self.classic.lists.resident_pages()

    def resident_mask(self) -> BoolArray:
        mask: BoolArray = self.classic.lists.lru >= 0
        return expand_mask(mask, self.classic.lists.folios)

    def fault_in(self, pages: IntArray, writes: BoolArray) -> FaultResult:
        return self.classic.fault_in(pages, writes)

    def run_accesses(self, path: AccessPath, pages: IntArray,
                     writes: BoolArray) -> AccessOutcome:
        return hardware_accesses(path, pages, writes, self.fault_in,
                                 self.host.truth.record_access)

    def mark_accessed(self, pages: IntArray) -> None:
        self.classic.mark_accessed(pages)

    # --- reclaim ------------------------------------------------------------------------------
    def initial_priority(self, nr_to_reclaim: int) -> int:
        """Classic reclaim starts at ``DEF_PRIORITY`` (``balance_pgdat``,
        ``try_to_free_mem_cgroup_pages``)."""
        return DEF_PRIORITY

    def shrink(self, priority: int, nr_to_reclaim: int,
               should_abort: AbortCheck) -> Generator[Request, Any, int]:
        """``shrink_node`` → ``shrink_lruvec`` for the memcg, then ``snapshot_refaults``
        (the classic loop stops at its goal; ``should_abort`` adds nothing to that)."""
        reclaimed = yield from self.classic.shrink_lruvec(priority, nr_to_reclaim)
        self.classic.snapshot_refaults()
        return reclaimed

    def perform(self, request: Request, actor: int) -> Generator[simpy.Event, Any, Any]:
        if not isinstance(request, ShrinkList):
            raise TypeError(f"classic cannot perform {request!r}")
        host = self.host
        c = host.counters
        work = Work()
        res: ShrinkResult = shrink_list(self.classic, request, work)
        if request.lru == ACTIVE:
            c.aging_work.add(work)
            c.pgrefill += res.scanned
            c.pgdeactivate += res.deactivated
        else:
            c.eviction_work.add(work)
            c.pgscan += res.scanned
            c.evictions += res.reclaimed
            c.activations += res.activated
            c.kept += res.kept
        c.rmap_walks += res.rmap_walks
        host.check()
        if res.reclaimed:
            host.freed()
        kind = "aging" if request.lru == ACTIVE else "eviction"
        wait = yield from host.time_locked_work(kind, work, actor)
        if request.lru == ACTIVE:
            c.aging_cpu_ns += work.cpu_ns + wait
        else:
            c.eviction_cpu_ns += work.cpu_ns + wait
        return res

    # --- reporting ----------------------------------------------------------------------------
    def sample(self) -> dict[str, Any]:
        nr = self.classic.lists.nr
        return {"inactive_pages": int(nr[INACTIVE]), "active_pages": int(nr[ACTIVE])}

    def snapshot(self, now_ns: int) -> str | None:
        return None

    def check_invariants(self) -> None:
        self.classic.check_invariants()


__all__ = ["ClassicPolicy"]

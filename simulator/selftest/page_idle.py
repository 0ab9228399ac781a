"""Idle page tracking as the selftest's page_idle mode drives it (mm/page_idle.c).

``pageidle_mark_vcpu_memory_idle`` walks a vCPU's pages one at a time: it reads the PFN from
``/proc/self/pagemap`` (no PFN: not present, counted in ``no_pfn``), reads the page's bit of
``/sys/kernel/mm/page_idle/bitmap`` and, unless the page is still idle, writes its bit back.
In the kernel both the read (``page_idle_bitmap_read``, for a folio already marked idle) and
the write (``page_idle_bitmap_write``) run ``page_idle_clear_pte_refs``: an rmap walk whose
``page_idle_clear_pte_refs_one`` calls ``ptep_clear_young_notify``, i.e. the primary PTE's A
bit and one ``clear_young`` notifier call into KVM per page, with no TLB flush. A folio found
referenced loses PG_idle; the write then sets PG_idle again.

The per-page system-call and rmap cost is :data:`PAGE_IDLE_PAGE_NS`; the notifier calls are
charged by the VM's backend on top (``charge_aging_calls``: dispatch, SPTE, and the aging lock,
so the write-locked x86 TDP MMU serialises the marking threads on ``mmu_lock``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.accounting import Work
from simulator.kvm.backends.base import BoolArray, IntArray
from simulator.kvm.notifier import KvmAgingOps
from simulator.mm.pagetable import PageTables
from simulator.truth import GroundTruth

PAGE_IDLE_PAGE_NS = 11_000.0
"""[derived] One page of ``pageidle_mark_vcpu_memory_idle`` without the notifier call: a
``pread`` of ``/proc/self/pagemap``, a ``pread`` and a ``pwrite`` of the page_idle bitmap (one
PFN per ``pwrite``) and the rmap walk of ``page_idle_clear_pte_refs``. Maxim Levitsky measured
"Mark memory idle" at 2.71–3.06 s for 262,144 pages with one vCPU (patch-series §5.10):
midpoint 2.885 s / 262,144 = 11.0 µs per page. The clear_young call the backend adds (tens of
ns without lock contention) is well inside that spread."""


@dataclass(slots=True)
class MarkCounts:
    """What marking a batch of pages idle found (the selftest's per-vCPU counters)."""

    pages: int = 0
    no_pfn: int = 0
    still_idle: int = 0

    def add(self, other: MarkCounts) -> None:
        self.pages += other.pages
        self.no_pfn += other.no_pfn
        self.still_idle += other.still_idle


class PageIdle:
    """PG_idle of every host page, and the bitmap file's read and write paths."""

    def __init__(self, pt: PageTables, ops: KvmAgingOps, truth: GroundTruth) -> None:
        self.pt = pt
        self.ops = ops
        self.truth = truth
        self.idle: BoolArray = np.zeros(pt.nr_pages, dtype=bool)
        """PG_idle (``folio_test_idle``)."""

    def clear_pte_refs(self, pages: IntArray, work: Work) -> BoolArray:
        """``page_idle_clear_pte_refs``: test-and-clear the primary A bit and ask KVM
        (``ptep_clear_young_notify``: one ``clear_young`` per page); True = referenced."""
        young = self.pt.young[pages].copy()
        self.pt.young[pages] = False
        if len(pages):
            secondary, _ = self.ops.clear_young_pages(pages, work)
            young |= secondary
            self.truth.score(pages, young, "page_idle")
        return young

    def mark(self, pages: IntArray, work: Work) -> MarkCounts:
        """One vCPU thread's loop body over ``pages``: look up, test, and mark idle."""
        present = self.pt.present[pages]
        counts = MarkCounts(pages=len(pages), no_pfn=int((~present).sum()))
        pages = pages[present]
        # page_idle_bitmap_read: only a folio already marked idle gets its refs cleared
        marked = pages[self.idle[pages]]
        referenced = self.clear_pte_refs(marked, work)
        self.idle[marked[referenced]] = False
        still = self.idle[pages]
        counts.still_idle = int(still.sum())
        # page_idle_bitmap_write for every page that was not still idle
        to_mark = pages[~still]
        self.clear_pte_refs(to_mark, work)
        self.idle[to_mark] = True
        return counts

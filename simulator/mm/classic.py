"""The classic active/inactive LRU (mm/vmscan.c with lru_gen disabled), anonymous memory only.

Models the kernel's two-list reclaim of one lruvec, ≈6.12 text:

- **Lists.** ``LRU_INACTIVE_ANON`` and ``LRU_ACTIVE_ANON``; folios are added at the head
  (``lruvec_add_folio``) and isolated from the tail (``isolate_lru_folios``), with PG_active,
  PG_referenced and PG_workingset. A new anonymous folio starts on the inactive list (since
  5.9, "mm/vmscan: protect the workingset on anonymous LRU"); a refault the shadow entry calls
  recent starts active (:class:`~simulator.mm.workingset.ClassicWorkingset`).
- **folio_referenced.** The rmap walk reaches the folio's one PTE and calls
  ``ptep_clear_flush_young_notify``: the primary A bit is tested and cleared, and *every*
  mapped PTE of an mm with a notifier also costs one ``clear_flush_young`` call into KVM
  (flushing when the release flushes), whether the page was young or not.
- **shrink_active_list.** Every scanned anonymous folio is deactivated (PG_active cleared,
  PG_workingset set, moved to the inactive head), referenced or not: only ``VM_EXEC`` file
  folios are kept active. The scan's effect on anon is to clear young bits.
- **shrink_inactive_list** → ``shrink_folio_list`` → ``folio_check_references``: referenced
  and PG_referenced already set (second sighting) → ACTIVATE (active head, the non-resident
  clock ticks, ``move_folios_to_lru``); referenced the first time → KEEP (PG_referenced set,
  inactive head); not referenced → RECLAIM (unmapped through ``invalidate_range_start``,
  swapped out, a shadow entry stored).
- **shrink_lruvec.** Each list's target is ``size >> priority``; batches of
  ``SWAP_CLUSTER_MAX`` go round-robin over inactive then active anon; the active list is
  scanned only when ``may_deactivate`` (refault activations since the last snapshot, or
  :meth:`ClassicLists.inactive_is_low`); after the goal is met the loop stops (with no file
  list, the proportional scaling of the other type has nothing to scale); at the end the
  active list is aged once more if the inactive list is low.

Large folios (PMD-mapped THPs, ``simulator.mm.folio``): a THP is one list entry of 512 pages.
``isolate_lru_folios`` counts its pages against ``nr_to_scan`` (``scan += nr_pages``: a folio is
taken while fewer than ``nr_to_scan`` pages were), list sizes and the non-resident clock move by
pages, its rmap check is ``pmdp_clear_flush_young_notify`` (the PMD A bit, one
``clear_flush_young`` over PMD_SIZE into KVM), and it is swapped out whole, as MGLRU does
(``simulator.mm.eviction``). Counts returned (scanned, reclaimed, activated, kept,
deactivated) are pages, as the kernel's vmstat counts them; ``rmap_walks`` counts folios.

Simplifications: anonymous memory only, so ``get_scan_count``'s anon/file balance
(``SCAN_FRACT``) has no file list to weigh and the anon lists are scanned as with
``SCAN_ANON``; one VMA per mm (``referenced`` is 0 or 1, never "more than one VMA"); no
rmap-lock contention (never −1), no ``VM_LOCKED`` folios, no writeback (every dirty anon folio is
swapped out at once); ``force_deactivate`` on a no-progress retry is not modelled.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from simulator.accounting import Work
from simulator.costs import CostConfig
from simulator.mm.constants import PTRS_PER_PTE
from simulator.mm.fault import FaultResult, map_faults
from simulator.mm.folio import FolioMap, expand_mask, expand_ranges, weighted_bincount
from simulator.mm.lruvec import InvariantError
from simulator.mm.notify import SecondaryMmu
from simulator.mm.pagetable import PageTables
from simulator.mm.workingset import ClassicWorkingset
from simulator.truth import GroundTruth

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

INACTIVE, ACTIVE = 0, 1
"""``LRU_INACTIVE_ANON``, ``LRU_ACTIVE_ANON`` (the order ``for_each_evictable_lru`` visits)."""
SWAP_CLUSTER_MAX = 32
PAGES_PER_GB_SHIFT = 30 - 12
_HEAD0 = 1 << 40


@dataclass(slots=True)
class _Snapshot:
    """A list's members in tail-to-head order at one moment, with the positions they had."""

    pages: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pos: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    cursor: int = 0


class ClassicLists:
    """The anon lists of one lruvec and the folio flags they use."""

    def __init__(self, nr_pages: int, folios: FolioMap | None = None) -> None:
        self.folios = folios if folios is not None else FolioMap(-(-nr_pages // 512))
        self.lru = np.full(nr_pages, -1, dtype=np.int8)
        """Which list a folio is on: INACTIVE, ACTIVE, or -1 (not on an LRU list)."""
        self.pos = np.zeros(nr_pages, dtype=np.int64)
        """Order on its list: the head has the largest value, isolation takes the smallest."""
        self.referenced = np.zeros(nr_pages, dtype=bool)
        """PG_referenced."""
        self.workingset = np.zeros(nr_pages, dtype=bool)
        """PG_workingset."""
        self.nr = np.zeros(2, dtype=np.int64)
        self._head = _HEAD0
        self._snap = [_Snapshot(), _Snapshot()]

    def resident_pages(self) -> int:
        return int(self.nr[INACTIVE] + self.nr[ACTIVE])

    def add(self, pages: IntArray, lst: int) -> None:
        """``lruvec_add_folio``: put folios at the head of list ``lst``, in order."""
        k = len(pages)
        if k == 0:
            return
        self.lru[pages] = lst
        self.pos[pages] = self._head + np.arange(k, dtype=np.int64)
        self._head += k
        self.nr[lst] += self.folios.total(pages)

    def isolate(self, lst: int, n: int) -> IntArray:
        """``isolate_lru_folios``: take up to ``n`` folios from the tail of list ``lst``.

        The list order is read from a snapshot taken when the previous one ran out: folios
        added since then went to the head, after every snapshot member, and a snapshot member
        that moved (another list, or back to the head) fails the position check.
        """
        snap = self._snap[lst]
        taken: list[IntArray] = []
        need = n
        refreshed = False
        while need > 0:
            if snap.cursor >= len(snap.pages):
                if refreshed:
                    break
                members = np.flatnonzero(self.lru == lst)
                order = np.argsort(self.pos[members], kind="stable")
                snap.pages, snap.cursor = members[order], 0
                snap.pos = self.pos[snap.pages]
                refreshed = True
                continue
            window = slice(snap.cursor, snap.cursor + need)
            cand = snap.pages[window]
            alive = (self.lru[cand] == lst) & (self.pos[cand] == snap.pos[window])
            sizes = self.folios.sizes(cand)
            used, got = len(cand), int(np.count_nonzero(alive))
            if sizes is not None:  # a folio is taken while fewer than n pages were
                pages_alive = np.where(alive, sizes, 0)
                before = np.cumsum(pages_alive) - pages_alive
                alive &= before < need
                got = int(pages_alive[alive].sum())
                if got >= need:
                    used = int(np.flatnonzero(alive)[-1]) + 1
            live = cand[alive]
            snap.cursor += used
            self.lru[live] = -1  # off the list now: a refreshed snapshot must not see it
            taken.append(live)
            need -= got
        out = np.concatenate(taken) if taken else np.zeros(0, dtype=np.int64)
        self.nr[lst] -= self.folios.total(out)
        return out

    def inactive_is_low(self) -> bool:
        """``inactive_is_low``: ``inactive × ratio < active`` with ``ratio = int_sqrt(10 ×
        size in GiB)`` (1 below 1 GiB): 1 GiB → 3, 10 GiB → 10, 100 GiB → 31."""
        inactive, active = int(self.nr[INACTIVE]), int(self.nr[ACTIVE])
        gb = (inactive + active) >> PAGES_PER_GB_SHIFT
        ratio = int(np.sqrt(10 * gb)) if gb else 1
        return inactive * ratio < active

    def check_invariants(self) -> None:
        heads = np.flatnonzero(self.lru >= 0)
        if self.folios.nr_huge:
            tails = heads[(heads % 512 != 0) & self.folios.huge[heads // 512]]
            if len(tails):
                raise InvariantError(f"page {int(tails[0])}: a THP tail on a classic list")
        counts = weighted_bincount(self.lru[heads], self.folios.sizes(heads), 2)
        if not np.array_equal(counts, self.nr):
            raise InvariantError(f"classic list sizes {self.nr.tolist()} != folios on them "
                                 f"{counts.tolist()}")


@dataclass(slots=True)
class ShrinkResult:
    """One ``shrink_active_list`` or ``shrink_inactive_list`` call."""

    scanned: int = 0
    reclaimed: int = 0
    activated: int = 0
    kept: int = 0
    deactivated: int = 0
    rmap_walks: int = 0


@dataclass(frozen=True, slots=True)
class ShrinkList:
    """Request: run ``shrink_list`` on one list with ``nr_to_scan``. Answer: a ShrinkResult."""

    lru: int
    nr_to_scan: int


class Classic:
    """The classic reclaim of one lruvec: lists, shadow entries and the scans over them."""

    def __init__(self, pt: PageTables, notifiers: dict[int, SecondaryMmu | None],
                 truth: GroundTruth, costs: CostConfig, swap_out_ns: float) -> None:
        self.pt = pt
        self.lists = ClassicLists(pt.nr_pages, pt.folios)
        self.ws = ClassicWorkingset(pt.nr_pages)
        self.notifiers = notifiers
        self.truth = truth
        self.costs = costs
        self.swap_out_ns = swap_out_ns
        self.mm_of_page = np.repeat(pt.mm_of_table, PTRS_PER_PTE)
        self.refaults_snapshot = 0
        """``lruvec->refaults[WORKINGSET_ANON]`` at the last ``snapshot_refaults``."""

    # --- faults -------------------------------------------------------------------------------
    def fault_in(self, pages: IntArray, writes: BoolArray) -> FaultResult:
        """``do_anonymous_page`` (a new folio on the inactive list) or ``do_swap_page`` (a
        refault: ``workingset_refault`` decides active or inactive)."""
        if len(pages) == 0:
            return FaultResult()
        lists = self.lists
        swapped = self.pt.swapped[pages]
        refault, fresh = pages[swapped], pages[~swapped]
        activate, restore = self.ws.workingset_refault(refault, int(lists.nr[ACTIVE]))
        active = refault[activate]
        folios, (n_thp, folded) = map_faults(self.pt, pages, writes)
        lists.referenced[folios] = False
        lists.workingset[folios] = False
        lists.workingset[refault[restore]] = True
        # in fault order: the new folios are added to the LRU in ascending page order
        if folios is pages:  # no THP: the folios are the faulting pages, in order
            is_active = np.zeros(len(pages), dtype=bool)
            is_active[np.flatnonzero(swapped)[activate]] = True
        else:
            is_active = np.isin(folios, active)
        lists.add(folios[~is_active], INACTIVE)
        lists.add(folios[is_active], ACTIVE)
        return FaultResult(first_touch=len(fresh) - folded, swap_in=len(refault),
                           refault_recent=int(np.count_nonzero(activate)), thp=n_thp)

    def mark_accessed(self, pages: IntArray) -> None:
        """``folio_mark_accessed``: the first access sets PG_referenced; a second one on the
        inactive list activates the folio (``folio_activate``, PG_referenced cleared,
        ``workingset_activation`` ticks the non-resident clock)."""
        lists = self.lists
        pages = np.unique(lists.folios.heads(pages))
        pages = pages[lists.lru[pages] >= 0]
        first = ~lists.referenced[pages]
        lists.referenced[pages[first]] = True
        again = pages[~first & (lists.lru[pages] == INACTIVE)]
        if len(again):
            lists.lru[again] = -1
            lists.nr[INACTIVE] -= lists.folios.total(again)
            lists.referenced[again] = False
            lists.add(again, ACTIVE)
            self.ws.workingset_activation(lists.folios.total(again))

    # --- folio_referenced ---------------------------------------------------------------------
    def folio_referenced(self, pages: IntArray, work: Work, source: str) -> BoolArray:
        """``folio_referenced`` of each folio: one rmap walk, ``ptep_clear_flush_young_notify``
        on its PTE (primary A bit, plus one ``clear_flush_young`` per PTE of an mm with a
        notifier). True = referenced."""
        work.cpu_ns += len(pages) * (self.costs.rmap_walk_ns + self.costs.pte_scan_ns)
        referenced = self.pt.young[pages].copy()
        self.pt.young[pages] = False
        sizes = self.lists.folios.sizes(pages)
        mms = self.mm_of_page[pages]
        for mm_id in np.unique(mms):
            notifier = self.notifiers.get(int(mm_id))
            if notifier is None:
                continue
            sel = mms == mm_id
            small = sel if sizes is None else sel & (sizes == 1)
            if sizes is None or small.any():
                referenced[small] |= notifier.clear_flush_young(pages[small], work)
            if sizes is not None and (sel & ~small).any():
                large = sel & ~small  # PMD-mapped: pmdp_clear_flush_young_notify
                referenced[large] |= notifier.pmd_clear_flush_young(pages[large],
                                                                    sizes[large], work)
        self.truth.score(pages, referenced, source)
        return referenced

    # --- the two list scans ---------------------------------------------------------------------
    def shrink_active_list(self, nr_to_scan: int, work: Work) -> ShrinkResult:
        """Deactivate up to ``nr_to_scan`` folios from the active tail (anon: all of them)."""
        lists = self.lists
        pages = lists.isolate(ACTIVE, nr_to_scan)
        work.cpu_ns += len(pages) * self.costs.folio_sort_ns
        self.folio_referenced(pages, work, "deactivate")
        lists.workingset[pages] = True
        lists.add(pages, INACTIVE)
        n = lists.folios.total(pages)
        return ShrinkResult(scanned=n, deactivated=n, rmap_walks=len(pages))

    def shrink_inactive_list(self, nr_to_scan: int, work: Work) -> ShrinkResult:
        """Isolate up to ``nr_to_scan`` folios from the inactive tail and sort them by
        ``folio_check_references``: ACTIVATE, KEEP or RECLAIM."""
        lists = self.lists
        pages = lists.isolate(INACTIVE, nr_to_scan)
        work.cpu_ns += len(pages) * self.costs.folio_sort_ns
        referenced = self.folio_referenced(pages, work, "rmap")
        was_referenced = lists.referenced[pages].copy()  # folio_test_clear_referenced
        lists.referenced[pages] = referenced  # set again when the PTEs were young
        activate = referenced & was_referenced
        keep = referenced & ~was_referenced
        reclaim = pages[~referenced]
        total = lists.folios.total
        reclaimed = total(reclaim)
        self._reclaim(reclaim, work)
        # move_folios_to_lru: the survivors go back in order, each to its list's head
        lists.add(pages[keep], INACTIVE)
        lists.add(pages[activate], ACTIVE)
        self.ws.workingset_activation(total(pages[activate]))
        return ShrinkResult(scanned=total(pages), reclaimed=reclaimed,
                            activated=total(pages[activate]), kept=total(pages[keep]),
                            rmap_walks=len(pages))

    def _reclaim(self, pages: IntArray, work: Work) -> None:
        """Unmap (``invalidate_range_start`` for KVM), swap out, store the shadow entries."""
        if len(pages) == 0:
            return
        sizes = self.lists.folios.sizes(pages)
        mms = self.mm_of_page[pages]
        for mm_id in np.unique(mms):
            notifier = self.notifiers.get(int(mm_id))
            if notifier is not None:
                sel = mms == mm_id
                notifier.invalidate_range(pages[sel], work,
                                          sizes[sel] if sizes is not None else None)
        self.ws.workingset_eviction(pages, self.lists.workingset[pages], sizes)
        self.lists.referenced[pages] = False
        self.lists.workingset[pages] = False
        swapped = expand_ranges(pages, sizes)
        self.pt.unmap_to_swap(swapped)
        work.cpu_ns += len(swapped) * self.swap_out_ns

    # --- shrink_lruvec ------------------------------------------------------------------------
    def may_deactivate(self) -> bool:
        """``prepare_scan_control``: age the active anon list when refaults were activated
        since the last snapshot, or when the inactive list is low."""
        return self.ws.activate != self.refaults_snapshot or self.lists.inactive_is_low()

    def snapshot_refaults(self) -> None:
        """``snapshot_refaults``: at the end of a reclaim invocation."""
        self.refaults_snapshot = self.ws.activate

    def shrink_lruvec(self, priority: int,
                      nr_to_reclaim: int) -> Generator[ShrinkList, ShrinkResult, int]:
        """``shrink_lruvec`` (see the module docstring); returns the pages reclaimed."""
        lists = self.lists
        may_deactivate = self.may_deactivate()
        nr = [int(lists.nr[INACTIVE]) >> priority, int(lists.nr[ACTIVE]) >> priority]
        reclaimed = 0
        while nr[INACTIVE] or nr[ACTIVE]:
            for lru in (INACTIVE, ACTIVE):
                if not nr[lru]:
                    continue
                n = min(nr[lru], SWAP_CLUSTER_MAX)
                nr[lru] -= n
                if lru == ACTIVE and not may_deactivate:
                    continue  # sc->skipped_deactivate
                result = yield ShrinkList(lru, n)
                reclaimed += result.reclaimed
            if reclaimed >= nr_to_reclaim:
                break
        if lists.inactive_is_low():
            yield ShrinkList(ACTIVE, SWAP_CLUSTER_MAX)
        return reclaimed

    def check_invariants(self) -> None:
        self.lists.check_invariants()
        on = expand_mask(self.lists.lru >= 0, self.lists.folios)
        if np.any(on != self.pt.present):
            page = int(np.flatnonzero(on != self.pt.present)[0])
            raise InvariantError(f"page {page}: on a classic list but not mapped, or the reverse")


def shrink_list(classic: Classic, request: ShrinkList, work: Work) -> ShrinkResult:
    """Carry out a :class:`ShrinkList` request (``shrink_list``) into ``work``."""
    if request.lru == ACTIVE:
        return classic.shrink_active_list(request.nr_to_scan, work)
    return classic.shrink_inactive_list(request.nr_to_scan, work)


__all__ = ["ACTIVE", "INACTIVE", "SWAP_CLUSTER_MAX", "Classic", "ClassicLists", "ShrinkList",
           "ShrinkResult", "shrink_list"]

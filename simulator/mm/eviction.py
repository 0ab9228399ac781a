"""The eviction: ``evict_folios`` → ``scan_folios`` → ``sort_folio`` → rmap → look-around.

Models mm/vmscan.c and mm/rmap.c ``folio_referenced_one``, with the release differences of
``simulator.kernels`` (promotion, putback, scan budget):

1. ``scan_folios`` takes folios from the tail of the oldest generation's list, at most
   ``MAX_LRU_BATCH`` scanned (6.16: at most ``nr_to_scan``) and ``MIN_LRU_BATCH`` isolated per
   call. ``sort_folio`` moves
   promoted folios (gen rewritten by aging or look-around) to their generation's list, moves
   protected ones (tier above ``get_tier_idx``, or lazily promoted) to ``min_seq + 1`` and
   counts them, and isolates the rest.
2. ``try_to_inc_min_seq``; if only two generations are left, report nothing scanned (forces
   aging).
3. ``shrink_folio_list`` → ``folio_check_references``: the rmap walk (``rmap_walk_ns``) reaches
   the folio's PTE. With notifier mode ``per_page`` (6.12+) ``lru_gen_look_around`` test-and-
   clears the pivot with ``ptep_clear_young_notify`` and, if young, scans up to 64 neighbouring
   PTEs in the same PTE table (same VMA), promoting young ones with ``folio_update_gen`` and
   feeding the Bloom filter (``suitable_to_scan``). With ``blind`` (before 6.11.7) look-around
   runs only if the *primary* PTE is young and sees primary A bits only, then
   ``ptep_clear_flush_young_notify`` asks the secondary MMU about the pivot alone.
4. Referenced folios (6.14+): ``lru_gen_set_refs`` → second sighting ACTIVATE (PG_workingset,
   ``max_seq``) or first sighting KEEP (PG_referenced, ``max_seq - 1``, as an anon folio not in
   the swap cache). Before 6.14 every referenced mapped folio is put back PG_active in the
   youngest generation with its refs flags cleared. Unreferenced ones are unmapped
   (``invalidate_range_start`` for KVM, a remote TLB flush per present SPTE), swapped out, and
   leave a shadow token (``lru_gen_eviction``).

Large folios (PMD-mapped THPs, ``simulator.mm.folio``): ``scan_folios``' budget counts folios
while its isolation goal (``MIN_LRU_BATCH``) and the returned scan count are in pages, so one THP
fills a batch (``scanned += delta`` with ``delta = folio_nr_pages``, kernel-round2 D.2). The rmap
check of a PMD-mapped THP is ``pmdp_clear_flush_young_notify`` over PMD_SIZE (the primary PMD A
bit and one ``clear_flush_young`` into KVM, flushing as the release does), with no look-around,
in every release. An unreferenced THP is unmapped by one invalidation of its 2 MiB and swapped
out whole: ``add_to_swap`` gets 512 contiguous slots on zram and SSD alike (both allocate
clusters; ``CONFIG_THP_SWAP`` is in every modelled release, x86-64 since ≈4.14 and arm64
since ≈6.0), zram compresses and stores each 4 KiB page separately (``zram_bio_write``), so it
costs 512 page writes; ``THP_SWPOUT_FALLBACK`` (no free cluster: split and swap per page) is not
modelled. The look-around of a PTE-mapped large folio's other PTEs (≤6.13 marks them, ≥6.14
skips the isolated folio) never arises: every THP here is PMD-mapped until it is swapped out.

Simplifications: anonymous, clean-or-dirty-alike folios (every dirty anon page is swapped out;
no writeback wait, no ``folio_rotate_reclaimable`` retry), no rmap lock contention, and the
oldest list is snapshotted per generation (folios added at its head meanwhile are seen when the
snapshot is used up, as the kernel would reach them last anyway). A batch's rmap checks all
happen before its look-arounds, and look-around never touches an isolated folio (6.14+
``get_pfn_folio``; before 6.14 it marked a young isolated neighbour PG_referenced, which kept
that folio without its own rmap walk: the folio's fate is the same, one rmap walk is saved).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulator.accounting import Work
from simulator.costs import CostConfig
from simulator.mm.aging import Aging
from simulator.mm.bloom import pmd_item
from simulator.mm.constants import (
    MAX_LRU_BATCH,
    MAX_NR_TIERS,
    MIN_LRU_BATCH,
    MIN_NR_GENS,
    PTRS_PER_PTE,
    SUITABLE_TO_SCAN_N,
)
from simulator.mm.folio import expand_ranges, weighted_bincount
from simulator.mm.lruvec import LAZY_REFS, Lruvec, lru_gen_from_seq
from simulator.mm.notify import SecondaryMmu
from simulator.mm.pagetable import PageTables
from simulator.mm.workingset import Workingset
from simulator.truth import GroundTruth

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]



@dataclass(slots=True)
class EvictResult:
    """One ``evict_folios`` call."""

    scanned: int = 0
    sorted: int = 0
    isolated: int = 0
    reclaimed: int = 0
    activated: int = 0
    kept: int = 0
    look_arounds: int = 0
    rmap_walks: int = 0
    reclaimed_thp: int = 0
    """THPs among the reclaimed pages (swapped out whole)."""


class Eviction:
    """The eviction half of MGLRU for one lruvec."""

    def __init__(self, pt: PageTables, lruvec: Lruvec, aging: Aging, workingset: Workingset,
                 notifiers: dict[int, SecondaryMmu | None], truth: GroundTruth,
                 costs: CostConfig, swap_out_ns: float, *, look_around: bool = True,
                 putback: str = "oldest_only", scan_cap: str = "batch") -> None:
        self.pt = pt
        self.lruvec = lruvec
        self.aging = aging
        self.workingset = workingset
        self.notifiers = notifiers
        self.truth = truth
        self.costs = costs
        self.swap_out_ns = swap_out_ns
        self.look_around = look_around
        self.putback_active = putback == "active_if_mapped"
        """Before 6.14 every rejected mapped folio got PG_active (youngest generation) and
        lost its refs flags; since, only one that would land in the oldest generation."""
        self.cap_by_nr_to_scan = scan_cap == "nr_to_scan"
        """6.16: ``scan_folios`` scans at most ``min(nr_to_scan, MAX_LRU_BATCH)``."""
        self.mm_of_page = np.repeat(pt.mm_of_table, PTRS_PER_PTE)
        self._order: IntArray = np.zeros(0, dtype=np.int64)
        self._cursor = 0
        self._key: tuple[int, int] = (-1, -1)

    # --- scan_folios --------------------------------------------------------------------------
    def _oldest(self, budget: int) -> tuple[IntArray, IntArray]:
        """Up to ``budget`` candidates from the oldest list's tail, and their snapshot indices.

        The snapshot is refreshed when ``min_seq`` changes, when folios were appended to a
        list's tail, or when it is used up.
        """
        lv = self.lruvec
        old_gen = lru_gen_from_seq(lv.min_seq)
        key = (lv.min_seq, lv.list_version)
        refreshed = False
        while True:
            if key != self._key or self._cursor >= len(self._order):
                if refreshed:
                    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
                self._order = lv.list_members(old_gen)
                self._cursor = 0
                self._key = key
                refreshed = True
            raw = self._order[self._cursor:self._cursor + budget]
            idx = np.flatnonzero(lv.lst[raw] == old_gen)
            if len(idx):
                return raw[idx], idx + self._cursor
            self._cursor += len(raw)  # every folio of this stretch already left the list

    def scan_folios(self, nr_to_scan: int, tier_idx: int, work: Work,
                    res: EvictResult) -> IntArray:
        """Sort or isolate folios from the oldest generation; returns the isolated pages."""
        lv = self.lruvec
        if lv.nr_gens == MIN_NR_GENS:
            return np.zeros(0, dtype=np.int64)
        old_gen = lru_gen_from_seq(lv.min_seq)
        budget = min(nr_to_scan, MAX_LRU_BATCH) if self.cap_by_nr_to_scan else MAX_LRU_BATCH
        cand, where = self._oldest(budget)
        if len(cand) == 0:
            return np.zeros(0, dtype=np.int64)
        gen = lv.gen[cand]
        refs, ws = lv.refs[cand], lv.workingset[cand]
        tier = lv.tier_of(refs, ws)
        lazy = refs.astype(np.int64) + ws == LAZY_REFS
        promoted = gen != old_gen
        protected = ~promoted & ((tier > tier_idx) | lazy)
        isolate = ~promoted & ~protected
        sizes = lv.folios.sizes(cand)
        # Stop once MIN_LRU_BATCH pages are isolated (sequential semantics, vectorised).
        n_iso = np.cumsum(isolate if sizes is None else isolate * sizes)
        hit = np.flatnonzero(n_iso >= MIN_LRU_BATCH)
        cut = int(hit[0]) + 1 if len(hit) else len(cand)
        cand, gen, promoted, protected, isolate = (
            cand[:cut], gen[:cut], promoted[:cut], protected[:cut], isolate[:cut])
        tier, lazy = tier[:cut], lazy[:cut]
        sizes = sizes[:cut] if sizes is not None else None
        self._cursor = int(where[cut - 1]) + 1
        # promoted: list_move to the head of the gen it was promoted to
        p = cand[promoted]
        lv.move_to_head(p, gen[promoted].astype(np.int64))
        # protected: folio_inc_gen to min_seq + 1, counted unless lazily promoted
        q = cand[protected]
        new_gen = lv.folio_inc_gen(q)
        lv.move_to_head(q, new_gen)
        counted = protected & ~lazy
        lv.protected += weighted_bincount(
            tier[counted], sizes[counted] if sizes is not None else None, MAX_NR_TIERS)
        iso = cand[isolate]
        lv.del_folios(iso)
        if sizes is None:
            res.scanned += len(cand)
            res.sorted += len(p) + len(q)
            res.isolated += len(iso)
        else:
            res.scanned += int(sizes.sum())
            res.sorted += int(sizes[promoted | protected].sum())
            res.isolated += int(sizes[isolate].sum())
        work.cpu_ns += len(cand) * self.costs.folio_sort_ns
        return np.asarray(iso, dtype=np.int64)

    # --- evict_folios -------------------------------------------------------------------------
    def evict_folios(self, nr_to_scan: int, work: Work) -> EvictResult:
        """One ``evict_folios`` call (anon only: ``get_type_to_scan`` is always anon)."""
        res = EvictResult()
        lv = self.lruvec
        isolated = self.scan_folios(nr_to_scan, lv.get_tier_idx(), work, res)
        if lv.try_to_inc_min_seq():
            res.scanned += 1
        if lv.min_seq + MIN_NR_GENS > lv.max_seq:
            res.scanned = 0
        if len(isolated) == 0:
            return res
        referenced = self._folio_referenced(isolated, work, res)
        ref_pages = isolated[referenced]
        self._putback(ref_pages, res)
        self._reclaim(isolated[~referenced], work, res)
        return res

    def _putback(self, pages: IntArray, res: EvictResult) -> None:
        """Referenced folios go back on the LRU (``folio_check_references``, then the putback
        of ``evict_folios``)."""
        lv = self.lruvec
        if lv.two_sightings:
            # 6.14+: lru_gen_set_refs → second sighting ACTIVATE, first KEEP
            activate = lv.lru_gen_set_refs(pages)
            res.activated += int(activate.sum())
            res.kept += int((~activate).sum())
        else:
            # before 6.14 the MGLRU rmap check was the classic one; isolation had cleared
            # PG_referenced, so a referenced folio is KEPT (ACTIVATE needs two referencing
            # VMAs), and either way the putback below makes it PG_active
            res.kept += len(pages)
        if self.putback_active:
            lv.refs[pages] = 0
            lv.workingset[pages] = False
        elif lv.max_seq - 1 == lv.min_seq:
            # "don't add rejected folios to the oldest generation": PG_active, refs cleared
            lv.refs[pages] = 0
        lv.add_folios(pages)

    def _folio_referenced(self, pages: IntArray, work: Work, res: EvictResult) -> np.ndarray:
        """``folio_referenced`` for each isolated folio, in order (look-around is stateful)."""
        pt = self.pt
        res.rmap_walks += len(pages)
        work.cpu_ns += len(pages) * (self.costs.rmap_walk_ns + self.costs.pte_scan_ns)
        referenced = np.zeros(len(pages), dtype=bool)
        small = ~self.lruvec.folios.is_large(pages) if self.lruvec.folios.nr_huge else None
        if small is not None and not small.all():
            referenced[~small] = self._pmd_referenced(pages[~small], work)
        mms = self.mm_of_page[pages]
        for mm_id in np.unique(mms if small is None else mms[small]):
            sel = np.flatnonzero(mms == mm_id if small is None else (mms == mm_id) & small)
            notifier = self.notifiers.get(int(mm_id))
            pv = pages[sel]
            pyoung = pt.young[pv].copy()
            pt.young[pv] = False
            if notifier is None:
                young, look = pyoung, pyoung
            else:
                young, look = notifier.pivot_young(pv, pyoung, work)
            referenced[sel] = young
            self.truth.score(pv, young, "rmap")
            if self.look_around and look.any():
                self.look_around_many(pv[look], int(mm_id), notifier, work)
                res.look_arounds += int(look.sum())
        return referenced

    def _pmd_referenced(self, heads: IntArray, work: Work) -> BoolArray:
        """``folio_referenced_one`` on PMD-mapped THPs: ``pmdp_clear_flush_young_notify``
        (the PMD's A bit, and KVM over PMD_SIZE), no look-around."""
        pt = self.pt
        referenced = pt.young[heads].copy()
        pt.young[heads] = False
        mms = self.mm_of_page[heads]
        for mm_id in np.unique(mms):
            notifier = self.notifiers.get(int(mm_id))
            if notifier is not None:
                sel = np.flatnonzero(mms == mm_id)
                referenced[sel] |= notifier.pmd_clear_flush_young(
                    heads[sel], np.full(len(sel), PTRS_PER_PTE, dtype=np.int64), work)
        self.truth.score(heads, referenced, "rmap")
        return referenced

    def lru_gen_look_around(self, pivot: int, mm_id: int, notifier: SecondaryMmu | None,
                            work: Work) -> None:
        """Scan the ≤64 PTEs around one young pivot inside its PTE table and VMA."""
        self.look_around_many(np.array([pivot], dtype=np.int64), mm_id, notifier, work)

    def look_around_many(self, pivots: IntArray, mm_id: int, notifier: SecondaryMmu | None,
                         work: Work) -> None:
        """``lru_gen_look_around`` for several pivots, in their order.

        Look-arounds in different PTE tables touch disjoint PTEs, so they run together; a
        table's second pivot runs in a later round and sees the A bits its first one cleared,
        as it would one after the other.
        """
        tables = pivots // PTRS_PER_PTE
        order = np.argsort(tables, kind="stable")
        st = tables[order]
        first_of_run = np.r_[True, st[1:] != st[:-1]]
        run_start = np.maximum.accumulate(np.where(first_of_run, np.arange(len(st)), 0))
        occurrence = np.empty(len(pivots), dtype=np.int64)
        occurrence[order] = np.arange(len(st)) - run_start
        for r in range(int(occurrence.max()) + 1 if len(pivots) else 0):
            self._look_around_round(pivots[occurrence == r], mm_id, notifier, work)

    def _look_around_round(self, pivots: IntArray, mm_id: int,
                           notifier: SecondaryMmu | None, work: Work) -> None:
        """Look-around for pivots in distinct PTE tables, vectorised over the windows."""
        pt, lv = self.pt, self.lruvec
        region = pt.region_of(mm_id)
        tables = pivots // PTRS_PER_PTE
        start = np.maximum(tables * PTRS_PER_PTE, region.start)
        end = np.minimum(tables * PTRS_PER_PTE + PTRS_PER_PTE - 1, region.end - 1) + 1
        keep = end - start > 1  # a one-page window: nothing to look around
        pivots, tables, start, end = pivots[keep], tables[keep], start[keep], end[keep]
        if len(pivots) == 0:
            return
        # clamp to MIN_LRU_BATCH pages the kernel's way: the first or last 64 pages of the
        # table when the pivot is within 32 of an end, else 32 on each side
        half = MIN_LRU_BATCH // 2
        wide = end - start > MIN_LRU_BATCH
        near_start = wide & (pivots - start < half)
        near_end = wide & ~near_start & (end - pivots < half)
        middle = wide & ~near_start & ~near_end
        end = np.where(near_start, start + MIN_LRU_BATCH, end)
        start = np.where(near_end, end - MIN_LRU_BATCH, start)
        start = np.where(middle, pivots - half, start)
        end = np.where(middle, pivots + half, end)
        width = end - start
        offsets = np.arange(MIN_LRU_BATCH, dtype=np.int64)
        valid = offsets[None, :] < width[:, None]
        win = start[:, None] + offsets[None, :]
        safe = np.where(valid, win, 0)
        work.cpu_ns += int(width.sum()) * self.costs.pte_scan_ns
        # get_pte_pfn + get_pfn_folio: the isolated pivot (gen -1) is skipped
        present = valid & pt.present[safe]
        on_lru = present & (lv.gen[safe] >= 0)
        pyoung = pt.young[safe] & valid
        consult = notifier is not None and notifier.examines_old_ptes
        examined = on_lru & (pyoung | consult)
        pt.young[win[examined]] = False
        young = pyoung & examined
        if notifier is not None:
            padded = np.where(valid, win, -2)  # -2: never contiguous with a real page
            young |= notifier.window_young(padded, on_lru, work, valid=present) & on_lru
        young_pages = win[young]
        lv.folio_update_gen(young_pages)
        work.cpu_ns += len(young_pages) * self.costs.gen_update_ns
        self.truth.score(win[on_lru], young[on_lru], "look_around")
        # feedback from rmap walkers to page table walkers (the pivot counts as young)
        suitable = (1 + young.sum(axis=1)) * SUITABLE_TO_SCAN_N >= width
        if suitable.any():
            work.cpu_ns += int(suitable.sum()) * self.costs.bloom_ns
            self.aging.bloom.update(lv.max_seq, pmd_item(mm_id, tables[suitable]))

    def _reclaim(self, pages: IntArray, work: Work, res: EvictResult) -> None:
        """Unmap, swap out and leave shadow tokens (``shrink_folio_list`` success path); a
        THP goes whole (one invalidation of 2 MiB, 512 slots, 512 zram page writes)."""
        if len(pages) == 0:
            return
        sizes = self.lruvec.folios.sizes(pages)
        mms = self.mm_of_page[pages]
        for mm_id in np.unique(mms):
            notifier = self.notifiers.get(int(mm_id))
            if notifier is not None:
                sel = mms == mm_id
                notifier.invalidate_range(pages[sel], work,
                                          sizes[sel] if sizes is not None else None)
        self.workingset.lru_gen_eviction(self.lruvec, pages)
        swapped = expand_ranges(pages, sizes)
        self.pt.unmap_to_swap(swapped)
        work.cpu_ns += len(swapped) * self.swap_out_ns
        res.reclaimed += len(swapped)
        res.reclaimed_thp += 0 if sizes is None else int(np.count_nonzero(sizes > 1))

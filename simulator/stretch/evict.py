"""``simulator.mm.eviction`` compiled: one ``evict_folios`` call of a host-only lruvec.

The loop form of :class:`~simulator.mm.eviction.Eviction` for mms without a secondary MMU and
folios of one page: ``scan_folios`` on the same oldest-list snapshot (its order, cursor and key
travel in :class:`Snapshot`), the rmap check and ``lru_gen_look_around`` in the same rounds,
the putback and the swap-out with shadow tokens. Every float the reference adds to
``Work.cpu_ns`` is added here in the same order, with the same operands, so the step's time is
bit for bit the reference's.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from simulator.jit import njit
from simulator.mm.constants import (
    MAX_LRU_BATCH,
    MAX_NR_GENS,
    MIN_LRU_BATCH,
    MIN_NR_GENS,
    PTRS_PER_PTE,
    SUITABLE_TO_SCAN_N,
)
from simulator.mm.lruvec import LAZY_REFS
from simulator.stretch.arrays import (
    BLOOM,
    FOLIO_SORT,
    GEN_UPDATE,
    LOOK_AROUND,
    PTE_SCAN,
    RMAP,
    RMAP_WALK,
    SWAP_OUT,
    BloomArrays,
    PtArrays,
    ShadowArrays,
    TruthArrays,
    bloom_update,
    end_scoring,
    score,
)
from simulator.stretch.lruvec import (
    LIST_VERSION,
    MAX_SEQ,
    MIN_SEQ,
    TWO_SIGHTINGS,
    LruvecArrays,
    add_folios,
    del_folio,
    get_tier_idx,
    inc_gen,
    list_members,
    move_to_head,
    set_refs,
    tier_of,
    try_to_inc_min_seq,
    update_gen,
)

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# EvictResult fields, in order
SCANNED, SORTED, ISOLATED, RECLAIMED, ACTIVATED, KEPT, LOOK_AROUNDS, RMAP_WALKS = range(8)
NR_RESULTS = 8
# the switches (``flags``)
LOOK_AROUND_ON, PUTBACK_ACTIVE, CAP_BY_NR_TO_SCAN = range(3)


class Snapshot(NamedTuple):
    """``Eviction._order`` in a buffer of the lruvec's size, and ``[length, cursor, key's
    min_seq, key's list_version]``."""

    order: IntArray
    s: IntArray


LENGTH, CURSOR, KEY_MIN_SEQ, KEY_VERSION = range(4)


class Mm(NamedTuple):
    """The one mm whose folios are evicted (the host task's): its id and page range."""

    mm_id: int
    start: int
    end: int


@njit
def _refresh(lv: LruvecArrays, snap: Snapshot) -> None:
    """A new snapshot of the oldest list (``Eviction._oldest``'s refresh)."""
    s = snap.s
    members = list_members(lv, lv.s[MIN_SEQ] % MAX_NR_GENS)
    snap.order[:len(members)] = members
    s[LENGTH], s[CURSOR], s[KEY_MIN_SEQ], s[KEY_VERSION] = (
        len(members), 0, lv.s[MIN_SEQ], lv.s[LIST_VERSION])


@njit
def _window_start(lv: LruvecArrays, snap: Snapshot, budget: int) -> int:
    """``Eviction._oldest``'s choice of window: the snapshot (refreshed when its key changed
    or it is used up) and the cursor of the first ``budget`` entries holding a folio still on
    the oldest list; -1 when there is none. The reference then takes the window's folios
    still on the list as candidates; :func:`scan_folios` reads them lazily, in order."""
    old_gen = lv.s[MIN_SEQ] % MAX_NR_GENS
    refreshed = False
    s = snap.s
    while True:
        if lv.s[MIN_SEQ] != s[KEY_MIN_SEQ] or lv.s[LIST_VERSION] != s[KEY_VERSION] \
                or s[CURSOR] >= s[LENGTH]:
            if refreshed:
                return -1
            _refresh(lv, snap)
            refreshed = True
        lo, hi = int(s[CURSOR]), min(s[CURSOR] + budget, s[LENGTH])
        for i in range(lo, hi):
            if lv.lst[snap.order[i]] == old_gen:
                return lo
        s[CURSOR] = hi  # every folio of this stretch already left the list


@njit
def _sort_and_isolate(lv: LruvecArrays, promoted: IntArray, protected: IntArray,
                      iso: IntArray) -> None:
    """The scan's effects, in the reference's order: promoted folios to the head of their
    generation's list, protected ones ``folio_inc_gen``'d to the head of theirs, the rest off
    the LRU."""
    gens = np.empty(len(promoted), dtype=np.int64)
    for i in range(len(promoted)):
        gens[i] = lv.gen[promoted[i]]
    move_to_head(lv, promoted, gens)
    gens = np.empty(len(protected), dtype=np.int64)
    for i in range(len(protected)):
        gens[i] = inc_gen(lv, protected[i])
    move_to_head(lv, protected, gens)
    for i in range(len(iso)):
        del_folio(lv, iso[i])


@njit
def scan_folios(lv: LruvecArrays, snap: Snapshot, nr_to_scan: int, tier_idx: int,
                flags: BoolArray, costs: npt.NDArray[np.float64], res: IntArray,
                cpu: npt.NDArray[np.float64]) -> IntArray:
    """Sort or isolate folios from the oldest generation; returns the isolated ones.

    The reference draws every candidate of the window, then stops at the
    ``MIN_LRU_BATCH``-th isolated one; here the window is read up to that folio only (the
    same folios, in the same order, with the same effects)."""
    empty = np.zeros(0, dtype=np.int64)
    if lv.s[MAX_SEQ] - lv.s[MIN_SEQ] + 1 == MIN_NR_GENS:
        return empty
    old_gen = lv.s[MIN_SEQ] % MAX_NR_GENS
    budget = min(nr_to_scan, MAX_LRU_BATCH) if flags[CAP_BY_NR_TO_SCAN] else MAX_LRU_BATCH
    lo = _window_start(lv, snap, budget)
    if lo < 0:
        return empty
    hi = min(lo + budget, snap.s[LENGTH])
    promoted = np.empty(hi - lo, dtype=np.int64)
    protected = np.empty(hi - lo, dtype=np.int64)
    iso = np.empty(min(hi - lo, MIN_LRU_BATCH), dtype=np.int64)
    n_pro = n_prot = n_iso = cut = 0
    last = lo
    for i in range(lo, hi):
        p = snap.order[i]
        if lv.lst[p] != old_gen:
            continue  # not a candidate: it left the list
        last = i
        cut += 1
        refs, ws = int(lv.refs[p]), bool(lv.ws[p])
        tier = tier_of(lv, refs, ws)
        lazy = refs + (1 if ws else 0) == LAZY_REFS
        if lv.gen[p] != old_gen:
            promoted[n_pro] = p
            n_pro += 1
        elif tier > tier_idx or lazy:
            protected[n_prot] = p
            n_prot += 1
            if not lazy:
                lv.protected[tier] += 1
        else:
            iso[n_iso] = p
            n_iso += 1
            if n_iso >= MIN_LRU_BATCH:
                break
    snap.s[CURSOR] = last + 1
    _sort_and_isolate(lv, promoted[:n_pro], protected[:n_prot], iso[:n_iso])
    res[SCANNED] += cut
    res[SORTED] += n_pro + n_prot
    res[ISOLATED] += n_iso
    cpu[0] += cut * costs[FOLIO_SORT]
    out: IntArray = iso[:n_iso]
    return out


@njit
def _window(pivot: int, mm: Mm) -> tuple[int, int]:
    """The look-around window of a pivot: its PTE table inside the VMA, clamped to
    ``MIN_LRU_BATCH`` pages the kernel's way; (start, end), end - start <= 1 when empty."""
    table = pivot // PTRS_PER_PTE
    start = max(table * PTRS_PER_PTE, mm.start)
    end = min(table * PTRS_PER_PTE + PTRS_PER_PTE - 1, mm.end - 1) + 1
    half = MIN_LRU_BATCH // 2
    if end - start > MIN_LRU_BATCH:
        if pivot - start < half:
            end = start + MIN_LRU_BATCH
        elif end - pivot < half:
            start = end - MIN_LRU_BATCH
        else:
            start, end = pivot - half, pivot + half
    return start, end


@njit
def look_around_round(lv: LruvecArrays, pt: PtArrays, truth: TruthArrays, bloom: BloomArrays,
                      pivots: IntArray, mm: Mm, costs: npt.NDArray[np.float64],
                      cpu: npt.NDArray[np.float64], out: IntArray) -> None:
    """``_look_around_round``: pivots in distinct PTE tables, scanned together."""
    n = 0
    widths = 0
    for i in range(len(pivots)):
        start, end = _window(pivots[i], mm)
        if end - start > 1:
            n += 1
            widths += end - start
    if n == 0:
        return
    cpu[0] += widths * costs[PTE_SCAN]
    young_total = suitable = 0
    suitable_tables = np.empty(n, dtype=np.int64)
    for i in range(len(pivots)):
        start, end = _window(pivots[i], mm)
        if end - start <= 1:
            continue
        nyoung = 0
        for p in range(start, end):
            if pt.present[p] and lv.gen[p] >= 0:
                young = bool(pt.young[p])
                pt.young[p] = False
                if young:
                    update_gen(lv, p)
                    nyoung += 1
                score(truth, p, young, LOOK_AROUND, out)
        young_total += nyoung
        if (1 + nyoung) * SUITABLE_TO_SCAN_N >= end - start:
            suitable_tables[suitable] = pivots[i] // PTRS_PER_PTE
            suitable += 1
    end_scoring(truth, LOOK_AROUND)
    cpu[0] += young_total * costs[GEN_UPDATE]
    if suitable:
        cpu[0] += suitable * costs[BLOOM]
        for k in range(suitable):
            bloom_update(bloom, lv.s[MAX_SEQ], mm.mm_id, suitable_tables[k])


@njit
def look_around_many(lv: LruvecArrays, pt: PtArrays, truth: TruthArrays, bloom: BloomArrays,
                     pivots: IntArray, mm: Mm, costs: npt.NDArray[np.float64],
                     cpu: npt.NDArray[np.float64], out: IntArray) -> None:
    """Round r takes the r-th pivot of each PTE table, in the pivots' order."""
    tables = pivots // PTRS_PER_PTE
    occurrence = np.zeros(len(pivots), dtype=np.int64)
    rounds = 0
    for i in range(len(pivots)):
        for j in range(i):
            if tables[j] == tables[i]:
                occurrence[i] += 1
        rounds = max(rounds, occurrence[i] + 1)
    for r in range(rounds):
        look_around_round(lv, pt, truth, bloom, pivots[occurrence == r].copy(), mm, costs,
                          cpu, out)


@njit
def folio_referenced(lv: LruvecArrays, pt: PtArrays, truth: TruthArrays, bloom: BloomArrays,
                     pages: IntArray, mm: Mm, flags: BoolArray,
                     costs: npt.NDArray[np.float64], res: IntArray,
                     cpu: npt.NDArray[np.float64]) -> BoolArray:
    """The rmap check of each isolated folio (no secondary MMU), then its look-arounds."""
    out = np.zeros(4, dtype=np.int64)
    res[RMAP_WALKS] += len(pages)
    cpu[0] += len(pages) * (costs[RMAP_WALK] + costs[PTE_SCAN])
    referenced = np.empty(len(pages), dtype=np.bool_)
    for i in range(len(pages)):
        referenced[i] = pt.young[pages[i]]
        pt.young[pages[i]] = False
        score(truth, pages[i], referenced[i], RMAP, out)
    end_scoring(truth, RMAP)
    if flags[LOOK_AROUND_ON] and referenced.any():
        look_around_many(lv, pt, truth, bloom, pages[referenced].copy(), mm, costs, cpu, out)
        res[LOOK_AROUNDS] += int(referenced.sum())
    return referenced


@njit
def putback(lv: LruvecArrays, pages: IntArray, flags: BoolArray, res: IntArray) -> None:
    """Referenced folios back on the LRU (``folio_check_references``, the putback)."""
    for p in pages:
        if lv.flags[TWO_SIGHTINGS]:  # 6.14+: activate on the second sighting
            if set_refs(lv, p):
                res[ACTIVATED] += 1
            else:
                res[KEPT] += 1
        else:
            res[KEPT] += 1
    for p in pages:
        if flags[PUTBACK_ACTIVE]:
            lv.refs[p] = 0
            lv.ws[p] = False
        elif lv.s[MAX_SEQ] - 1 == lv.s[MIN_SEQ]:
            lv.refs[p] = 0
    add_folios(lv, pages)


@njit
def reclaim(lv: LruvecArrays, pt: PtArrays, shadow: ShadowArrays, pages: IntArray,
            costs: npt.NDArray[np.float64], res: IntArray,
            cpu: npt.NDArray[np.float64]) -> None:
    """Swap out with a shadow token each (``lru_gen_eviction``, ``try_to_unmap``)."""
    if len(pages) == 0:
        return
    for p in pages:
        refs, ws = int(lv.refs[p]), bool(lv.ws[p])
        shadow.token_seq[p] = lv.s[MIN_SEQ]
        shadow.token_refs[p] = refs
        shadow.token_ws[p] = ws
        lv.evicted[tier_of(lv, refs, ws)] += 1
    for p in pages:
        pt.present[p] = False
        pt.young[p] = False
        pt.dirty[p] = False
        pt.swapped[p] = True
    cpu[0] += len(pages) * costs[SWAP_OUT]
    res[RECLAIMED] += len(pages)


@njit
def evict_folios(lv: LruvecArrays, pt: PtArrays, truth: TruthArrays, bloom: BloomArrays,
                 shadow: ShadowArrays, snap: Snapshot, mm: Mm, nr_to_scan: int,
                 flags: BoolArray, costs: npt.NDArray[np.float64], res: IntArray) -> float:
    """One ``evict_folios`` call; fills ``res`` and returns the step's ``Work.cpu_ns``."""
    cpu = np.zeros(1, dtype=np.float64)
    res[:] = 0
    isolated = scan_folios(lv, snap, nr_to_scan, get_tier_idx(lv), flags, costs, res, cpu)
    if try_to_inc_min_seq(lv):
        res[SCANNED] += 1
    if lv.s[MIN_SEQ] + MIN_NR_GENS > lv.s[MAX_SEQ]:
        res[SCANNED] = 0
    if len(isolated) == 0:
        return float(cpu[0])
    referenced = folio_referenced(lv, pt, truth, bloom, isolated, mm, flags, costs, res, cpu)
    putback(lv, isolated[referenced].copy(), flags, res)
    reclaim(lv, pt, shadow, isolated[~referenced].copy(), costs, res, cpu)
    return float(cpu[0])


__all__ = ["NR_RESULTS", "Mm", "Snapshot", "evict_folios"]

"""``simulator.mm.aging`` compiled: one step of the page-table walk of an mm with no secondary MMU.

The loop form of ``Aging._walk_tables`` and ``_walk_pte_range`` over a chunk of up to
``TABLES_PER_STEP`` PTE tables (one simulated step): ``pmd_present``, the Bloom filter of
``walk->seq``, ``walk_pte_range``'s test-and-clear of the A bits of present folios on an LRU
list, ``folio_update_gen``, ``suitable_to_scan`` into the next filter, and one truth scoring
call for the chunk. The mm-list cursor and the step sequence are the caller's
(``simulator.stretch.machine``). Folios of one page only; the reference's THP branch never
runs without THPs.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from simulator.jit import njit
from simulator.mm.constants import PTRS_PER_PTE, SUITABLE_TO_SCAN_N
from simulator.stretch.arrays import (
    BLOOM,
    GEN_UPDATE,
    PMD_SCAN,
    PTE_SCAN,
    WALK,
    BloomArrays,
    PtArrays,
    TruthArrays,
    bloom_test,
    bloom_update,
    end_scoring,
    score,
)
from simulator.stretch.evict import Mm
from simulator.stretch.lruvec import LruvecArrays, update_gen

IntArray = npt.NDArray[np.int64]

LEAF_TOTAL, LEAF_YOUNG, NONLEAF_FOUND, NONLEAF_ADDED = range(4)
"""Indices of an ``MmStats`` array."""
FIRST_SIGHTINGS, PROMOTED, TP, FP, FN, TN = range(6)
"""Indices of a pass's own counts (its confusion counts start at ``TP``)."""


@njit
def _pte_range(lv: LruvecArrays, pt: PtArrays, truth: TruthArrays, bloom: BloomArrays,
               mm: Mm, tables: IntArray, seq: int, use_bloom: bool,
               costs: npt.NDArray[np.float64], stats: IntArray, acc: IntArray,
               cpu: npt.NDArray[np.float64]) -> None:
    """``walk_pte_range`` over the tables that passed the filter."""
    total_mapped = young_total = suitable = 0
    for table in tables:
        mapped = nyoung = 0
        for p in range(table * PTRS_PER_PTE, (table + 1) * PTRS_PER_PTE):
            if pt.mapped[p]:
                mapped += 1
            if pt.present[p] and lv.gen[p] >= 0:
                young = bool(pt.young[p])
                if young:
                    pt.young[p] = False  # ptep_test_and_clear_young
                    first, promoted = update_gen(lv, p)
                    acc[FIRST_SIGHTINGS] += first
                    acc[PROMOTED] += promoted
                    nyoung += 1
                score(truth, p, young, WALK, acc[TP:])
        total_mapped += mapped
        young_total += nyoung
        if nyoung * SUITABLE_TO_SCAN_N >= mapped:
            suitable += 1
            if use_bloom:
                bloom_update(bloom, seq + 1, mm.mm_id, table)
    end_scoring(truth, WALK)
    stats[LEAF_TOTAL] += total_mapped
    cpu[0] += total_mapped * costs[PTE_SCAN]
    stats[LEAF_YOUNG] += young_total
    stats[NONLEAF_ADDED] += suitable
    if use_bloom:
        cpu[0] += suitable * costs[BLOOM]
    cpu[0] += young_total * costs[GEN_UPDATE]


@njit
def walk_tables(lv: LruvecArrays, pt: PtArrays, truth: TruthArrays, bloom: BloomArrays,
                mm: Mm, lo: int, hi: int, seq: int, force_scan: bool, use_bloom: bool,
                costs: npt.NDArray[np.float64], stats: IntArray, acc: IntArray) -> float:
    """``walk_pmd_range`` + ``walk_pte_range`` over tables ``[lo, hi)`` of one mm; adds to
    the step's ``MmStats`` and the pass's counts, returns the step's ``Work.cpu_ns``."""
    cpu = np.zeros(1, dtype=np.float64)
    cpu[0] += (hi - lo) * costs[PMD_SCAN]
    allocated = np.empty(hi - lo, dtype=np.int64)
    n = 0
    for table in range(lo, hi):
        if pt.table_allocated[table]:
            allocated[n] = table
            n += 1
        else:
            stats[LEAF_TOTAL] += 1  # !pmd_present: MM_LEAF_TOTAL++
    tables = allocated[:n]
    if use_bloom and not force_scan:
        cpu[0] += n * costs[BLOOM]
        keep = np.empty(n, dtype=np.bool_)
        for i in range(n):
            keep[i] = bloom_test(bloom, seq, mm.mm_id, tables[i])
        tables = tables[keep]
    stats[NONLEAF_FOUND] += len(tables)
    if len(tables):
        _pte_range(lv, pt, truth, bloom, mm, tables, seq, use_bloom, costs, stats, acc, cpu)
    return float(cpu[0])


__all__ = ["FIRST_SIGHTINGS", "LEAF_TOTAL", "LEAF_YOUNG", "NONLEAF_ADDED", "NONLEAF_FOUND",
           "PROMOTED", "TN", "TP", "walk_tables"]

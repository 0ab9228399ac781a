"""The state a compiled MGLRU stretch works on: the model's own arrays, bundled for numba.

Each bundle holds the arrays of one Python object of the model (not copies), so that the
reference code and the kernels act on one state:

- :class:`PtArrays`: ``simulator.mm.pagetable.PageTables``' per-page and per-table bits;
- :class:`TruthArrays`: ``simulator.truth.GroundTruth``'s access and harvest stamps, and the
  confusion counts the kernels add up per decision source (written back by the caller);
- :class:`BloomArrays`: ``simulator.mm.bloom.BloomFilters``;
- :class:`ShadowArrays`: ``simulator.mm.workingset.Workingset``'s shadow tokens.

:func:`score` is ``GroundTruth.score`` for one decision; ``bloom_test`` and ``bloom_update``
are ``BloomFilters.test``/``update`` for one item, with the kernel's ``hash_ptr`` and
``pmd_item`` (``simulator.mm.bloom``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from simulator.jit import njit
from simulator.mm.constants import BLOOM_FILTER_SHIFT, NR_BLOOM_FILTERS

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

WALK, RMAP, LOOK_AROUND = range(3)
PTE_SCAN, PMD_SCAN, BLOOM, RMAP_WALK, FOLIO_SORT, GEN_UPDATE, SWAP_OUT, PER_ACCESS, FAULT, \
    SWAP_IN = range(10)
"""Indices of the cost array (:func:`cost_array`)."""
SOURCES = ("walk", "rmap", "look_around")
"""Decision sources, in the order of ``TruthArrays.conf``'s rows."""
TP, FP, FN, TN = range(4)


class PtArrays(NamedTuple):
    present: BoolArray
    young: BoolArray
    dirty: BoolArray
    swapped: BoolArray
    table_allocated: BoolArray
    mapped: BoolArray


class TruthArrays(NamedTuple):
    last_access: IntArray
    last_harvest: IntArray
    conf: IntArray
    """``conf[source, TP..TN]``: decisions scored since the bundle was made."""
    used: BoolArray
    """Which sources scored at least once (the reference creates their entries then)."""
    tick: IntArray
    """``[tick]``: the logical clock."""


class BloomArrays(NamedTuple):
    bits: BoolArray
    allocated: BoolArray


class ShadowArrays(NamedTuple):
    token_seq: IntArray
    token_refs: npt.NDArray[np.int8]
    token_ws: BoolArray


@njit
def score(truth: TruthArrays, p: int, young: bool, source: int, out: IntArray) -> None:
    """One young/old decision on page ``p``, scored against the truth and added to
    ``conf[source]`` and to ``out`` (a pass's own counts); marks ``p`` harvested at the
    current tick (the caller advances the tick once per scoring call, as the reference)."""
    truly = truth.last_access[p] > truth.last_harvest[p]
    k = (TP if truly else FP) if young else (FN if truly else TN)
    truth.conf[source, k] += 1
    out[k] += 1
    truth.last_harvest[p] = truth.tick[0]


@njit
def end_scoring(truth: TruthArrays, source: int) -> None:
    """The end of one ``GroundTruth.score`` call: the clock ticks, the source exists."""
    truth.tick[0] += 1
    truth.used[source] = True


_GOLDEN_RATIO_64 = np.uint64(0x61C8864680B583EB)
_PMD_BASE = np.uint64(0xFFFF_8880_0000_0000)
_MASK = (1 << BLOOM_FILTER_SHIFT) - 1


@njit
def _keys(mm_id: int, table: int) -> tuple[int, int]:
    """``get_item_key(pmd_item(mm_id, table))``."""
    item = _PMD_BASE + (np.uint64(mm_id) << np.uint64(32)) + np.uint64(table) * np.uint64(8)
    h = (item * _GOLDEN_RATIO_64) >> np.uint64(64 - 2 * BLOOM_FILTER_SHIFT)
    return int(h & np.uint64(_MASK)), int(h >> np.uint64(BLOOM_FILTER_SHIFT))


@njit
def bloom_test(bloom: BloomArrays, seq: int, mm_id: int, table: int) -> bool:
    gen = seq % NR_BLOOM_FILTERS
    if not bloom.allocated[gen]:
        return True
    k0, k1 = _keys(mm_id, table)
    return bool(bloom.bits[gen, k0] and bloom.bits[gen, k1])


@njit
def bloom_update(bloom: BloomArrays, seq: int, mm_id: int, table: int) -> None:
    gen = seq % NR_BLOOM_FILTERS
    if not bloom.allocated[gen]:
        return
    k0, k1 = _keys(mm_id, table)
    bloom.bits[gen, k0] = True
    bloom.bits[gen, k1] = True


@njit
def bloom_reset(bloom: BloomArrays, seq: int) -> None:
    gen = seq % NR_BLOOM_FILTERS
    bloom.bits[gen, :] = False
    bloom.allocated[gen] = True


def cost_array(costs: object, swap: str, think_ns: int) -> npt.NDArray[np.float64]:
    """The constants the kernels charge, as the reference reads them (``simulator.costs``);
    ``PER_ACCESS`` is ``think_ns + access_ns`` computed as the host task computes it."""
    from simulator.costs import CostConfig

    assert isinstance(costs, CostConfig)
    return np.array([costs.pte_scan_ns, costs.pmd_scan_ns, costs.bloom_ns, costs.rmap_walk_ns,
                     costs.folio_sort_ns, costs.gen_update_ns, costs.swap_out_ns(swap),
                     think_ns + costs.access_ns, costs.fault_first_touch_ns,
                     costs.swap_in_ns(swap)], dtype=np.float64)


def pt_arrays(pt: object) -> PtArrays:
    from simulator.mm.pagetable import PageTables

    assert isinstance(pt, PageTables)
    return PtArrays(pt.present, pt.young, pt.dirty, pt.swapped, pt.table_allocated, pt.mapped)


__all__ = ["BLOOM", "FAULT", "FOLIO_SORT", "GEN_UPDATE", "LOOK_AROUND", "PER_ACCESS", "PMD_SCAN",
           "PTE_SCAN", "RMAP", "RMAP_WALK", "SOURCES", "SWAP_IN", "SWAP_OUT", "WALK",
           "BloomArrays", "PtArrays", "ShadowArrays", "TruthArrays", "bloom_reset",
           "bloom_test", "bloom_update", "cost_array", "end_scoring", "pt_arrays", "score"]

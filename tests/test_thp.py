"""PMD-mapped THPs: the folio layer, the fault rule, the walk's THP branch, eviction of large
folios, and a hypothesis property over mixed folio sizes (every invariant after every step).

Oracles are the kernel rules the modules cite: a THP only on ``pmd_none`` of a wholly covered
range; ``scan_folios``' budget in folios and isolation goal in pages (one THP fills a batch);
``lru_gen_eviction`` storing one token in every slot and counting the folio's pages;
``walk_pmd_range_locked`` taking the PMD lock once per ≤ 64 + 2 PMDs; one
``pmdp_clear_young_notify`` per THP per walk from 6.12 and none before.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.accounting import Work
from simulator.costs import CostConfig
from simulator.kvm.backends import BACKENDS, KvmBackend, make_backend
from simulator.kvm.notifier import KvmAgingOps, make_design
from simulator.kvm.tlb import Tlbs
from simulator.mm.aging import Aging, WalkResult, drain, pmd_lock_batches
from simulator.mm.bloom import pmd_item
from simulator.mm.constants import MIN_LRU_BATCH
from simulator.mm.eviction import Eviction
from simulator.mm.fault import handle_faults
from simulator.mm.folio import FolioMap, expand_ranges
from simulator.mm.lruvec import Lruvec
from simulator.mm.pagetable import PageTables, layout
from simulator.mm.workingset import Workingset
from simulator.truth import GroundTruth

TABLES = 8
PAGES = TABLES * 512


def test_folio_map_heads_sizes_and_expansion() -> None:
    fm = FolioMap(4)
    pages = np.array([0, 5, 513, 1100, 1535], dtype=np.int64)
    assert fm.sizes(pages) is None and fm.heads(pages) is pages  # no THP: the 4 KiB path
    fm.set_huge(np.array([1, 2]))
    assert fm.heads(pages).tolist() == [0, 5, 512, 1024, 1024]
    heads = np.array([0, 512, 1024, 1536], dtype=np.int64)
    sizes = fm.sizes(heads)
    assert sizes is not None and sizes.tolist() == [1, 512, 512, 1]
    assert fm.total(heads) == 1026
    got = fm.expand(np.array([7, 512], dtype=np.int64))
    assert got.tolist() == [7, *range(512, 1024)]
    assert expand_ranges(np.array([10, 20]), np.array([2, 3])).tolist() == [10, 11, 20, 21, 22]
    fm.clear_huge(np.array([1]))
    assert fm.nr_huge == 1


def test_a_thp_only_on_an_empty_whole_range_of_a_thp_mm() -> None:
    pt = PageTables(layout([("vm0", 1536 + 100, True), ("task", 1024, False)],
                           frozenset({"vm0"})))
    assert pt.thp_ok.tolist() == [True, True, True, False, False, False]  # 4th: not whole
    pt.map_pages(np.array([600], dtype=np.int64), np.array([False]))  # a 4 KiB fault first
    faults = np.array([5, 700, 1100, 1540, 1700], dtype=np.int64)
    assert pt.thp_faults(faults).tolist() == [True, False, True, False, False]


def _rig(notifier: str = "per_page", backend: str = "x86_tdp") -> tuple[
        PageTables, Lruvec, Aging, Eviction, Workingset, GroundTruth, KvmBackend]:
    costs = CostConfig()
    pt = PageTables(layout([("vm0", PAGES, True)], frozenset({"vm0"})))
    lv = Lruvec(pt.nr_pages, folios=pt.folios)
    truth = GroundTruth(pt.nr_pages, pt.folios)
    ws = Workingset(pt.nr_pages)
    kvm = make_backend(backend, pt.nr_pages, "auto", costs)
    design = make_design(notifier, KvmAgingOps(kvm, Tlbs(1, 0), tlb_flush_on_age=False),
                         "blind")
    aging = Aging(pt, lv, {0: design}, truth, costs)
    eviction = Eviction(pt, lv, aging, ws, {0: design}, truth, costs, 1.0)
    return pt, lv, aging, eviction, ws, truth, kvm


def _walk(aging: Aging, lv: Lruvec) -> WalkResult:
    return drain(aging.try_to_inc_max_seq(lv.max_seq, True, lambda: 0))


def test_a_thp_fault_is_one_fault_of_512_pages() -> None:
    pt, lv, *_ = _rig()
    r = handle_faults(pt, lv, Workingset(pt.nr_pages), np.array([3, 9, 600], dtype=np.int64),
                      np.array([False, True, False]))
    assert (r.first_touch, r.thp) == (2, 2)  # pages 3 and 9 share one THP
    assert lv.resident_pages() == 1024
    assert pt.present[:1024].all() and pt.young[[0, 512]].all() and not pt.young[1:512].any()
    assert pt.dirty[0] and not pt.dirty[512]
    assert (lv.gen[[0, 512]] >= 0).all() and not (lv.gen[1:512] >= 0).any()
    lv.check_invariants()


def test_the_walk_asks_kvm_once_per_thp_from_6_12_and_never_before() -> None:
    for notifier, calls in (("per_page", TABLES), ("blind", 0)):
        pt, lv, aging, _, ws, truth, kvm = _rig(notifier)
        every = np.arange(PAGES, dtype=np.int64)
        handle_faults(pt, lv, ws, every, np.zeros(PAGES, dtype=bool))
        kvm.sptes.map_huge(np.arange(TABLES), np.zeros(TABLES, dtype=bool))
        pt.young[:] = False
        kvm.sptes.young[:] = False
        kvm.sptes.young[[512 * 2, 512 * 5]] = True  # the guest touched two THPs
        truth.record_access(np.array([512 * 2 + 7, 512 * 5 + 300], dtype=np.int64))
        res = _walk(aging, lv)
        assert res.work.notifier_calls == calls
        assert res.stats.leaf_total == TABLES  # one leaf per THP PMD
        items = pmd_item(0, np.arange(TABLES, dtype=np.int64))
        assert aging.bloom.test(res.seq + 1, items).sum() == 0  # THPs give no feedback
        c = res.confusion
        assert c.tp + c.fp + c.fn + c.tn == TABLES  # scored per folio ...
        assert c.tp_pages + c.fp_pages + c.fn_pages + c.tn_pages == PAGES  # ... with pages
        if notifier == "per_page":
            assert (c.tp, c.tp_pages, c.fp) == (2, 1024, 0)
            assert res.promoted + res.first_sightings == 2
        else:
            assert (c.tp, c.fn) == (0, 2)


@pytest.mark.parametrize(("tables", "batches"), [
    ([], 0), ([3], 1), ([0, 64], 1), ([0, 65], 1), ([0, 66], 1), ([0, 66, 67], 2),
    (list(range(66)), 1), (list(range(67)), 2), ([0, 1, 511, 512], 2), ([510, 511, 512], 2),
])
def test_pmd_lock_batches_hold_at_most_66_pmds(tables: list[int], batches: int) -> None:
    assert pmd_lock_batches(np.array(tables, dtype=np.int64)) == batches


def _fill_oldest_with_thps(n: int) -> tuple[PageTables, Lruvec, Eviction, Workingset]:
    pt, lv, _aging, eviction, ws, _, _ = _rig()
    handle_faults(pt, lv, ws, np.arange(n, dtype=np.int64) * 512, np.zeros(n, dtype=bool))
    pt.young[:] = False
    for _ in range(2):
        lv.inc_max_seq(0)  # the THPs are now in the oldest generation
    return pt, lv, eviction, ws


def test_one_thp_fills_an_isolation_batch() -> None:
    pt, lv, eviction, _ = _fill_oldest_with_thps(4)
    res = eviction.evict_folios(10_000, Work())
    assert res.isolated == 512 >= MIN_LRU_BATCH  # one folio isolated, counted in pages
    assert res.reclaimed == 512 and res.reclaimed_thp == 1
    assert lv.resident_pages() == 3 * 512
    assert pt.swapped[:512].all() and not pt.folios.huge[0] and pt.folios.nr_huge == 3
    lv.check_invariants()


def test_a_thp_leaves_its_token_in_every_slot_and_refaults_in_4k_pages() -> None:
    pt, lv, eviction, ws = _fill_oldest_with_thps(2)
    eviction.evict_folios(10_000, Work())
    assert int(lv.evicted.sum()) == 512
    assert (ws.token_seq[:512] == ws.token_seq[0]).all() and ws.token_seq[0] >= 0
    r = handle_faults(pt, lv, ws, np.array([17], dtype=np.int64), np.array([False]))
    assert (r.swap_in, r.thp, r.first_touch) == (1, 0, 0)
    assert lv.gen[17] >= 0 and lv.folios.sizes(np.array([17])) is not None
    assert lv.resident_pages() == 512 + 1
    lv.check_invariants()


# --- a hypothesis property over mixed folio sizes ----------------------------------------------

@dataclass
class Step:
    kind: str
    arg: int


steps = st.lists(st.builds(Step, st.sampled_from(["fault", "touch", "walk", "evict", "gen"]),
                           st.integers(0, PAGES - 1)), min_size=1, max_size=25)


def _check(pt: PageTables, lv: Lruvec) -> None:
    lv.check_invariants()
    on = lv.gen >= 0
    heads = np.flatnonzero(on)
    assert lv.resident_pages() == lv.folios.total(heads)
    resident = np.zeros(pt.nr_pages, dtype=bool)
    resident[expand_ranges(heads, lv.folios.sizes(heads))] = True
    assert np.array_equal(resident, pt.present)
    assert not (pt.present & pt.swapped).any()
    tails = np.repeat(pt.folios.huge, 512)
    tails[::512] = False
    assert not (tails & (pt.young | on)).any()


@settings(max_examples=60, deadline=None)
@given(steps, st.integers(0, TABLES))
def test_invariants_hold_over_mixed_folio_sizes(script: list[Step], small_tables: int) -> None:
    pt, lv, aging, eviction, ws, truth, _kvm = _rig()
    # some tables start with a 4 KiB page, so their later faults stay 4 KiB: mixed sizes
    pre = np.arange(small_tables, dtype=np.int64) * 512 + 1
    handle_faults(pt, lv, ws, pre, np.zeros(len(pre), dtype=bool))
    rng = np.random.default_rng(len(script))
    for step in script:
        if step.kind == "fault":
            pages = np.unique(rng.integers(0, PAGES, 1 + step.arg % 40))
            pages = pages[~pt.present[pages]]
            handle_faults(pt, lv, ws, pages, np.zeros(len(pages), dtype=bool))
        elif step.kind == "touch":
            pages = rng.integers(0, PAGES, 1 + step.arg % 200)
            heads = pt.folios.heads(pages[pt.present[pages]])
            pt.young[heads] = True
            truth.record_access(heads)
        elif step.kind == "walk":
            _walk(aging, lv)
        elif step.kind == "evict":
            eviction.evict_folios(1 + step.arg, Work())
        else:
            lv.inc_max_seq(0)
        _check(pt, lv)


def test_docs_backends_states_every_backends_thp_rule() -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "backends.md").read_text()
    for name, cls in BACKENDS.items():
        size = "2 MiB" if cls.maps_2m else "4 KiB"
        assert f"| `{name}` | {size} | {cls.thp_rule} |" in text

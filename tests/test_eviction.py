"""White-box tests of ``simulator.mm.eviction`` on a small host-only or VM Machine (not run).

Expected values follow mm/vmscan.c ``scan_folios``/``sort_folio``/``lru_gen_look_around`` and
``folio_check_references`` as summarised in research/mglru.md §3; the look-around window is
recomputed here from the kernel's byte-address formula (§3.2), independently of the code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from simulator.accounting import Work
from simulator.config import PAGE_SIZE, scenario_from_dict
from simulator.invariants import check_host
from simulator.machine import Machine
from simulator.mm.bloom import pmd_item
from simulator.mm.eviction import EvictResult
from simulator.mm.lruvec import lru_gen_from_seq

MIN_LRU_BATCH = 64
MAX_LRU_BATCH = 4096
PMD_SIZE = 512 * PAGE_SIZE


def host_machine(task_pages: int, **extra: Any) -> Machine:
    doc: dict[str, Any] = {
        "sim": {"duration_ms": 1, "check_invariants": True},
        "host": {"memory": "64MiB"},
        "vm": {"enabled": False},
        "task": {"memory": task_pages * PAGE_SIZE},
    }
    for k, v in extra.items():
        doc.setdefault(k, {}).update(v)
    return Machine(scenario_from_dict(doc))


def fault_in(m: Machine, pages: np.ndarray) -> None:
    m.mglru().fault_in(pages, np.zeros(len(pages), dtype=bool))


def four_gens(m: Machine, n: int) -> np.ndarray:
    """Fault pages 0..n-1 in; leave them in the oldest of 4 generations (min 2, max 5)."""
    pages = np.arange(n, dtype=np.int64)
    fault_in(m, pages)
    lv = m.mglru().lruvec
    lv.try_to_inc_min_seq()
    lv.inc_max_seq(1)
    lv.inc_max_seq(2)
    assert (lv.min_seq, lv.max_seq) == (2, 5)
    assert np.all(lv.gen[pages] == lru_gen_from_seq(2))
    m.host.pt.young[:] = False
    return pages


def scan(m: Machine, nr_to_scan: int, tier_idx: int) -> tuple[np.ndarray, EvictResult]:
    res = EvictResult()
    iso = m.mglru().eviction.scan_folios(nr_to_scan, tier_idx, Work(), res)
    return iso, res


# --- scan_folios / sort_folio ---------------------------------------------------------------

def test_scan_isolates_at_most_min_lru_batch_from_the_tail() -> None:
    m = host_machine(5000)
    four_gens(m, 5000)
    iso, res = scan(m, 10**6, tier_idx=3)
    # the first folio added sits nearest the tail and is scanned first
    assert iso.tolist() == list(range(MIN_LRU_BATCH))
    assert (res.isolated, res.scanned, res.sorted) == (64, 64, 0)
    assert np.all(m.mglru().lruvec.gen[iso] == -1)
    assert m.mglru().lruvec.nr_pages[lru_gen_from_seq(2)] == 5000 - 64
    m.mglru().lruvec.check_invariants()
    iso2, _ = scan(m, 10**6, tier_idx=3)
    assert iso2.tolist() == list(range(64, 128))


def test_scan_at_most_max_lru_batch_and_moves_promoted() -> None:
    m = host_machine(5000)
    pages = four_gens(m, 5000)
    lv = m.mglru().lruvec
    promoted = pages[:4500]
    lv.folio_update_gen(promoted)  # first sighting
    lv.folio_update_gen(promoted)  # second: gen(max_seq), still on the old list
    new = lru_gen_from_seq(lv.max_seq)
    assert np.all(lv.lst[promoted] == lru_gen_from_seq(2))
    iso, res = scan(m, 10**6, tier_idx=3)
    assert len(iso) == 0
    assert (res.scanned, res.sorted, res.isolated) == (MAX_LRU_BATCH, MAX_LRU_BATCH, 0)
    assert np.all(lv.lst[pages[:MAX_LRU_BATCH]] == new)  # list_move to their gen's list
    assert np.all(lv.lst[pages[MAX_LRU_BATCH:4500]] == lru_gen_from_seq(2))
    lv.check_invariants()
    iso, res = scan(m, 10**6, tier_idx=3)
    assert (res.scanned, res.isolated) == (4500 - MAX_LRU_BATCH + 64, 64)
    assert iso.tolist() == list(range(4500, 4564))
    lv.check_invariants()


def test_scan_protects_higher_tiers_to_min_seq_plus_one() -> None:
    m = host_machine(1000)
    pages = four_gens(m, 1000)
    lv = m.mglru().lruvec
    tier1 = pages[:30]            # refs 2 -> tier 1
    lazy = pages[30:40]           # refs 4 + workingset: lazily promoted
    lv.refs[tier1] = 2
    lv.refs[lazy] = 4
    lv.workingset[lazy] = True
    iso, res = scan(m, 10**6, tier_idx=0)
    assert iso.tolist() == list(range(40, 104))
    assert res.sorted == 40
    nxt = lru_gen_from_seq(lv.min_seq + 1)
    assert np.all(lv.gen[pages[:40]] == nxt)
    assert np.all(lv.lst[pages[:40]] == nxt)
    assert np.all(lv.refs[pages[:40]] == 0)  # folio_inc_gen clears the refs flags
    assert np.all(lv.workingset[lazy])
    assert lv.protected.tolist() == [0, 30, 0, 0]  # the lazy ones are not counted
    lv.check_invariants()


def test_scan_tier_idx_one_isolates_tier_one() -> None:
    m = host_machine(1000)
    pages = four_gens(m, 1000)
    m.mglru().lruvec.refs[pages[:30]] = 2
    iso, res = scan(m, 10**6, tier_idx=1)
    assert iso.tolist() == list(range(64))
    assert res.sorted == 0


def test_scan_needs_more_than_two_generations() -> None:
    m = host_machine(1000)
    fault_in(m, np.arange(100, dtype=np.int64))
    m.mglru().lruvec.try_to_inc_min_seq()
    assert m.mglru().lruvec.nr_gens == 2
    iso, res = scan(m, 10**6, tier_idx=3)
    assert len(iso) == 0 and res.scanned == 0


# --- look-around window ---------------------------------------------------------------------

def kernel_window(pivot: int, vm_start_pg: int, vm_end_pg: int) -> tuple[int, int] | None:
    """``lru_gen_look_around`` window in pages, from the kernel's byte arithmetic."""
    addr = pivot * PAGE_SIZE
    vm_start, vm_end = vm_start_pg * PAGE_SIZE, vm_end_pg * PAGE_SIZE
    start = max(addr & ~(PMD_SIZE - 1), vm_start)
    end = min(addr | (PMD_SIZE - 1), vm_end - 1) + 1
    if end - start == PAGE_SIZE:
        return None
    if end - start > MIN_LRU_BATCH * PAGE_SIZE:
        if addr - start < MIN_LRU_BATCH * PAGE_SIZE // 2:
            end = start + MIN_LRU_BATCH * PAGE_SIZE
        elif end - addr < MIN_LRU_BATCH * PAGE_SIZE // 2:
            start = end - MIN_LRU_BATCH * PAGE_SIZE
        else:
            start = addr - MIN_LRU_BATCH * PAGE_SIZE // 2
            end = addr + MIN_LRU_BATCH * PAGE_SIZE // 2
    return start // PAGE_SIZE, end // PAGE_SIZE


def observed_window(m: Machine, pivot: int) -> set[int]:
    """Make every PTE young, isolate the pivot, look around, see which A bits got cleared."""
    lv, pt = m.mglru().lruvec, m.host.pt
    pt.young[pt.present] = True
    if lv.gen[pivot] >= 0:
        lv.del_folios(np.array([pivot], dtype=np.int64))
    mm = int(m.mglru().eviction.mm_of_page[pivot])
    m.mglru().eviction.lru_gen_look_around(pivot, mm, m.host.notifiers.get(mm), Work())
    cleared = set(np.flatnonzero(pt.present & ~pt.young).tolist())
    assert pivot not in cleared  # the isolated pivot folio itself is skipped
    return cleared


TASK_PAGES = 5120 + 300  # ten full PTE tables, then a VMA ending 300 pages into the 11th


@pytest.mark.parametrize("offset", [0, 1, 31, 32, 33, 100, 255, 478, 479, 480, 481, 510, 511])
def test_look_around_window_full_table(offset: int) -> None:
    m = host_machine(TASK_PAGES)
    fault_in(m, np.arange(TASK_PAGES, dtype=np.int64))
    pivot = 512 + offset
    start, end = kernel_window(pivot, 0, TASK_PAGES)  # type: ignore[misc]
    assert end - start == MIN_LRU_BATCH
    assert observed_window(m, pivot) == set(range(start, end)) - {pivot}
    assert start >= 512 and end <= 1024  # never crosses the PTE table


@pytest.mark.parametrize("offset", [0, 20, 150, 267, 268, 269, 270, 290, 299])
def test_look_around_window_clipped_by_vma_end(offset: int) -> None:
    m = host_machine(TASK_PAGES)
    fault_in(m, np.arange(TASK_PAGES, dtype=np.int64))
    pivot = 5120 + offset
    start, end = kernel_window(pivot, 0, TASK_PAGES)  # type: ignore[misc]
    assert end <= TASK_PAGES
    got = observed_window(m, pivot)
    assert got == set(range(start, end)) - {pivot}
    assert len(got) + 1 <= MIN_LRU_BATCH


def test_look_around_small_vma_window_whole_remainder() -> None:
    pages = 512 + 40  # last table holds 40 pages of the VMA
    m = host_machine(pages)
    fault_in(m, np.arange(pages, dtype=np.int64))
    start, end = kernel_window(530, 0, pages)  # type: ignore[misc]
    assert (start, end) == (512, 552)
    assert observed_window(m, 530) == set(range(512, 552)) - {530}


def test_look_around_single_page_window_does_nothing() -> None:
    pages = 512 + 1
    m = host_machine(pages)
    fault_in(m, np.arange(pages, dtype=np.int64))
    assert kernel_window(512, 0, pages) is None
    assert observed_window(m, 512) == set()


def test_look_around_two_sighting_promotion_and_bloom_feedback() -> None:
    m = host_machine(2048)
    pages = four_gens(m, 2048)
    lv, pt, aging = m.mglru().lruvec, m.host.pt, m.mglru().aging
    aging.bloom.reset(lv.max_seq)  # allocate the filter look-around feeds
    pivot = 512 + 100
    lv.del_folios(np.array([pivot]))
    window = np.arange(512 + 68, 512 + 132)
    neigh = window[window != pivot]
    pt.young[window] = True
    m.mglru().eviction.lru_gen_look_around(pivot, 0, None, Work())
    assert np.all(lv.refs[neigh] == 1)  # first sighting: PG_referenced only
    assert np.all(lv.gen[neigh] == lru_gen_from_seq(2))
    item = pmd_item(0, np.array([1]))
    assert aging.bloom.test(lv.max_seq, item).all()  # 64 young of 64: dense
    pt.young[window] = True
    m.mglru().eviction.lru_gen_look_around(pivot, 0, None, Work())
    assert np.all(lv.gen[neigh] == lru_gen_from_seq(lv.max_seq))  # second: promoted
    assert np.all(lv.workingset[neigh])
    assert np.all(lv.lst[neigh] == lru_gen_from_seq(2))  # lazily: not moved yet
    assert not pt.young[pages[pages != pivot]].any()
    lv.check_invariants()


@pytest.mark.parametrize(("young_neighbours", "inserted"), [(6, False), (7, True), (0, False)])
def test_look_around_bloom_threshold(young_neighbours: int, inserted: bool) -> None:
    # suitable_to_scan(64 PTEs, 1 + young): (1 + young) * 8 >= 64  iff  young >= 7
    m = host_machine(1024)
    four_gens(m, 1024)
    lv, pt, aging = m.mglru().lruvec, m.host.pt, m.mglru().aging
    aging.bloom.reset(lv.max_seq)
    pivot = 512 + 200
    lv.del_folios(np.array([pivot]))
    pt.young[pivot + 1: pivot + 1 + young_neighbours] = True
    m.mglru().eviction.lru_gen_look_around(pivot, 0, None, Work())
    assert bool(aging.bloom.test(lv.max_seq, pmd_item(0, np.array([1])))[0]) is inserted
    assert not aging.bloom.test(lv.max_seq, pmd_item(0, np.array([0])))[0]


# --- evict_folios: reclaim vs put back ------------------------------------------------------

def test_evict_reclaims_unreferenced_and_puts_back_referenced() -> None:
    m = host_machine(2000)
    pages = four_gens(m, 2000)
    lv, pt, ws = m.mglru().lruvec, m.host.pt, m.mglru().workingset
    keep = pages[:10]     # young PTE, first sighting -> KEEP at max_seq - 1
    act = pages[10:15]    # young PTE, PG_referenced already -> ACTIVATE at max_seq
    lv.refs[act] = 1
    pt.young[np.r_[keep, act]] = True
    res = m.mglru().eviction.evict_folios(10**6, Work())
    assert (res.isolated, res.rmap_walks) == (64, 64)
    assert (res.kept, res.activated, res.reclaimed) == (10, 5, 49)
    assert lv.max_seq == 5
    assert np.all(lv.gen[keep] == lru_gen_from_seq(4)) and np.all(lv.refs[keep] == 1)
    assert not lv.workingset[keep].any()
    assert np.all(lv.gen[act] == lru_gen_from_seq(5)) and np.all(lv.workingset[act])
    assert np.all(lv.refs[act] == 0)
    gone = pages[15:64]
    assert pt.swapped[gone].all() and not pt.present[gone].any()
    assert np.all(lv.gen[gone] == -1)
    assert np.all(ws.token_seq[gone] == 2)  # shadow token: min_seq at eviction
    assert lv.evicted.tolist() == [49, 0, 0, 0]
    assert not pt.swapped[pages[64:]].any()
    assert pt.present[np.r_[keep, act]].all()
    lv.check_invariants()


def test_evict_rejected_folios_not_put_in_oldest_generation() -> None:
    m = host_machine(1000)
    pages = np.arange(64, dtype=np.int64)
    fault_in(m, pages)
    lv, pt = m.mglru().lruvec, m.host.pt
    lv.try_to_inc_min_seq()
    lv.inc_max_seq(1)  # seqs 2 (64 folios), 3 (empty), 4 (empty)
    pt.young[:] = False
    pt.young[:3] = True  # first sighting -> KEEP
    res = m.mglru().eviction.evict_folios(10**6, Work())
    # isolating all of seq 2 lets try_to_inc_min_seq reach max_seq - 1: only 2 gens left
    assert (lv.min_seq, lv.max_seq) == (3, 4)
    assert res.scanned == 0  # forces aging
    assert res.kept == 3
    # "don't add rejected folios to the oldest generation": PG_active, refs flags cleared
    assert np.all(lv.gen[:3] == lru_gen_from_seq(3))
    assert np.all(lv.refs[:3] == 0)
    lv.check_invariants()


def test_evict_vm_pages_zaps_sptes_and_flushes_tlbs() -> None:
    sc = scenario_from_dict({"sim": {"duration_ms": 1, "check_invariants": True},
                             "host": {"memory": "48MiB"},
                             "vm": {"memory": "8MiB", "vcpus": 2}})
    m = Machine(sc)
    assert m.vms[0].backend is not None
    n = 1000
    pages = np.arange(n, dtype=np.int64)
    fault_in(m, pages)
    m.vms[0].backend.sptes.map(pages, np.zeros(n, dtype=bool))
    m.vms[0].tlbs.fill(0, pages[:100])
    m.vms[0].tlbs.fill(1, pages[:100])
    lv = m.mglru().lruvec
    lv.try_to_inc_min_seq()
    lv.inc_max_seq(1)
    lv.inc_max_seq(2)
    m.host.pt.young[:] = False
    m.vms[0].backend.sptes.young[:] = False  # nothing referenced: all 64 are reclaimed
    res = m.mglru().eviction.evict_folios(10**6, Work())
    assert res.reclaimed == 64
    gone = pages[:64]
    assert not m.vms[0].backend.sptes.present[gone].any()
    assert m.vms[0].backend.sptes.present[pages[64:]].all()
    cached = set(m.vms[0].tlbs.cached().tolist())
    assert not cached & set(gone.tolist())
    assert set(range(64, 100)) <= cached
    check_host(m.host)  # whole-host invariants (SPTE only for present PTEs, TLB only for SPTEs)

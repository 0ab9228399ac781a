"""The v3 bitmap notifier API and the four notifier designs, pinned against the patch series.

Expected behaviour (research/patch-series.md §2.4-2.8, §3.3-3.5, §4; the seed mail):

- flags: ``MMU_NOTIFIER_YOUNG`` = 1 << 0 (legacy young, no bitmap),
  ``MMU_NOTIFIER_YOUNG_BITMAP_UNRELIABLE`` = 1 << 1 (bitmap not supported: nothing tested or
  cleared), ``MMU_NOTIFIER_YOUNG_FAST`` = 1 << 2 (young found by a "fast" walk: lockless x86 TDP,
  arm64 under the mmu_lock read lock);
- bit order: bit i is the page ``end - (i + 1)``: bit 0 is the last page of the range;
- ``test_young(start, end, bitmap)`` fills the bitmap without clearing; ``clear_young`` clears
  exactly the pages whose bit is set; backends that cannot age "fast" return UNRELIABLE and
  touch nothing (x86 without A/D bits, shadow MMU, generic, and any backend aged under the
  write lock);
- the v3 walk makes at most two calls per 64 PTEs (``test_spte_young`` + ``clear_spte_young``);
  ``per_page`` one per examined PTE; on UNRELIABLE the caller does what
  ``unreliable_fallback`` says;
- ``should_look_around``: a pivot young only in the secondary MMU allows look-around only if
  the answer carried ``MMU_NOTIFIER_YOUNG_FAST``;
- ``fast_only`` (v5-v7): subscribers without ``has_fast_aging`` (aging lock other than ``none``
  or ``rmap``) are skipped by the walk and look-around.

Everything runs on hand-built components (no SimPy), a few thousand pages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from simulator.accounting import Work
from simulator.costs import CostConfig
from simulator.kvm.backends import KvmBackend, make_backend
from simulator.kvm.bitmap_batch import bitmap_bits, pack_bitmap
from simulator.kvm.notifier import (
    MMU_NOTIFIER_YOUNG,
    MMU_NOTIFIER_YOUNG_BITMAP_UNRELIABLE,
    MMU_NOTIFIER_YOUNG_FAST,
    KvmAgingOps,
    NotifierDesign,
    make_design,
)
from simulator.kvm.tlb import Tlbs
from simulator.mm.aging import Aging, WalkResult, drain
from simulator.mm.eviction import Eviction, EvictResult
from simulator.mm.fault import handle_faults
from simulator.mm.lruvec import Lruvec
from simulator.mm.pagetable import PageTables, layout
from simulator.mm.workingset import Workingset
from simulator.truth import GroundTruth

BATCH = 64
TABLES = 4
PAGES = TABLES * 512

# (backend, aging lock) pairs by what v3's kvm_arch_prepare_bitmap_age() would say
BITMAP_FAST = [("x86_tdp", "none"), ("arm64", "read"), ("arm64", "none")]
BITMAP_UNRELIABLE = [("x86_tdp_noad", "none"), ("x86_tdp_noad", "write"), ("x86_shadow", "rmap"),
                     ("x86_shadow", "write"), ("generic", "write"), ("x86_tdp", "write"),
                     ("arm64", "write")]
# v5-v7 has_fast_aging: aging that never blocks on mmu_lock
HAS_FAST_AGING = [("x86_tdp", "none"), ("x86_tdp_noad", "none"), ("x86_shadow", "rmap"),
                  ("arm64", "none")]
NO_FAST_AGING = [("x86_tdp", "write"), ("arm64", "write"), ("arm64", "read"),
                 ("generic", "write"), ("x86_shadow", "write"), ("x86_tdp_noad", "write")]


def ids(pairs: list[tuple[str, str]]) -> list[str]:
    return [f"{b}-{lock}" for b, lock in pairs]


# --- the constants and the bit order ---------------------------------------------------------

def test_flag_values_match_v3() -> None:
    assert MMU_NOTIFIER_YOUNG == 1
    assert MMU_NOTIFIER_YOUNG_BITMAP_UNRELIABLE == 2
    assert MMU_NOTIFIER_YOUNG_FAST == 4


def one_hot(n: int, *idx: int) -> np.ndarray:
    a = np.zeros(n, dtype=bool)
    a[list(idx)] = True
    return a


@pytest.mark.parametrize(("young", "expected"), [
    (one_hot(64, 63), 1),                    # the last page (end - PAGE_SIZE) is bit 0
    (one_hot(64, 0), 1 << 63),               # the first page of a 64-page range is bit 63
    (one_hot(64, 0, 63), (1 << 63) | 1),
    (one_hot(64, 62), 0b10),
    (one_hot(3, 0), 0b100),                  # a 3-page range: the first page is bit 2
    (one_hot(3, 1, 2), 0b011),
    (np.ones(64, dtype=bool), (1 << 64) - 1),
    (np.zeros(64, dtype=bool), 0),
])
def test_pack_bitmap_bit_zero_is_the_last_page(young: np.ndarray, expected: int) -> None:
    assert pack_bitmap(young) == expected


def test_bitmap_bits_reads_reverse_order() -> None:
    start, end = 100, 110
    pages = np.arange(start, end, dtype=np.int64)
    # page p is bit (end - 1 - p): 100 -> bit 9, 105 -> bit 4, 109 -> bit 0
    got = bitmap_bits((1 << 9) | (1 << 4) | 1, end, pages)
    assert np.flatnonzero(got).tolist() == [0, 5, 9]
    # a subset of the range is read against the same end
    assert bitmap_bits(1 << 4, end, np.array([104, 105, 106])).tolist() == [False, True, False]


def test_pack_and_bits_round_trip() -> None:
    rng = np.random.default_rng(7)
    for n in (1, 2, 17, 63, 64):
        young = rng.random(n) < 0.4
        end = 1000 + n
        pages = np.arange(end - n, end, dtype=np.int64)
        assert bitmap_bits(pack_bitmap(young), end, pages).tolist() == young.tolist()


# --- KvmAgingOps: test_young / clear_young ---------------------------------------------------

def ops_for(name: str, lock: str, pages: int = 256, flush: bool = False) -> KvmAgingOps:
    backend = make_backend(name, pages, lock, CostConfig())
    backend.sptes.map(np.arange(pages, dtype=np.int64), np.zeros(pages, dtype=bool))
    backend.sptes.young[:] = False
    return KvmAgingOps(backend, Tlbs(2, 64), tlb_flush_on_age=flush)


@pytest.mark.parametrize(("name", "lock"), BITMAP_FAST, ids=ids(BITMAP_FAST))
def test_test_young_fast_fills_bitmap_without_clearing(name: str, lock: str) -> None:
    ops = ops_for(name, lock)
    young = ops.backend.sptes.young
    young[[64, 100, 127]] = True  # range [64, 128): first page, page 100, last page
    before = young.copy()
    work = Work()
    flags, bitmap = ops.test_young(64, 128, work)
    assert flags == MMU_NOTIFIER_YOUNG_FAST
    assert bitmap == (1 << 63) | (1 << (127 - 100)) | 1
    assert np.array_equal(young, before)  # test only
    assert (work.notifier_calls, work.notifier_calls_bitmap, work.notifier_fast,
            work.notifier_unreliable) == (1, 1, 1, 0)
    assert work.write_locks == 0  # fast: lockless or read lock
    assert work.read_locks == (1 if lock == "read" else 0)


@pytest.mark.parametrize(("name", "lock"), BITMAP_FAST, ids=ids(BITMAP_FAST))
def test_test_young_fast_nothing_young(name: str, lock: str) -> None:
    ops = ops_for(name, lock)
    ops.backend.sptes.young[10] = True  # outside the range
    work = Work()
    assert ops.test_young(64, 128, work) == (0, 0)
    assert work.notifier_fast == 0 and work.notifier_calls_bitmap == 1
    # a range that is not mapped is not young either
    ops.backend.sptes.zap(np.arange(128, 192, dtype=np.int64))
    assert ops.test_young(128, 192, work) == (0, 0)


@pytest.mark.parametrize(("name", "lock"), BITMAP_FAST, ids=ids(BITMAP_FAST))
def test_clear_young_clears_only_the_bits_set(name: str, lock: str) -> None:
    ops = ops_for(name, lock)
    young = ops.backend.sptes.young
    young[[0, 5, 10, 63]] = True
    start, end = 0, 64
    # ask to clear pages 0, 10 (young) and 20 (old); leave 5 and 63 alone
    bitmap = (1 << (end - 1 - 0)) | (1 << (end - 1 - 10)) | (1 << (end - 1 - 20))
    work = Work()
    assert ops.clear_young(start, end, bitmap, work) == MMU_NOTIFIER_YOUNG_FAST
    assert np.flatnonzero(young).tolist() == [5, 63]
    assert (work.notifier_calls, work.notifier_calls_bitmap, work.notifier_fast) == (1, 1, 1)
    # a bitmap naming only old pages: nothing young, nothing changes
    assert ops.clear_young(start, end, 1 << (end - 1 - 20), work) == 0
    assert np.flatnonzero(young).tolist() == [5, 63]
    assert work.notifier_fast == 1 and work.notifier_calls_bitmap == 2


@pytest.mark.parametrize(("name", "lock"), BITMAP_UNRELIABLE, ids=ids(BITMAP_UNRELIABLE))
def test_unsupported_bitmap_is_unreliable_and_touches_nothing(name: str, lock: str) -> None:
    ops = ops_for(name, lock)
    young = ops.backend.sptes.young
    young[[0, 5, 63]] = True
    before = young.copy()
    work = Work()
    assert ops.test_young(0, 64, work) == (MMU_NOTIFIER_YOUNG_BITMAP_UNRELIABLE, 0)
    assert ops.clear_young(0, 64, (1 << 64) - 1, work) == MMU_NOTIFIER_YOUNG_BITMAP_UNRELIABLE
    assert np.array_equal(young, before)  # nothing was tested or cleared
    assert (work.notifier_calls_bitmap, work.notifier_unreliable, work.notifier_fast) == (2, 2, 0)


@pytest.mark.parametrize(("name", "lock"), BITMAP_UNRELIABLE, ids=ids(BITMAP_UNRELIABLE))
def test_unreliable_answer_takes_no_mmu_lock(name: str, lock: str) -> None:
    # v3 kvm_mmu_notifier_test_clear_young(): an arch that does not prepare a bitmap walk
    # returns UNRELIABLE as soon as it sees the bitmap, before kvm_handle_hva_range() (which
    # is what takes KVM_MMU_LOCK); the x86 shadow-root case learns it during the lockless walk.
    ops = ops_for(name, lock)
    work = Work()
    ops.test_young(0, 64, work)
    ops.clear_young(0, 64, (1 << 64) - 1, work)
    assert (work.write_locks, work.read_locks, work.write_hold_ns) == (0, 0, 0.0)


@pytest.mark.parametrize(("name", "lock", "flag"), [
    ("x86_tdp", "none", MMU_NOTIFIER_YOUNG_FAST), ("arm64", "read", MMU_NOTIFIER_YOUNG_FAST),
    ("x86_tdp", "write", MMU_NOTIFIER_YOUNG), ("arm64", "write", MMU_NOTIFIER_YOUNG),
    ("generic", "write", MMU_NOTIFIER_YOUNG), ("x86_shadow", "rmap", MMU_NOTIFIER_YOUNG),
    ("x86_tdp_noad", "none", MMU_NOTIFIER_YOUNG)])
def test_per_page_clear_young_flags(name: str, lock: str, flag: int) -> None:
    """Without a bitmap the call is the legacy one: YOUNG, or FAST where the walk is fast."""
    ops = ops_for(name, lock)
    ops.backend.sptes.young[[3, 4]] = True
    work = Work()
    young, flags = ops.clear_young_pages(np.array([2, 3, 4], dtype=np.int64), work)
    assert young.tolist() == [False, True, True]
    assert flags.tolist() == [0, flag, flag]
    assert not ops.backend.sptes.young.any()
    assert work.notifier_calls == 3 and work.notifier_calls_bitmap == 0


# --- the designs inside the aging walk -------------------------------------------------------

@dataclass
class Rig:
    """One VM mm (``PAGES`` pages, all faulted in, SPTEs mapped) with MGLRU and one design."""

    pt: PageTables
    lruvec: Lruvec
    truth: GroundTruth
    backend: KvmBackend
    design: NotifierDesign
    aging: Aging
    eviction: Eviction


def rig(name: str, lock: str, design: str, fallback: str = "blind", pages: int = PAGES) -> Rig:
    costs = CostConfig()
    pt = PageTables(layout([("vm0", pages, True)]))
    lv = Lruvec(pt.nr_pages)
    truth = GroundTruth(pt.nr_pages)
    ws = Workingset(pt.nr_pages)
    backend = make_backend(name, pages, lock, costs)
    ops = KvmAgingOps(backend, Tlbs(2, 0), tlb_flush_on_age=False)
    notifier = make_design(design, ops, fallback)
    notifiers = {0: notifier}
    aging = Aging(pt, lv, notifiers, truth, costs)  # type: ignore[arg-type]
    eviction = Eviction(pt, lv, aging, ws, notifiers, truth, costs,  # type: ignore[arg-type]
                        costs.swap_out_ns("zram"))
    all_pages = np.arange(pages, dtype=np.int64)
    handle_faults(pt, lv, ws, all_pages, np.zeros(pages, dtype=bool))
    backend.sptes.map(all_pages, np.zeros(pages, dtype=bool))
    pt.young[:] = False
    backend.sptes.young[:] = False
    return Rig(pt, lv, truth, backend, notifier, aging, eviction)


def guest_touch(r: Rig, pages: np.ndarray) -> None:
    """Guest accesses: only the secondary A bits are set (hardware page walk on a TLB miss)."""
    r.backend.sptes.young[pages] = True
    r.truth.record_access(pages)


def walk(r: Rig) -> WalkResult:
    return drain(r.aging.try_to_inc_max_seq(r.lruvec.max_seq, True, lambda: 0))


def young_pattern() -> tuple[np.ndarray, int]:
    """Young pages in some 64-page batches only; returns (pages, batches holding one)."""
    rng = np.random.default_rng(11)
    young = np.flatnonzero(rng.random(PAGES) < 0.05)
    young = young[(young // 512) != 2]  # table 2: no young page at all
    return young.astype(np.int64), len(np.unique(young // BATCH))


@pytest.mark.parametrize(("name", "lock"), BITMAP_FAST, ids=ids(BITMAP_FAST))
def test_bitmap_walk_at_most_two_calls_per_64_ptes(name: str, lock: str) -> None:
    r = rig(name, lock, "bitmap")
    young, batches_with_young = young_pattern()
    guest_touch(r, young)
    res = walk(r)
    w = res.work
    scanned = res.stats.leaf_total
    assert scanned == PAGES
    batches = PAGES // BATCH
    # test_spte_young once per batch, clear_spte_young once per batch holding a young PTE
    assert w.notifier_calls == batches + batches_with_young
    assert w.notifier_calls <= 2 * scanned / BATCH
    assert w.notifier_calls_bitmap == w.notifier_calls
    assert w.notifier_unreliable == 0
    assert w.notifier_fast == 2 * batches_with_young  # FAST from the test and the clear call
    assert res.stats.leaf_young == len(young)
    assert not r.backend.sptes.young.any()  # every young SPTE harvested (and cleared)
    assert (res.confusion.tp, res.confusion.fn, res.confusion.fp) == (len(young), 0, 0)
    assert w.write_locks == 0


def test_per_page_walk_one_call_per_examined_pte() -> None:
    r = rig("x86_tdp", "none", "per_page")
    young, _ = young_pattern()
    guest_touch(r, young)
    res = walk(r)
    assert res.work.notifier_calls == PAGES  # ptep_clear_young_notify on every PTE
    assert res.work.notifier_calls_bitmap == 0
    assert res.stats.leaf_young == len(young)
    assert not r.backend.sptes.young.any()


def test_bitmap_and_per_page_walks_find_the_same_pages() -> None:
    young, _ = young_pattern()
    promoted = []
    for design in ("bitmap", "per_page"):
        r = rig("x86_tdp", "none", design)
        guest_touch(r, young)
        walk(r)
        promoted.append(r.lruvec.refs.copy())  # first sighting: PG_referenced
    assert np.array_equal(promoted[0], promoted[1])
    assert np.flatnonzero(promoted[0]).tolist() == young.tolist()


@pytest.mark.parametrize(("name", "lock"), BITMAP_UNRELIABLE, ids=ids(BITMAP_UNRELIABLE))
def test_unreliable_fallback_per_page_finds_young(name: str, lock: str) -> None:
    r = rig(name, lock, "bitmap", fallback="per_page")
    young, _ = young_pattern()
    guest_touch(r, young)
    res = walk(r)
    batches = PAGES // BATCH
    w = res.work
    assert w.notifier_calls_bitmap == batches  # one test_young per batch, answered UNRELIABLE
    assert w.notifier_unreliable == batches
    assert w.notifier_calls == batches + PAGES  # then one legacy call per PTE
    assert w.notifier_fast == 0
    assert res.stats.leaf_young == len(young)
    assert res.confusion.tp == len(young) and res.confusion.fn == 0


@pytest.mark.parametrize(("name", "lock"), BITMAP_UNRELIABLE, ids=ids(BITMAP_UNRELIABLE))
def test_unreliable_fallback_blind_finds_nothing(name: str, lock: str) -> None:
    r = rig(name, lock, "bitmap", fallback="blind")
    young, _ = young_pattern()
    guest_touch(r, young)
    res = walk(r)
    batches = PAGES // BATCH
    assert res.work.notifier_calls == batches == res.work.notifier_unreliable
    assert res.stats.leaf_young == 0
    assert (res.confusion.tp, res.confusion.fn) == (0, len(young))  # recall drops to 0
    assert np.array_equal(np.flatnonzero(r.backend.sptes.young), young)  # never harvested


def test_blind_walk_never_calls_kvm() -> None:
    r = rig("x86_tdp", "none", "blind")
    young, _ = young_pattern()
    guest_touch(r, young)
    res = walk(r)
    assert res.work.notifier_calls == 0 and res.stats.leaf_young == 0
    assert res.confusion.fn == len(young)


@pytest.mark.parametrize(("name", "lock"), HAS_FAST_AGING, ids=ids(HAS_FAST_AGING))
def test_fast_only_walk_consults_fast_backends_per_page(name: str, lock: str) -> None:
    r = rig(name, lock, "fast_only")
    young, _ = young_pattern()
    guest_touch(r, young)
    res = walk(r)
    assert res.work.notifier_calls == PAGES
    assert res.work.notifier_fast == len(young)
    assert res.work.notifier_fast_failed == 0
    assert res.stats.leaf_young == len(young)


@pytest.mark.parametrize(("name", "lock"), NO_FAST_AGING, ids=ids(NO_FAST_AGING))
def test_fast_only_walk_skips_other_backends(name: str, lock: str) -> None:
    r = rig(name, lock, "fast_only")
    young, _ = young_pattern()
    guest_touch(r, young)
    res = walk(r)
    assert res.work.notifier_calls == 0  # skipped by the core: "not young"
    assert res.work.notifier_fast == 0
    assert res.stats.leaf_young == 0
    assert np.array_equal(np.flatnonzero(r.backend.sptes.young), young)


# --- eviction pivots and look-around gating --------------------------------------------------

def oldest_gen_rig(name: str, lock: str, design: str) -> Rig:
    """Every page in the oldest of four generations, nothing young anywhere."""
    r = rig(name, lock, design)
    lv = r.lruvec
    lv.try_to_inc_min_seq()
    lv.inc_max_seq(1)
    lv.inc_max_seq(2)
    assert lv.nr_gens == 4
    return r


def evict(r: Rig) -> tuple[EvictResult, Work]:
    work = Work()
    res = r.eviction.evict_folios(10**6, work)
    assert res.isolated == BATCH  # one MIN_LRU_BATCH of pivots
    return res, work


@pytest.mark.parametrize(("name", "lock"), BITMAP_FAST, ids=ids(BITMAP_FAST))
def test_secondary_only_young_pivot_looks_around_when_fast(name: str, lock: str) -> None:
    r = oldest_gen_rig(name, lock, "bitmap")
    guest_touch(r, np.arange(PAGES, dtype=np.int64))  # young in the secondary MMU only
    res, work = evict(r)
    assert res.reclaimed == 0 and res.activated + res.kept == BATCH  # all referenced
    assert res.look_arounds == BATCH
    assert "look_around" in r.truth.by_source
    assert work.notifier_calls_bitmap > 0  # the windows use the two bitmap calls
    assert work.notifier_calls_bitmap <= 2 * BATCH
    assert work.notifier_fast >= BATCH  # each pivot's answer carried FAST
    assert work.notifier_unreliable == 0


@pytest.mark.parametrize(("name", "lock"), BITMAP_UNRELIABLE, ids=ids(BITMAP_UNRELIABLE))
def test_secondary_only_young_pivot_no_look_around_when_not_fast(name: str, lock: str) -> None:
    r = oldest_gen_rig(name, lock, "bitmap")
    guest_touch(r, np.arange(PAGES, dtype=np.int64))
    res, work = evict(r)
    assert res.reclaimed == 0 and res.activated + res.kept == BATCH  # referenced all the same
    assert res.look_arounds == 0
    assert "look_around" not in r.truth.by_source
    assert work.notifier_calls == BATCH  # one legacy clear_young per pivot, nothing else
    assert work.notifier_calls_bitmap == 0 and work.notifier_fast == 0


@pytest.mark.parametrize(("name", "lock"), [("x86_tdp", "write"), ("generic", "write")])
def test_primary_young_pivot_looks_around_on_any_backend(name: str, lock: str) -> None:
    r = oldest_gen_rig(name, lock, "bitmap")
    r.pt.young[:] = True
    res, _ = evict(r)
    assert res.look_arounds == BATCH


@pytest.mark.parametrize(("design", "name", "lock", "looks"), [
    ("per_page", "generic", "write", True),      # 6.12+: any young pivot
    ("blind", "x86_tdp", "none", False),         # <6.12: primary young only
    ("fast_only", "x86_tdp", "none", True),
    ("fast_only", "x86_tdp", "write", False),
    ("fast_only", "arm64", "write", False),
])
def test_pivot_look_around_by_design(design: str, name: str, lock: str, looks: bool) -> None:
    r = oldest_gen_rig(name, lock, design)
    guest_touch(r, np.arange(PAGES, dtype=np.int64))
    res, work = evict(r)
    assert res.activated + res.kept == BATCH  # every design asks KVM about the pivot
    assert res.look_arounds == (BATCH if looks else 0)
    if design == "fast_only":
        fast = lock == "none"
        assert work.notifier_fast_failed == (0 if fast else BATCH)
        assert work.notifier_fast >= (BATCH if fast else 0)
        if not fast:
            assert work.notifier_calls == BATCH and work.notifier_fast == 0

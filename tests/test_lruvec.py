"""Tests of ``simulator.mm.lruvec``: generation bookkeeping (stateful) and kernel semantics.

Expected values come from mm/vmscan.c and include/linux/mm_inline.h as summarised in
research/mglru.md §1.3-§3.3, computed by hand here, not by calling the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from simulator.mm.lruvec import InvariantError, Lruvec, lru_gen_from_seq, lru_tier_from_refs

N = 64


def arr(*pages: int) -> np.ndarray:
    return np.array(pages, dtype=np.int64)


def lruvec_with_oldest(pages: int, on_oldest: list[int]) -> Lruvec:
    """A lruvec with 4 generations (min_seq 2, max_seq 5) and ``on_oldest`` in gen(min_seq)."""
    lv = Lruvec(pages)
    lv.add_folios(np.array(on_oldest, dtype=np.int64))  # seq max_seq - 1 = 2
    assert lv.try_to_inc_min_seq()
    assert (lv.min_seq, lv.max_seq) == (2, 3)
    lv.inc_max_seq(10)
    lv.inc_max_seq(20)
    assert (lv.min_seq, lv.max_seq) == (2, 5)
    return lv


# --- stateful property ----------------------------------------------------------------------

class LruvecMachine(RuleBasedStateMachine):
    """Random operations keep the generation bookkeeping consistent with a shadow model."""

    def __init__(self) -> None:
        super().__init__()
        self.lv = Lruvec(N)
        self.resident: set[int] = set()
        self.now = 0

    def _pick(self, data: st.DataObject, pool: set[int]) -> np.ndarray:
        chosen = data.draw(st.lists(st.sampled_from(sorted(pool)), unique=True, max_size=20))
        return np.array(chosen, dtype=np.int64)

    @precondition(lambda self: len(self.resident) < N)
    @rule(data=st.data())
    def add(self, data: st.DataObject) -> None:
        pages = self._pick(data, set(range(N)) - self.resident)
        ws = self.lv.workingset[pages].copy()
        lv = self.lv
        expected = [lru_gen_from_seq(max(lv.max_seq - 1 + int(w), lv.min_seq)) for w in ws]
        lv.add_folios(pages)
        assert lv.gen[pages].tolist() == expected
        self.resident |= set(pages.tolist())

    @precondition(lambda self: self.resident)
    @rule(data=st.data())
    def update_gen(self, data: st.DataObject) -> None:
        pages = self._pick(data, self.resident)
        lv = self.lv
        refs, ws, gen = lv.refs[pages].copy(), lv.workingset[pages].copy(), lv.gen[pages].copy()
        first, promoted = lv.folio_update_gen(pages)
        fresh = (refs == 0) & ~ws
        assert first == int(fresh.sum())
        new = lru_gen_from_seq(lv.max_seq)
        assert promoted == int((~fresh & (gen != new)).sum())
        assert np.array_equal(lv.gen[pages], np.where(fresh, gen, new))
        assert np.array_equal(lv.refs[pages], np.where(fresh, 1, 0))
        assert np.array_equal(lv.workingset[pages], ws | ~fresh)

    @precondition(lambda self: self.resident)
    @rule(data=st.data())
    def set_refs(self, data: st.DataObject) -> None:
        pages = self._pick(data, self.resident)
        lv = self.lv
        refs, ws, gen = lv.refs[pages].copy(), lv.workingset[pages].copy(), lv.gen[pages].copy()
        again = lv.lru_gen_set_refs(pages)
        assert np.array_equal(again, (refs > 0) | ws)
        assert np.array_equal(lv.gen[pages], gen)  # flags only, no promotion
        assert np.array_equal(lv.workingset[pages], ws | again)

    @precondition(lambda self: self.resident)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        pages = self._pick(data, self.resident)
        self.lv.del_folios(pages)
        assert np.all(self.lv.gen[pages] == -1)
        self.resident -= set(pages.tolist())

    @rule()
    def inc_max_seq(self) -> None:
        lv = self.lv
        before_max, before_min, gens = lv.max_seq, lv.min_seq, lv.nr_gens
        self.now += 1000
        lv.inc_max_seq(self.now)
        assert lv.max_seq == before_max + 1
        assert lv.min_seq == before_min + (1 if gens == 4 else 0)
        assert lv.timestamps[lru_gen_from_seq(lv.max_seq)] == self.now

    @rule()
    def try_to_inc_min_seq(self) -> None:
        lv = self.lv
        before = lv.min_seq
        moved = lv.try_to_inc_min_seq()
        assert moved == (lv.min_seq > before)
        # it stopped at a populated list or at two generations
        assert lv.nr_gens == 2 or lv.list_len[lru_gen_from_seq(lv.min_seq)] > 0

    @invariant()
    def consistent(self) -> None:
        lv = self.lv
        lv.check_invariants()
        assert 2 <= lv.nr_gens <= 4
        on = np.flatnonzero(lv.gen >= 0)
        assert set(on.tolist()) == self.resident  # conservation: nothing lost or invented
        live = {lru_gen_from_seq(s) for s in range(lv.min_seq, lv.max_seq + 1)}
        assert set(lv.gen[on].tolist()) <= live
        counts = np.bincount(lv.gen[on], minlength=4)
        assert counts.tolist() == lv.nr_pages.tolist()
        assert int(lv.nr_pages.sum()) == len(self.resident) == lv.resident_pages()
        # each resident page sits on exactly one physical list, of a live generation
        assert set(lv.lst[on].tolist()) <= live
        assert int(lv.list_len.sum()) == len(self.resident)


LruvecMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestLruvecStateful = LruvecMachine.TestCase


# --- check_invariants catches corruption ----------------------------------------------------

def test_check_invariants_detects_bad_counts() -> None:
    lv = Lruvec(8)
    lv.add_folios(arr(0, 1, 2))
    lv.check_invariants()
    lv.nr_pages[lru_gen_from_seq(lv.max_seq)] += 1
    with pytest.raises(InvariantError):
        lv.check_invariants()


def test_check_invariants_detects_page_outside_window() -> None:
    lv = Lruvec(8)
    lv.add_folios(arr(0, 1))
    lv.try_to_inc_min_seq()
    assert (lv.min_seq, lv.max_seq) == (2, 3)  # live gens: 2, 3
    lv.gen[1] = lru_gen_from_seq(lv.min_seq - 1)  # a dead generation
    lv.nr_pages[:] = np.bincount(lv.gen[lv.gen >= 0], minlength=4)
    with pytest.raises(InvariantError):
        lv.check_invariants()


# --- kernel semantics -----------------------------------------------------------------------

def test_init_state() -> None:
    lv = Lruvec(4, now_ns=7)
    # lru_gen_init_lruvec: max_seq = MIN_NR_GENS + 1, min_seq = 0
    assert (lv.max_seq, lv.min_seq, lv.nr_gens) == (3, 0, 4)
    assert lv.timestamps.tolist() == [7, 7, 7, 7]
    assert np.all(lv.gen == -1)


def test_add_folios_placement() -> None:
    lv = Lruvec(8)
    lv.workingset[3] = True
    lv.add_folios(arr(0, 1, 2, 3))
    # PG_active (fault) → max_seq - 1; with PG_workingset → max_seq
    assert lv.gen[[0, 1, 2]].tolist() == [lru_gen_from_seq(2)] * 3
    assert lv.gen[3] == lru_gen_from_seq(3)
    # list_add at the head: the first folio added is nearest the tail (scanned first)
    assert lv.list_members(lru_gen_from_seq(2)).tolist() == [0, 1, 2]
    assert lv.nr_pages.tolist() == [0, 0, 3, 1]


def test_two_sighting_promotion() -> None:
    lv = lruvec_with_oldest(8, [0, 1, 2])
    old = lru_gen_from_seq(lv.min_seq)
    # first young sighting: PG_referenced only, no promotion
    first, promoted = lv.folio_update_gen(arr(0))
    assert (first, promoted) == (1, 0)
    assert lv.gen[0] == old and lv.refs[0] == 1 and not lv.workingset[0]
    assert lv.nr_pages[old] == 3
    # second sighting: gen(max_seq), PG_workingset, refs flags cleared; not moved
    first, promoted = lv.folio_update_gen(arr(0))
    assert (first, promoted) == (0, 1)
    assert lv.gen[0] == lru_gen_from_seq(lv.max_seq)
    assert lv.workingset[0] and lv.refs[0] == 0
    assert lv.lst[0] == old  # lazy sorting: still on the old list
    assert lv.nr_pages[old] == 2 and lv.nr_pages[lru_gen_from_seq(lv.max_seq)] == 1
    # a third sighting at the same max_seq changes nothing
    assert lv.folio_update_gen(arr(0)) == (0, 0)
    lv.check_invariants()


def test_folio_update_gen_workingset_counts_as_seen() -> None:
    lv = lruvec_with_oldest(8, [0])
    lv.workingset[0] = True  # PG_workingset alone: not a first sighting
    assert lv.folio_update_gen(arr(0)) == (0, 1)
    assert lv.gen[0] == lru_gen_from_seq(lv.max_seq)


def test_folio_update_gen_ignores_isolated() -> None:
    lv = lruvec_with_oldest(8, [0, 1])
    lv.del_folios(arr(1))
    lv.refs[1] = 1
    assert lv.folio_update_gen(arr(1)) == (0, 0)
    assert lv.gen[1] == -1
    lv.check_invariants()


def test_lru_gen_set_refs() -> None:
    lv = Lruvec(4)
    again = lv.lru_gen_set_refs(arr(0, 1, 2))
    assert again.tolist() == [False, False, False]
    assert lv.refs[[0, 1, 2]].tolist() == [1, 1, 1]
    lv.refs[2] = 3
    again = lv.lru_gen_set_refs(arr(0, 2, 3))
    assert again.tolist() == [True, True, False]
    assert lv.workingset[[0, 2, 3]].tolist() == [True, True, False]
    assert lv.refs[[0, 2, 3]].tolist() == [0, 0, 1]


def test_folio_inc_gen_keeps_promoted() -> None:
    lv = lruvec_with_oldest(8, [0, 1, 2])
    lv.refs[[0, 1]] = 1
    lv.folio_update_gen(arr(1))  # promoted to gen(max_seq)
    lv.workingset[0] = True
    lv.refs[0] = 3
    gens = lv.folio_inc_gen(arr(0, 1, 2))
    nxt = lru_gen_from_seq(lv.min_seq + 1)
    assert gens.tolist() == [nxt, lru_gen_from_seq(lv.max_seq), nxt]
    assert lv.gen[[0, 1, 2]].tolist() == gens.tolist()
    assert lv.refs[0] == 0 and lv.workingset[0]  # refs cleared, workingset kept
    lv.check_invariants()


def test_inc_min_seq_protected_per_tier_except_lazy() -> None:
    # tier multiplicities chosen so that the halved EMA still tells them apart
    groups = {  # (refs, workingset): count
        (0, False): 2, (1, False): 2,       # tier 0: 4
        (2, False): 4,                      # tier 1: 4
        (3, False): 3, (4, False): 3,       # tier 2: 6
        (0, True): 8,                       # tier 3: 8
        (4, True): 10,                      # lazily promoted: not counted
    }
    n = sum(groups.values()) + 2
    pages: list[int] = []
    lv = lruvec_with_oldest(n, list(range(n)))
    flags = {}
    p = 0
    for (refs, ws), count in groups.items():
        for _ in range(count):
            lv.refs[p] = refs
            lv.workingset[p] = ws
            flags[p] = (refs, ws)
            pages.append(p)
            p += 1
    # two promoted folios still on the oldest list (refs 1 -> second sighting)
    promoted = arr(p, p + 1)
    lv.refs[promoted] = 1
    lv.folio_update_gen(promoted)  # workingset, refs 0: tier 3, counted
    assert lv.nr_gens == 4
    lv.inc_max_seq(99)
    # protected = [4, 4, 6, 8 + 2]; reset_ctrl_pos(carryover) halves into avg_total
    assert lv.avg_total.tolist() == [2, 2, 3, 5]
    assert lv.protected.tolist() == [0, 0, 0, 0]
    assert (lv.min_seq, lv.max_seq) == (3, 6)
    nxt = lru_gen_from_seq(3)
    assert np.all(lv.gen[pages] == nxt)
    assert np.all(lv.refs[pages] == 0)
    assert [bool(lv.workingset[q]) for q in pages] == [flags[q][1] for q in pages]
    assert np.all(lv.gen[promoted] == lru_gen_from_seq(5))
    assert np.all(lv.lst[promoted] == lru_gen_from_seq(5))
    assert np.all(lv.lst[pages] == nxt)
    assert lv.list_len[lru_gen_from_seq(2)] == 0
    lv.check_invariants()


@pytest.mark.parametrize(("refs", "ws", "tier"), [
    (0, False, 0), (1, False, 0), (2, False, 1), (3, False, 2), (4, False, 2),
    (0, True, 3), (1, True, 3), (4, True, 3),
])
def test_lru_tier_from_refs(refs: int, ws: bool, tier: int) -> None:
    out = lru_tier_from_refs(np.array([refs], dtype=np.int8), np.array([ws]))
    assert out.tolist() == [tier]


def test_try_to_inc_min_seq_skips_empty_keeps_two() -> None:
    lv = Lruvec(4)
    assert lv.try_to_inc_min_seq()  # lists 0 and 1 empty
    assert (lv.min_seq, lv.max_seq) == (2, 3)
    assert not lv.try_to_inc_min_seq()  # only two generations: never fewer
    lv.add_folios(arr(0))
    lv.inc_max_seq(1)
    lv.inc_max_seq(2)  # min 2, max 5; page 0 in seq 2
    assert not lv.try_to_inc_min_seq()
    lv.del_folios(arr(0))
    assert lv.try_to_inc_min_seq()
    assert lv.min_seq == 4  # seq 2, 3 empty; 4 + 2 > 5 stops


# --- PID controller -------------------------------------------------------------------------

def test_positive_ctrl_err_hand_values() -> None:
    pce = Lruvec.positive_ctrl_err
    # few refaults (< MIN_LRU_BATCH = 64): always positive
    assert pce((1000, 10, 2), (63, 1, 3))
    # 64 * (0 + 64) * 1 = 4096 <= (0 + 1) * t * 1  iff  t >= 4096
    assert pce((0, 0, 1), (64, 4096, 1))
    assert not pce((0, 0, 1), (64, 4095, 1))
    # sp = (10, 1000, 2), pv = (64, 2128, 3): 64*1064*2 = 136192 > 11*2128*3 = 70224
    assert not pce((10, 1000, 2), (64, 2128, 3))
    # pv = (64, 4127, 3): 11*4127*3 = 136191 < 136192; 4128 -> 136224 >= 136192
    assert not pce((10, 1000, 2), (64, 4127, 3))
    assert pce((10, 1000, 2), (64, 4128, 3))


def _pid(avg_refaulted: list[int], avg_total: list[int]) -> Lruvec:
    lv = Lruvec(1)
    lv.avg_refaulted[:] = avg_refaulted
    lv.avg_total[:] = avg_total
    return lv


def test_get_tier_idx_hand_values() -> None:
    # SP = tier 0: (10, 1000, gain 2). Tier 1: (100, 200, 3):
    # 100 * 1064 * 2 = 212800 > 11 * 200 * 3 = 6600 -> not positive -> index 0
    assert _pid([10, 100, 0, 0], [1000, 200, 0, 0]).get_tier_idx() == 0
    # tier 1 few refaults (50 < 64), tiers 2, 3 none -> all positive -> index 3
    assert _pid([10, 50, 0, 0], [1000, 200, 0, 0]).get_tier_idx() == 3
    # tier 1: 70*1064*2 = 148960 <= 11*10000*3 = 330000 positive;
    # tier 2: 80*1064*2 = 170240 > 11*100*3 = 3300 -> stop at tier 2 -> index 1
    assert _pid([10, 70, 80, 0], [1000, 10000, 100, 0]).get_tier_idx() == 1
    # tier 3 alone hot: tiers 1, 2 positive, tier 3: 500*1064*2 > 11*10*3 -> index 2
    assert _pid([10, 0, 0, 500], [1000, 0, 0, 10]).get_tier_idx() == 2


def test_read_ctrl_pos_sums_avg_and_current() -> None:
    lv = _pid([1, 2, 3, 4], [10, 20, 30, 40])
    lv.refaulted[:] = [5, 6, 7, 8]
    lv.protected[:] = [100, 200, 300, 400]
    lv.evicted[:] = [1000, 2000, 3000, 4000]
    assert lv.read_ctrl_pos(1, 3) == (2 + 6, 20 + 200 + 2000, 3)
    # tier == MAX_NR_TIERS: all tiers
    assert lv.read_ctrl_pos(4, 7) == (10 + 26, 100 + 1000 + 10000, 7)


def test_get_tier_idx_uses_current_counters() -> None:
    lv = _pid([10, 0, 0, 0], [1000, 0, 0, 0])
    lv.refaulted[1] = 100
    lv.evicted[1] = 200
    assert lv.get_tier_idx() == 0


def test_reset_ctrl_pos_halving() -> None:
    lv = _pid([7, 0, 100, 1], [9, 3, 0, 1])
    lv.refaulted[:] = [4, 1, 0, 0]
    lv.protected[:] = [2, 0, 10, 0]
    lv.evicted[:] = [4, 0, 5, 1]
    lv.reset_ctrl_pos(carryover=False)  # NR_HIST_GENS == 1: nothing at inc_max_seq
    assert lv.avg_refaulted.tolist() == [7, 0, 100, 1]
    assert lv.refaulted.tolist() == [4, 1, 0, 0]
    lv.reset_ctrl_pos(carryover=True)
    assert lv.avg_refaulted.tolist() == [(7 + 4) // 2, (0 + 1) // 2, 50, 0]
    assert lv.avg_total.tolist() == [(9 + 2 + 4) // 2, 1, (0 + 10 + 5) // 2, (1 + 0 + 1) // 2]
    assert lv.refaulted.tolist() == [0, 0, 0, 0]
    assert lv.protected.tolist() == [0, 0, 0, 0]
    assert lv.evicted.tolist() == [0, 0, 0, 0]


def test_try_to_inc_min_seq_carries_over_pid() -> None:
    lv = Lruvec(2)
    lv.refaulted[0] = 8
    lv.try_to_inc_min_seq()  # two min_seq increments: 8 -> avg 4 -> avg 2
    assert lv.avg_refaulted[0] == 2


def test_inc_min_seq_list_order_matches_list_move_tail() -> None:
    """inc_min_seq takes folios from the old list's tail (``lru_to_folio`` = head->prev) one at a
    time and ``list_move_tail``s each onto the next generation's list, so the folio taken last
    (the old list's head-most) ends up at the new tail and is scanned first: the moved run comes
    out in reverse order, behind the folios already on that list."""
    lv = Lruvec(8)
    lv.add_folios(arr(0, 1, 2))           # seq 2; scan order (tail -> head): 0, 1, 2
    lv.try_to_inc_min_seq()
    lv.inc_max_seq(1)
    lv.add_folios(arr(3))                 # seq 3 (max_seq - 1)
    lv.inc_max_seq(2)                     # min 2, max 5
    assert lv.list_members(lru_gen_from_seq(2)).tolist() == [0, 1, 2]
    lv.inc_max_seq(3)                     # inc_min_seq: 0, then 1, then 2 moved to the tail
    assert lv.list_members(lru_gen_from_seq(3)).tolist() == [2, 1, 0, 3]

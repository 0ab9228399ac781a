"""``simulator.mm.lruvec`` compiled: the generation arithmetic on the same arrays, folio by folio.

Every function here is the loop form of a :class:`~simulator.mm.lruvec.Lruvec` method (named
alike) and works on the very arrays of the Python object, bundled in :class:`LruvecArrays`, so
the reference code can take over between two compiled stretches and find the state it left.
The scalars (``max_seq``, ``min_seq``, the list ends, ``list_version``) travel in one int64
array (``lv.s``) and are written back by the caller.

Only folios of one page are handled (no THP: the stretch does not run then), so every size
counter moves by one per folio. The batch methods of the reference act on distinct folios, so
applying them folio by folio in the same order gives the same state.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from simulator.jit import njit
from simulator.mm.constants import (
    MAX_NR_GENS,
    MAX_NR_TIERS,
    MIN_LRU_BATCH,
    MIN_NR_GENS,
)
from simulator.mm.lruvec import LAZY_REFS

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Int8Array = npt.NDArray[np.int8]

MAX_SEQ, MIN_SEQ, HEAD, TAIL, LIST_VERSION = range(5)
"""Indices of ``LruvecArrays.s``."""
NR_SCALARS = 5


class LruvecArrays(NamedTuple):
    """The arrays of one :class:`~simulator.mm.lruvec.Lruvec` (shared, not copied)."""

    gen: Int8Array
    lst: Int8Array
    pos: IntArray
    refs: Int8Array
    ws: BoolArray
    nr_pages: IntArray
    list_len: IntArray
    timestamps: IntArray
    avg_refaulted: IntArray
    avg_total: IntArray
    protected: IntArray
    evicted: IntArray
    refaulted: IntArray
    s: IntArray
    """max_seq, min_seq, the head and tail position counters, list_version."""
    flags: BoolArray
    """two_sightings (6.14+ promotion), new tiers (6.14+), youngest insertion (before 6.14)."""


TWO_SIGHTINGS, NEW_TIERS, YOUNGEST_INSERTION = range(3)


@njit
def tier_of(lv: LruvecArrays, refs: int, ws: bool) -> int:
    """``lru_tier_from_refs`` of the release (see the reference's two functions)."""
    if lv.flags[NEW_TIERS]:
        if ws:
            return MAX_NR_TIERS - 1
        return 0 if refs <= 1 else (1 if refs == 2 else 2)
    n = max(refs - 1, 0) + (1 if ws else 0)
    tier = 0  # order_base_2(n + 1) = the bit length of n
    while n:
        tier += 1
        n >>= 1
    return tier


@njit
def set_list(lv: LruvecArrays, p: int, new: int) -> None:
    old = lv.lst[p]
    if old >= 0:
        lv.list_len[old] -= 1
    lv.lst[p] = new
    if new >= 0:
        lv.list_len[new] += 1


@njit
def move_to_head(lv: LruvecArrays, pages: IntArray, lists: IntArray) -> None:
    """``list_move`` of each folio to the head of its list, in order."""
    head = lv.s[HEAD]
    for i in range(len(pages)):
        set_list(lv, pages[i], lists[i])
        lv.pos[pages[i]] = head + i
    lv.s[HEAD] = head + len(pages)


@njit
def to_tail(lv: LruvecArrays, pages: IntArray, lst: int) -> None:
    """Append folios at a list's tail; the first given ends up nearest the tail."""
    k = len(pages)
    tail = lv.s[TAIL]
    for i in range(k):
        set_list(lv, pages[i], lst)
        lv.pos[pages[i]] = tail - (k - 1 - i) - k
    lv.s[TAIL] = tail - 2 * k
    lv.s[LIST_VERSION] += 1


@njit
def add_folios(lv: LruvecArrays, pages: IntArray) -> None:
    """``lru_gen_add_folio`` at the head of ``lru_gen_folio_seq``'s generation."""
    if len(pages) == 0:
        return
    max_seq, min_seq = lv.s[MAX_SEQ], lv.s[MIN_SEQ]
    lists = np.empty(len(pages), dtype=np.int64)
    cold = max(max_seq - MIN_NR_GENS + 1, min_seq) % MAX_NR_GENS
    warm = max(max_seq - MIN_NR_GENS + 2, min_seq) % MAX_NR_GENS
    youngest = max_seq % MAX_NR_GENS
    for i in range(len(pages)):
        p = pages[i]
        g = youngest if lv.flags[YOUNGEST_INSERTION] else (warm if lv.ws[p] else cold)
        lv.gen[p] = g
        lv.nr_pages[g] += 1
        lists[i] = g
    move_to_head(lv, pages, lists)


@njit
def del_folio(lv: LruvecArrays, p: int) -> None:
    """``lru_gen_del_folio`` (isolation)."""
    lv.nr_pages[lv.gen[p]] -= 1
    lv.gen[p] = -1
    set_list(lv, p, -1)


@njit
def update_gen(lv: LruvecArrays, p: int) -> tuple[int, int]:
    """``folio_update_gen`` of one young folio: (first sightings, promoted) it adds."""
    if lv.gen[p] < 0:
        return 0, 0
    new = lv.s[MAX_SEQ] % MAX_NR_GENS
    if lv.flags[TWO_SIGHTINGS] and lv.refs[p] == 0 and not lv.ws[p]:
        lv.refs[p] = 1
        return 1, 0
    old = lv.gen[p]
    moved = 0
    if old != new:
        lv.nr_pages[old] -= 1
        lv.nr_pages[new] += 1
        moved = 1
    lv.gen[p] = new
    lv.refs[p] = 0
    lv.ws[p] = lv.flags[TWO_SIGHTINGS]  # 6.14+ sets PG_workingset, before it clears it
    return 0, moved


@njit
def set_refs(lv: LruvecArrays, p: int) -> bool:
    """``lru_gen_set_refs``: True on a second sighting (activate)."""
    if lv.refs[p] == 0 and not lv.ws[p]:
        lv.refs[p] = 1
        return False
    lv.ws[p] = True
    lv.refs[p] = 0
    return True


@njit
def inc_gen(lv: LruvecArrays, p: int) -> int:
    """``folio_inc_gen``: an oldest-gen folio moves to ``min_seq + 1``; returns its gen."""
    old = lv.s[MIN_SEQ] % MAX_NR_GENS
    g = lv.gen[p]
    if g != old:
        return int(g)
    new = (old + 1) % MAX_NR_GENS
    lv.gen[p] = new
    lv.refs[p] = 0
    lv.nr_pages[old] -= 1
    lv.nr_pages[new] += 1
    return int(new)


@njit
def list_members(lv: LruvecArrays, lst: int) -> IntArray:
    """Folios on list ``lst`` from the tail (smallest position) to the head."""
    n = 0
    for p in range(len(lv.lst)):
        if lv.lst[p] == lst:
            n += 1
    members = np.empty(n, dtype=np.int64)
    keys = np.empty(n, dtype=np.int64)
    k = 0
    for p in range(len(lv.lst)):
        if lv.lst[p] == lst:
            members[k] = p
            keys[k] = lv.pos[p]
            k += 1
    out: IntArray = members[np.argsort(keys, kind="mergesort")]
    return out


@njit
def reset_ctrl_pos(lv: LruvecArrays) -> None:
    """``reset_ctrl_pos`` with carryover (NR_HIST_GENS = 1)."""
    for t in range(MAX_NR_TIERS):
        lv.avg_refaulted[t] = (lv.avg_refaulted[t] + lv.refaulted[t]) // 2
        lv.avg_total[t] = (lv.avg_total[t] + lv.protected[t] + lv.evicted[t]) // 2
        lv.refaulted[t] = 0
        lv.evicted[t] = 0
        lv.protected[t] = 0


@njit
def inc_min_seq(lv: LruvecArrays) -> None:
    """``inc_min_seq``: the oldest list's folios go to the tails of their new lists."""
    old = lv.s[MIN_SEQ] % MAX_NR_GENS
    members = list_members(lv, old)
    if len(members):
        new_gens = np.empty(len(members), dtype=np.int64)
        for i in range(len(members)):
            p = members[i]
            refs, ws = int(lv.refs[p]), bool(lv.ws[p])
            new_gens[i] = inc_gen(lv, p)
            if refs + (1 if ws else 0) != LAZY_REFS:
                lv.protected[tier_of(lv, refs, ws)] += 1
        for g in range(MAX_NR_GENS):
            run = members[new_gens == g][::-1].copy()
            if len(run):
                to_tail(lv, run, g)
    reset_ctrl_pos(lv)
    lv.s[MIN_SEQ] += 1


@njit
def inc_max_seq(lv: LruvecArrays, now: int) -> None:
    """``inc_max_seq``: a new youngest generation (after ``inc_min_seq`` when full)."""
    if lv.s[MAX_SEQ] - lv.s[MIN_SEQ] + 1 == MAX_NR_GENS:
        inc_min_seq(lv)
    lv.timestamps[(lv.s[MAX_SEQ] + 1) % MAX_NR_GENS] = now
    lv.s[MAX_SEQ] += 1


@njit
def try_to_inc_min_seq(lv: LruvecArrays) -> bool:
    """``try_to_inc_min_seq``: skip empty oldest generations."""
    moved = False
    while lv.s[MIN_SEQ] + MIN_NR_GENS <= lv.s[MAX_SEQ]:
        if lv.list_len[lv.s[MIN_SEQ] % MAX_NR_GENS]:
            break
        reset_ctrl_pos(lv)
        lv.s[MIN_SEQ] += 1
        moved = True
    return moved


@njit
def _ctrl_pos(lv: LruvecArrays, tier: int) -> tuple[int, int]:
    lo, hi = (0, MAX_NR_TIERS) if tier == MAX_NR_TIERS else (tier, tier + 1)
    refaulted = total = 0
    for t in range(lo, hi):
        refaulted += lv.avg_refaulted[t] + lv.refaulted[t]
        total += lv.avg_total[t] + lv.protected[t] + lv.evicted[t]
    return refaulted, total


@njit
def get_tier_idx(lv: LruvecArrays) -> int:
    """``get_tier_idx`` with ``read_ctrl_pos`` and ``positive_ctrl_err``."""
    sp_ref, sp_tot = _ctrl_pos(lv, 0)
    sp_gain, pv_gain = 2, 3
    tier = 1
    while tier < MAX_NR_TIERS:
        pv_ref, pv_tot = _ctrl_pos(lv, tier)
        positive = pv_ref < MIN_LRU_BATCH or (
            pv_ref * (sp_tot + MIN_LRU_BATCH) * sp_gain <= (sp_ref + 1) * pv_tot * pv_gain)
        if not positive:
            break
        tier += 1
    return tier - 1


def lruvec_arrays(lruvec: object) -> LruvecArrays:
    """Bundle a :class:`~simulator.mm.lruvec.Lruvec`'s arrays and copy its scalars in."""
    from simulator.mm.lruvec import Lruvec, lru_tier_from_refs

    assert isinstance(lruvec, Lruvec)
    s = np.array([lruvec.max_seq, lruvec.min_seq, lruvec._head, lruvec._tail,
                  lruvec.list_version], dtype=np.int64)
    flags = np.array([lruvec.two_sightings, lruvec.tier_of is lru_tier_from_refs,
                      lruvec.youngest_insertion], dtype=np.bool_)
    return LruvecArrays(lruvec.gen, lruvec.lst, lruvec.pos, lruvec.refs, lruvec.workingset,
                        lruvec.nr_pages, lruvec.list_len, lruvec.timestamps,
                        lruvec.avg_refaulted, lruvec.avg_total, lruvec.protected,
                        lruvec.evicted, lruvec.refaulted, s, flags)


def write_back(lruvec: object, lv: LruvecArrays) -> None:
    """Copy the scalars the kernels changed back into the Python object."""
    from simulator.mm.lruvec import Lruvec

    assert isinstance(lruvec, Lruvec)
    lruvec.max_seq, lruvec.min_seq = int(lv.s[MAX_SEQ]), int(lv.s[MIN_SEQ])
    lruvec._head, lruvec._tail = int(lv.s[HEAD]), int(lv.s[TAIL])
    lruvec.list_version = int(lv.s[LIST_VERSION])


__all__ = ["LruvecArrays", "add_folios", "del_folio", "get_tier_idx", "inc_gen",
           "inc_max_seq", "inc_min_seq", "list_members", "lruvec_arrays", "move_to_head",
           "reset_ctrl_pos", "set_refs", "tier_of", "to_tail", "try_to_inc_min_seq",
           "update_gen", "write_back"]

"""The host task under MGLRU as a compiled state machine: quanta, the charge, reclaim, aging.

The reference runs the host task as nested generators on SimPy (``simulator.actors``'s quantum,
``HostCore.charge``, ``simulator.mm.reclaim``'s ``charge_retry`` → ``try_to_free_mem_cgroup_pages``
→ ``try_to_shrink_lruvec`` → ``get_nr_to_scan``, and ``MglruPolicy``'s timed aging and
eviction). Here the same control flow is an explicit state (``m[STATE]`` and the loop variables
in ``m``/``f``), so it can stop at any simulated step and resume in a later call: every place
the reference yields a timeout is a step here, and what the reference does after a timeout is
done when the next call resumes, so whoever runs in between sees what it would have seen.

A step's duration is the reference's: ``max(1, round(cpu_ns))`` of the step's work (no VM, so
no ``mmu_lock`` wait), the quantum's touches and faults, or a 1 ms back-off. Applies to host-
only runs whose host task is the only reclaimer (no kswapd, no proactive or debugfs ager), with
≥6.4's mm-list walkers and folios of one page (``simulator.stretch.mglru`` checks).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from simulator.jit import njit
from simulator.mm.constants import DEF_PRIORITY, MAX_NR_GENS, MIN_NR_GENS, PTRS_PER_PTE
from simulator.mm.reclaim import BACKOFF_NS, MAX_RECLAIM_RETRIES, SWAP_CLUSTER_MAX
from simulator.stretch.arrays import (
    FAULT,
    PER_ACCESS,
    SWAP_IN,
    BloomArrays,
    PtArrays,
    ShadowArrays,
    TruthArrays,
)
from simulator.stretch.evict import (
    Mm,
    Snapshot,
)
from simulator.stretch.lruvec import (
    MAX_SEQ,
    MIN_SEQ,
    LruvecArrays,
    add_folios,
    tier_of,
)

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

# states: where the task resumes
QUANTUM, CHARGE, RETRY, SHRINK, NR_TO_SCAN, EVICTED, AGE_ITER, AGE_CHUNK, AGE_STEP_DONE, \
    BACKED_OFF = range(10)
# m: the state and the generators' local variables
STATE, CHARGE_START, CALLS, RETRIES, GOAL, GOT, PRIORITY, SCANNED_SH, GOT_SH, NR, DELTA, \
    EV_GOT, AGE_SEQ, AGE_START, AGE_LO, AGE_HI, AGE_MMS, AGE_HEAD_DONE, MM_SEQ, MM_HEAD, \
    QID, TICK_UNUSED, NR_PASSES, LIMIT = range(24)
NR_M = 24
# f: floats
BACKOFF, AGE_CPU, PENDING, AGING_CPU_NS, EVICTION_CPU_NS, TASK_RECLAIM_NS, AGING_WORK, \
    EVICTION_WORK = range(8)
NR_F = 8
# c: counters, as in simulator.metrics.Counters
HOST_TASK_ACCESSES, FAULTS_FIRST_TOUCH, REFAULTS, REFAULTS_RECENT, EVICTIONS, PGSCAN, \
    PGREFILL, ACTIVATIONS, KEPT_C, LOOK_AROUNDS_C, RMAP_WALKS_C, DIRECT_RECLAIMS, \
    AGING_PASSES, AGING_PASS_NS, MM_LEAF_TOTAL, MM_LEAF_YOUNG, MM_NONLEAF_FOUND, \
    MM_NONLEAF_ADDED = range(18)
NR_C = 18
# a pass record (passes.csv), then the pass's running counts (the walker's WalkResult)
R_START, R_END, R_SEQ, R_SUCCESS, R_LEAF_TOTAL, R_LEAF_YOUNG, R_NONLEAF_FOUND, \
    R_NONLEAF_ADDED, R_FIRST, R_PROMOTED, R_TP, R_FP, R_FN, R_TN, R_MMS = range(15)
NR_R = 15
# switches
LOOK_AROUND_ON, PUTBACK_ACTIVE, CAP_BY_NR_TO_SCAN, USE_BLOOM, SHOULD_WALK = range(5)
TABLES_PER_STEP = 64


# what a call of :func:`run` ended on
HORIZON, NEED_BATCH, RECORDS_FULL = range(3)


class World(NamedTuple):
    """Everything a step reads and writes (the model's arrays and the machine's own)."""

    lv: LruvecArrays
    pt: PtArrays
    truth: TruthArrays
    bloom: BloomArrays
    shadow: ShadowArrays
    snap: Snapshot
    mm: Mm
    m: IntArray
    f: FloatArray
    c: IntArray
    costs: FloatArray
    flags: BoolArray
    recs: IntArray
    """Pass records (``passes.csv`` rows) written by this call, ``m[NR_PASSES]`` of them."""
    seen: IntArray
    wrote: IntArray
    res: IntArray


@njit
def resident(lv: LruvecArrays) -> int:
    return int(lv.nr_pages.sum())


@njit
def quantum(lv: LruvecArrays, pt: PtArrays, truth: TruthArrays, shadow: ShadowArrays,
            pages: IntArray, writes: BoolArray, lo: int, hi: int, q: int, seen: IntArray,
            wrote: IntArray, c: IntArray, costs: FloatArray) -> int:
    """One quantum of touches (``TaskPath.touch``, ``handle_faults``, the truth); its
    counters and duration."""
    missing = np.empty(hi - lo, dtype=np.int64)
    n_missing = 0
    for i in range(lo, hi):
        p = pages[i]
        if pt.present[p]:
            pt.young[p] = True
            if writes[i]:
                pt.dirty[p] = True
        else:
            if seen[p] != q:
                seen[p] = q
                missing[n_missing] = p
                n_missing += 1
            if writes[i]:
                wrote[p] = q
    missing = np.sort(missing[:n_missing])
    swap_in, recent = _fault_in(lv, pt, shadow, missing, wrote, q)
    for i in range(lo, hi):
        truth.last_access[pages[i]] = truth.tick[0]
    truth.tick[0] += 1
    first_touch = n_missing - swap_in
    c[HOST_TASK_ACCESSES] += hi - lo
    c[FAULTS_FIRST_TOUCH] += first_touch
    c[REFAULTS] += swap_in
    c[REFAULTS_RECENT] += recent
    duration = (hi - lo) * costs[PER_ACCESS] + (first_touch + swap_in) * costs[FAULT] \
        + swap_in * costs[SWAP_IN]
    return max(1, int(np.rint(duration)))


@njit
def _fault_in(lv: LruvecArrays, pt: PtArrays, shadow: ShadowArrays, pages: IntArray,
              wrote: IntArray, q: int) -> tuple[int, int]:
    """``handle_faults``: refaults (``lru_gen_refault``), the PTEs, the folios on the LRU.
    Returns (swap-ins, recent refaults)."""
    swapped = np.empty(len(pages), dtype=np.bool_)
    n_swapped = recent = 0
    for i in range(len(pages)):
        p = pages[i]
        swapped[i] = pt.swapped[p]
        if not swapped[i]:
            continue
        n_swapped += 1
        token = shadow.token_seq[p]
        is_recent = token >= 0 and abs(lv.s[MAX_SEQ] - token) < MAX_NR_GENS
        if is_recent:
            recent += 1
            lv.refaulted[tier_of(lv, int(shadow.token_refs[p]), bool(shadow.token_ws[p]))] += 1
        lv.refs[p] = 0
        lv.ws[p] = bool(shadow.token_ws[p]) if is_recent else False
        shadow.token_seq[p] = -1
    for p in pages:  # map_pages: present, young PTEs, dirty if any touch wrote
        pt.present[p] = True
        pt.young[p] = True
        pt.dirty[p] = pt.dirty[p] or wrote[p] == q
        pt.swapped[p] = False
        pt.table_allocated[p // PTRS_PER_PTE] = True
    for i in range(len(pages)):
        if not swapped[i]:
            lv.refs[pages[i]] = 0
            lv.ws[pages[i]] = False
    add_folios(lv, pages)
    return n_swapped, recent


@njit
def should_run_aging(lv: LruvecArrays) -> tuple[bool, int]:
    if lv.s[MIN_SEQ] + MIN_NR_GENS > lv.s[MAX_SEQ]:
        return True, 0
    size = 0
    for seq in range(lv.s[MIN_SEQ], lv.s[MAX_SEQ] + 1):
        size += max(lv.nr_pages[seq % MAX_NR_GENS], 0)
    return lv.s[MIN_SEQ] + MIN_NR_GENS == lv.s[MAX_SEQ], size


@njit
def charge(lv: LruvecArrays, m: IntArray, f: FloatArray, c: IntArray, t: int) -> None:
    """``HostCore.charge`` after a quantum: nothing under the limit, else the reclaim."""
    if resident(lv) <= m[LIMIT]:
        f[TASK_RECLAIM_NS] += 0.0 + 0.0  # the reference adds (reclaim, stall) = (0.0, 0.0)
        m[STATE] = QUANTUM
        return
    m[CHARGE_START], m[CALLS], m[RETRIES] = t, 0, MAX_RECLAIM_RETRIES
    f[BACKOFF] = 0.0
    m[STATE] = RETRY


@njit
def retry(lv: LruvecArrays, m: IntArray, f: FloatArray, c: IntArray, t: int) -> None:
    """``charge_retry``'s loop head: done once the memcg fits, else one more
    ``try_to_free_mem_cgroup_pages``."""
    excess = resident(lv) - m[LIMIT]
    if excess <= 0:
        reclaim_ns = float(t - m[CHARGE_START]) - f[BACKOFF]
        f[TASK_RECLAIM_NS] += reclaim_ns + f[BACKOFF]
        c[DIRECT_RECLAIMS] += m[CALLS]
        m[STATE] = QUANTUM
        return
    m[CALLS] += 1
    m[GOAL], m[GOT], m[PRIORITY] = max(excess, SWAP_CLUSTER_MAX), 0, DEF_PRIORITY
    m[STATE] = SHRINK


@njit
def shrink_done(m: IntArray) -> int:
    """The end of one ``try_to_shrink_lruvec``: the priority loop goes on or the charge
    attempt ends (then: back-off after too many fruitless ones). Returns a back-off step's
    duration, or 0."""
    m[GOT] += m[GOT_SH]
    if m[GOT] < m[GOAL] and m[PRIORITY] > 0:
        m[PRIORITY] -= 1
        m[STATE] = SHRINK
        return 0
    m[STATE] = RETRY
    if m[GOT]:
        m[RETRIES] = MAX_RECLAIM_RETRIES
        return 0
    m[RETRIES] -= 1
    if m[RETRIES] < 0:
        m[STATE] = BACKED_OFF
        return BACKOFF_NS
    return 0


__all__ = [
    "NR_C",
    "NR_F",
    "NR_M",
    "NR_R",
    "charge",
    "quantum",
    "retry",
    "should_run_aging",
    "shrink_done",
]

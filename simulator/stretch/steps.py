"""The compiled host task's step loop: which state does what, and when to hand back to SimPy.

:func:`run` executes the state machine of ``simulator.stretch.machine`` from time ``now``:
a quantum per prefetched batch, the charge and its reclaim, ``evict_folios`` calls
(``simulator.stretch.evict``) and aging iterations (``MglruPolicy.age``: the mm-list cursor of
≥6.4, one walk step per ``TABLES_PER_STEP`` tables, ``inc_max_seq`` and the pass record). It
returns at the first step that ends at or after ``horizon`` (the caller sleeps to that end),
when it needs touches it has not got (at a quantum boundary), or when the pass-record buffer
is full (no step pending: the caller drains it and calls again).
"""

from __future__ import annotations

import numpy as np

from simulator.jit import njit
from simulator.mm.constants import DEF_PRIORITY, PTRS_PER_PTE
from simulator.mm.reclaim import BACKOFF_NS, MAX_RECLAIM_RETRIES
from simulator.stretch.arrays import bloom_reset
from simulator.stretch.evict import (
    ACTIVATED,
    ISOLATED,
    KEPT,
    LOOK_AROUNDS,
    RECLAIMED,
    RMAP_WALKS,
    SCANNED,
    SORTED,
    evict_folios,
)
from simulator.stretch.lruvec import MAX_SEQ, inc_max_seq
from simulator.stretch.machine import (
    ACTIVATIONS,
    AGE_CHUNK,
    AGE_CPU,
    AGE_HI,
    AGE_ITER,
    AGE_LO,
    AGE_MMS,
    AGE_SEQ,
    AGE_START,
    AGE_STEP_DONE,
    AGING_CPU_NS,
    AGING_PASS_NS,
    AGING_PASSES,
    AGING_WORK,
    BACKED_OFF,
    BACKOFF,
    CHARGE,
    DELTA,
    EV_GOT,
    EVICTED,
    EVICTION_CPU_NS,
    EVICTION_WORK,
    EVICTIONS,
    GOT_SH,
    HORIZON,
    KEPT_C,
    LOOK_AROUNDS_C,
    MM_HEAD,
    MM_LEAF_TOTAL,
    MM_SEQ,
    NEED_BATCH,
    NR,
    NR_PASSES,
    NR_TO_SCAN,
    PENDING,
    PGREFILL,
    PGSCAN,
    PRIORITY,
    QID,
    QUANTUM,
    R_END,
    R_FIRST,
    R_LEAF_TOTAL,
    R_MMS,
    R_SEQ,
    R_START,
    R_SUCCESS,
    RECORDS_FULL,
    RETRIES,
    RETRY,
    RMAP_WALKS_C,
    SCANNED_SH,
    SHOULD_WALK,
    SHRINK,
    STATE,
    TABLES_PER_STEP,
    USE_BLOOM,
    World,
    charge,
    quantum,
    retry,
    should_run_aging,
    shrink_done,
)
from simulator.stretch.walk import walk_tables


@njit
def _evict(w: World, nr: int) -> int:
    """One timed ``evict_folios`` (``MglruPolicy._evict``); returns the step's duration."""
    cpu = evict_folios(w.lv, w.pt, w.truth, w.bloom, w.shadow, w.snap, w.mm, nr, w.flags,
                       w.costs, w.res)
    c, res = w.c, w.res
    w.f[EVICTION_WORK] += cpu
    c[PGSCAN] += res[ISOLATED]
    c[PGREFILL] += res[SORTED]
    c[EVICTIONS] += res[RECLAIMED]
    c[ACTIVATIONS] += res[ACTIVATED]
    c[KEPT_C] += res[KEPT]
    c[LOOK_AROUNDS_C] += res[LOOK_AROUNDS]
    c[RMAP_WALKS_C] += res[RMAP_WALKS]
    w.m[NR], w.m[DELTA], w.m[EV_GOT] = nr, res[SCANNED], res[RECLAIMED]
    w.f[PENDING] = cpu
    w.m[STATE] = EVICTED
    return max(1, int(np.rint(cpu)))


@njit
def _after_nr(w: World, nr: int) -> int:
    """``try_to_shrink_lruvec`` after ``get_nr_to_scan``: evict, or end this shrink."""
    if nr <= 0:
        return shrink_done(w.m)
    return _evict(w, nr)


@njit
def _evicted(w: World) -> int:
    """After an eviction step: its time is counted; the shrink goes on or ends."""
    m = w.m
    w.f[EVICTION_CPU_NS] += w.f[PENDING]
    m[GOT_SH] += m[EV_GOT]
    if not m[DELTA]:
        return shrink_done(m)
    m[SCANNED_SH] += m[DELTA]
    if m[SCANNED_SH] >= m[NR]:
        return shrink_done(m)
    m[STATE] = NR_TO_SCAN
    return 0


@njit
def _nr_to_scan(w: World, t: int) -> int:
    """``get_nr_to_scan``: scan ``evictable >> priority``, or age first."""
    age, size = should_run_aging(w.lv)
    if not age or w.m[PRIORITY] == DEF_PRIORITY:
        return _after_nr(w, size >> w.m[PRIORITY])
    return _age_start(w, t)


@njit
def _age_start(w: World, t: int) -> int:
    """``MglruPolicy.age`` → ``try_to_inc_max_seq`` of one walker."""
    m = w.m
    m[AGE_SEQ], m[AGE_START], m[AGE_MMS] = w.lv.s[MAX_SEQ], t, 0
    w.f[AGE_CPU] = 0.0
    w.recs[m[NR_PASSES], :] = 0
    if m[AGE_SEQ] <= m[MM_SEQ]:
        return _age_end(w, t, False)
    if not w.flags[SHOULD_WALK]:
        m[MM_SEQ] += 1  # iterate_mm_list_nowalk
        m[MM_HEAD] = -1
        return _age_end(w, t, True)
    m[STATE] = AGE_ITER
    return 0


@njit
def _age_iter(w: World, t: int) -> int:
    """``iterate_mm_list`` (≥6.4) over the one mm: hand it out, or end the iteration."""
    m = w.m
    seq = m[AGE_SEQ]
    if seq <= m[MM_SEQ]:
        return _age_end(w, t, False)
    first = m[MM_HEAD] == -1
    m[MM_HEAD] += 1
    if m[MM_HEAD] == 1:  # the list's one mm was handed out already
        m[MM_HEAD] = -1
        m[MM_SEQ] += 1
        return _age_end(w, t, True)
    if first:
        bloom_reset(w.bloom, seq + 1)
    m[AGE_MMS] += 1
    m[AGE_LO] = w.mm.start // PTRS_PER_PTE
    m[AGE_HI] = -(-w.mm.end // PTRS_PER_PTE)
    m[STATE] = AGE_CHUNK
    return 0


@njit
def _age_chunk(w: World) -> int:
    """One step of ``walk_mm``: up to ``TABLES_PER_STEP`` tables."""
    m = w.m
    if m[AGE_LO] >= m[AGE_HI] or w.lv.s[MAX_SEQ] != m[AGE_SEQ]:
        m[STATE] = AGE_ITER
        return 0
    hi = min(m[AGE_LO] + TABLES_PER_STEP, m[AGE_HI])
    rec = w.recs[m[NR_PASSES]]
    stats = np.zeros(4, dtype=np.int64)
    cpu = walk_tables(w.lv, w.pt, w.truth, w.bloom, w.mm, m[AGE_LO], hi, m[AGE_SEQ], False,
                      w.flags[USE_BLOOM], w.costs, stats, rec[R_FIRST:])
    rec[R_LEAF_TOTAL:R_LEAF_TOTAL + 4] += stats
    w.c[MM_LEAF_TOTAL:MM_LEAF_TOTAL + 4] += stats
    m[AGE_LO] = hi
    w.f[AGE_CPU] += cpu
    w.f[PENDING] = cpu
    m[STATE] = AGE_STEP_DONE
    return max(1, int(np.rint(cpu)))


@njit
def _age_end(w: World, t: int, last: bool) -> int:
    """``_inc_max_seq`` and the pass record; then ``get_nr_to_scan``'s answer."""
    m, rec = w.m, w.recs[w.m[NR_PASSES]]
    success = last and m[AGE_SEQ] == w.lv.s[MAX_SEQ]
    if success:
        inc_max_seq(w.lv, t)
    if not (success or m[AGE_MMS]):
        return _after_nr(w, 0)
    w.f[AGING_WORK] += w.f[AGE_CPU]
    if success:
        w.c[AGING_PASSES] += 1
        w.c[AGING_PASS_NS] += t - m[AGE_START]
    rec[R_START], rec[R_END], rec[R_SEQ] = m[AGE_START], t, m[AGE_SEQ]
    rec[R_SUCCESS], rec[R_MMS] = success, m[AGE_MMS]
    m[NR_PASSES] += 1
    return _after_nr(w, -1 if success else 0)


@njit
def _step(w: World, t: int, pages: np.ndarray, writes: np.ndarray, lo: int,
          hi: int) -> int:
    """Run the current state once; returns the duration of the step it began (0: none)."""
    m = w.m
    st = m[STATE]
    if st == QUANTUM:
        m[QID] += 1
        d = quantum(w.lv, w.pt, w.truth, w.shadow, pages, writes, lo, hi, m[QID], w.seen,
                    w.wrote, w.c, w.costs)
        m[STATE] = CHARGE
        return d
    if st == CHARGE:
        charge(w.lv, m, w.f, w.c, t)
    elif st == RETRY:
        retry(w.lv, m, w.f, w.c, t)
    elif st == SHRINK:
        m[SCANNED_SH], m[GOT_SH], m[STATE] = 0, 0, NR_TO_SCAN
    elif st == NR_TO_SCAN:
        return _nr_to_scan(w, t)
    elif st == EVICTED:
        return _evicted(w)
    elif st == AGE_ITER:
        return _age_iter(w, t)
    elif st == AGE_CHUNK:
        return _age_chunk(w)
    elif st == AGE_STEP_DONE:
        w.f[AGING_CPU_NS] += w.f[PENDING]
        m[STATE] = AGE_CHUNK
    elif st == BACKED_OFF:
        w.f[BACKOFF] += BACKOFF_NS
        m[RETRIES], m[STATE] = MAX_RECLAIM_RETRIES, RETRY
    return 0


@njit
def run(w: World, pages: np.ndarray, writes: np.ndarray, offsets: np.ndarray, now: int,
        horizon: int) -> tuple[int, int, int]:
    """Steps from ``now`` until one ends at or after ``horizon``; returns (batches used,
    time, why it stopped: ``HORIZON``, ``NEED_BATCH`` or ``RECORDS_FULL``)."""
    t, b = now, 0
    nb = len(offsets) - 1
    while True:
        st = w.m[STATE]
        if st == QUANTUM and b >= nb:
            return b, t, NEED_BATCH
        if st == NR_TO_SCAN and w.m[NR_PASSES] >= len(w.recs):
            return b, t, RECORDS_FULL
        lo, hi = (offsets[b], offsets[b + 1]) if st == QUANTUM else (0, 0)
        d = _step(w, t, pages, writes, lo, hi)
        if st == QUANTUM:
            b += 1
        if d > 0:
            t += d
            if t >= horizon:
                return b, t, HORIZON


__all__ = ["run"]

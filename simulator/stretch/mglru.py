"""The host task's stretch kernel under MGLRU: the Python side of ``simulator.stretch.steps``.

Each call hands the compiled state machine the model's state (the arrays as they are, the
scalars copied in: the lruvec's sequence numbers and list ends, the mm-list cursor, the
eviction snapshot's cursor and key, the truth's clock, the run's counters), runs it, and copies
everything back, pass records included (``passes.csv`` rows, and the generation event a
successful ``inc_max_seq`` fires). Between calls the reference code may run (the sampler reads,
the last quantum of ``mrc``'s one-pass replay writes) and finds the state the kernel left.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from simulator.stretch import arrays as A
from simulator.stretch import machine as M
from simulator.stretch.evict import (
    CAP_BY_NR_TO_SCAN,
    CURSOR,
    KEY_MIN_SEQ,
    KEY_VERSION,
    LENGTH,
    LOOK_AROUND_ON,
    NR_RESULTS,
    PUTBACK_ACTIVE,
    Mm,
    Snapshot,
)
from simulator.stretch.lruvec import lruvec_arrays, write_back
from simulator.stretch.steps import run
from simulator.truth import Confusion

if TYPE_CHECKING:
    from simulator.host import HostCore
    from simulator.policies.mglru import MglruPolicy

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

RECORDS = 64
"""Pass records one call may write before it hands back to be drained."""
_INT_COUNTERS = ("host_task_accesses", "faults_first_touch", "refaults", "refaults_recent",
                 "evictions", "pgscan", "pgrefill", "activations", "kept", "look_arounds",
                 "rmap_walks", "direct_reclaims", "aging_passes", "aging_pass_ns")
_MM_STATS = ("leaf_total", "leaf_young", "nonleaf_found", "nonleaf_added")


def applies(host: HostCore) -> bool:
    """Whether this run's host task can run as an MGLRU stretch (see ``machine``)."""
    from simulator.policies.mglru import MglruPolicy

    sc, policy = host.sc, host.policy
    return (isinstance(policy, MglruPolicy) and len(host.pt.regions) == 1
            and host.node is None and not sc.host.proactive_reclaim
            and sc.mglru.aging == "reclaim" and not policy.aging.waits)


class MglruTaskKernel:
    """The stretch kernel of the host task under ``mglru`` (``simulator.stretch.TaskKernel``)."""

    def __init__(self, host: HostCore, policy: MglruPolicy) -> None:
        sc = host.sc
        self.host, self.policy = host, policy
        self.costs = A.cost_array(sc.costs, sc.host.swap, sc.task.workload.think_ns)
        self.min_quantum_ns = max(1.0, sc.task.quantum_accesses * float(self.costs[A.PER_ACCESS]))
        ev, ag = policy.eviction, policy.aging
        flags = np.zeros(5, dtype=np.bool_)
        flags[LOOK_AROUND_ON], flags[PUTBACK_ACTIVE] = ev.look_around, ev.putback_active
        flags[CAP_BY_NR_TO_SCAN], flags[M.USE_BLOOM] = ev.cap_by_nr_to_scan, ag.use_bloom
        flags[M.SHOULD_WALK] = ag.should_walk_mmu(False)
        self.flags = flags
        region = host.pt.regions[0]
        self.mm = Mm(region.mm_id, region.start, region.end)
        n = host.pt.nr_pages
        self.seen = np.zeros(n, dtype=np.int64)
        self.wrote = np.zeros(n, dtype=np.int64)
        self.order = np.zeros(n, dtype=np.int64)
        self.m = np.zeros(M.NR_M, dtype=np.int64)
        self.m[M.STATE], self.m[M.LIMIT] = M.QUANTUM, host.limit_pages
        self.f = np.zeros(M.NR_F, dtype=np.float64)
        self.res = np.zeros(NR_RESULTS, dtype=np.int64)
        self.recs = np.zeros((RECORDS, M.NR_R), dtype=np.int64)

    # --- state in ----------------------------------------------------------------------------
    def _world(self) -> Any:
        host, policy = self.host, self.policy
        c, truth, ev, ag = host.counters, host.truth, policy.eviction, policy.aging
        m, f = self.m, self.f
        m[M.MM_SEQ], m[M.MM_HEAD], m[M.NR_PASSES] = ag.mm_state.seq, ag.mm_state.head, 0
        f[M.AGING_CPU_NS], f[M.EVICTION_CPU_NS] = c.aging_cpu_ns, c.eviction_cpu_ns
        f[M.TASK_RECLAIM_NS] = c.task_direct_reclaim_ns
        f[M.AGING_WORK], f[M.EVICTION_WORK] = c.aging_work.cpu_ns, c.eviction_work.cpu_ns
        counters = np.zeros(M.NR_C, dtype=np.int64)
        counters[:len(_INT_COUNTERS)] = [getattr(c, k) for k in _INT_COUNTERS]
        counters[M.MM_LEAF_TOTAL:] = [getattr(ag.mm_stats, k) for k in _MM_STATS]
        snap = Snapshot(self.order, np.array([len(ev._order), ev._cursor, *ev._key],
                                             dtype=np.int64))
        self.order[:len(ev._order)] = ev._order
        pt, ws = host.pt, policy.workingset
        return M.World(
            lruvec_arrays(policy.lruvec), A.pt_arrays(pt),
            A.TruthArrays(truth.last_access, truth.last_harvest,
                          np.zeros((3, 4), dtype=np.int64), np.zeros(3, dtype=np.bool_),
                          np.array([truth.tick], dtype=np.int64)),
            A.BloomArrays(ag.bloom.bits, ag.bloom.allocated),
            A.ShadowArrays(ws.token_seq, ws.token_refs, ws.token_ws),
            snap, self.mm, m, f, counters, self.costs, self.flags, self.recs, self.seen,
            self.wrote, self.res)

    def run(self, pages: IntArray, writes: BoolArray, offsets: IntArray, now: int,
            horizon: int) -> tuple[int, int, bool]:
        w = self._world()
        done, t, why = run(w, pages, writes, offsets, now, horizon)
        self._write_back(w)
        return int(done), int(t), why == M.HORIZON

    def sync(self) -> None:
        """Everything is written back after each call."""

    # --- state out ---------------------------------------------------------------------------
    def _write_back(self, w: Any) -> None:
        host, policy = self.host, self.policy
        c, truth, ev, ag = host.counters, host.truth, policy.eviction, policy.aging
        write_back(policy.lruvec, w.lv)
        ag.mm_state.seq, ag.mm_state.head = int(self.m[M.MM_SEQ]), int(self.m[M.MM_HEAD])
        s = w.snap.s
        ev._order = self.order[:s[LENGTH]]  # a view: the reference reads it, never writes
        ev._cursor, ev._key = int(s[CURSOR]), (int(s[KEY_MIN_SEQ]), int(s[KEY_VERSION]))
        for k, v in zip(_INT_COUNTERS, w.c[:len(_INT_COUNTERS)].tolist(), strict=True):
            setattr(c, k, v)
        for k, v in zip(_MM_STATS, w.c[M.MM_LEAF_TOTAL:].tolist(), strict=True):
            setattr(ag.mm_stats, k, v)
        f = self.f
        c.aging_cpu_ns, c.eviction_cpu_ns = float(f[M.AGING_CPU_NS]), float(f[M.EVICTION_CPU_NS])
        c.task_direct_reclaim_ns = float(f[M.TASK_RECLAIM_NS])
        c.aging_work.cpu_ns = float(f[M.AGING_WORK])
        c.eviction_work.cpu_ns = float(f[M.EVICTION_WORK])
        truth.tick = int(w.truth.tick[0])
        for i, source in enumerate(A.SOURCES):
            if w.truth.used[i]:
                tp, fp, fn, tn = (int(x) for x in w.truth.conf[i])
                delta = Confusion(tp, fp, fn, tn, tp, fp, fn, tn)
                truth.total.add(delta)
                truth.by_source.setdefault(source, Confusion()).add(delta)
        self._passes(int(self.m[M.NR_PASSES]))

    def _passes(self, n: int) -> None:
        """``MglruPolicy._record_pass``'s rows, and the generation event of each success."""
        policy, env = self.policy, self.host.env
        for r in self.recs[:n].tolist():
            success = bool(r[M.R_SUCCESS])
            policy.passes.append({
                "pass": len(policy.passes), "trigger": "reclaim", "start_ns": r[M.R_START],
                "end_ns": r[M.R_END], "duration_ns": r[M.R_END] - r[M.R_START],
                "seq": r[M.R_SEQ], "force_scan": False, "success": success,
                "ptes_scanned": r[M.R_LEAF_TOTAL], "ptes_young": r[M.R_LEAF_YOUNG],
                "tables_found": r[M.R_NONLEAF_FOUND], "tables_added": r[M.R_NONLEAF_ADDED],
                "first_sightings": r[M.R_FIRST], "promoted": r[M.R_PROMOTED],
                "notifier_calls": 0, "write_locks": 0, "lock_wait_ns": 0.0,
                "young_tp": r[M.R_TP], "young_fp": r[M.R_FP], "young_fn": r[M.R_FN],
                "young_tn": r[M.R_TN], "mms_walked": r[M.R_MMS],
            })
            if success:
                done, policy.generation = policy.generation, env.event()
                done.succeed()


__all__ = ["MglruTaskKernel", "applies"]

"""Counters, per-pass records, time series and the output schemas of a run.

Components add to plain counters; the sampler snapshots them; at the end :func:`summary_row`
builds the one-row summary whose columns are a contract (DESIGN §5). A column that does not apply
to a run (no VM, a flag no backend returns in this design) is ``None`` (NaN in CSV), never a
made-up zero.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from simulator.accounting import Work
from simulator.truth import Confusion

SUMMARY_COLUMNS: tuple[str, ...] = (
    "run_id", "scenario", "seed", "backend", "notifier", "aging_lock", "workload", "vcpus",
    "guest_pages", "host_pages", "sim_time_ns", "wall_time_s", "accesses",
    "accesses_per_wall_s", "aging_passes", "aging_pass_mean_ns", "aging_cpu_ns",
    "eviction_cpu_ns", "notifier_calls", "notifier_calls_bitmap", "notifier_fast",
    "notifier_unreliable", "mmu_lock_write_hold_ns", "vcpu_lock_wait_ns", "vcpu_wall_ns",
    "tlb_flushes", "faults_first_touch", "faults_access_track", "refaults", "evictions",
    "pgscan", "pgsteal", "young_tp", "young_fp", "young_fn", "young_tn", "young_precision",
    "young_recall", "young_f1", "miss_ratio",
)
"""The contract columns, in order. More columns follow them; none may be removed."""

PASS_COLUMNS: tuple[str, ...] = (
    "pass", "trigger", "start_ns", "end_ns", "duration_ns", "seq", "force_scan", "success",
    "ptes_scanned", "ptes_young", "tables_found", "tables_added", "first_sightings",
    "promoted", "notifier_calls", "write_locks", "lock_wait_ns", "young_tp", "young_fp",
    "young_fn", "young_tn", "mms_walked",
)
"""One row per walker call of ``try_to_inc_max_seq``: ``success`` if it produced the new
generation (it ended the iteration), ``mms_walked`` the mms it walked (0 for a caller that only
ended an iteration, or when aging does not walk page tables)."""

TIMESERIES_COLUMNS: tuple[str, ...] = (
    "t_ns", "resident_pages", "swapped_pages", "max_seq", "min_seq", "nr_gens",
    "gen0_pages", "gen1_pages", "gen2_pages", "gen3_pages", "inactive_pages", "active_pages",
    "accesses", "faults_first_touch",
    "refaults", "evictions", "aging_passes", "vcpu_running_ns", "vcpu_fault_ns",
    "vcpu_lock_wait_ns", "vcpu_stall_ns", "vcpu_direct_reclaim_ns", "young_tp", "young_fp",
    "young_fn", "young_tn",
)
"""``genK_pages`` is the size of generation ``max_seq - K`` (K = 0 is the youngest), for the
``mglru`` policy; ``inactive_pages``/``active_pages`` are the classic lists (``classic``). A
column of another policy is empty."""


class LatencyHistogram:
    """A log-binned histogram of latencies in ns (16 bins per doubling: ≤ 4.4 % resolution).

    Percentiles are read at the geometric middle of the bin where the cumulative count
    crosses the rank, so they carry that resolution; memory is fixed (no per-event list).
    """

    BINS_PER_OCTAVE = 16
    OCTAVES = 44  # 1 ns .. ~4.9 hours

    def __init__(self) -> None:
        self.counts = np.zeros(self.BINS_PER_OCTAVE * self.OCTAVES, dtype=np.int64)
        self.total = 0
        self.maximum = 0.0

    def add(self, values_ns: np.ndarray) -> None:
        if len(values_ns) == 0:
            return
        v = np.maximum(np.asarray(values_ns, dtype=np.float64), 1.0)
        idx = np.minimum((np.log2(v) * self.BINS_PER_OCTAVE).astype(np.int64),
                         len(self.counts) - 1)
        self.counts += np.bincount(idx, minlength=len(self.counts))
        self.total += len(v)
        self.maximum = max(self.maximum, float(v.max()))

    def percentile(self, q: float) -> float | None:
        """The q-th percentile (0-100) in ns, or None without samples."""
        if self.total == 0:
            return None
        rank = q / 100.0 * self.total
        i = int(np.searchsorted(np.cumsum(self.counts), max(rank, 1), side="left"))
        return float(2.0 ** ((i + 0.5) / self.BINS_PER_OCTAVE))


@dataclass(slots=True)
class Counters:
    """Cumulative event counts of one run."""

    accesses: int = 0
    host_task_accesses: int = 0
    host_side_accesses: int = 0
    """The host's touches of guest memory (``vm.host_accesses``: vhost, the VMM)."""
    tlb_misses: int = 0
    faults_first_touch: int = 0
    faults_thp: int = 0
    """First-touch faults that mapped a 2 MiB THP (counted in ``faults_first_touch`` too)."""
    faults_spte: int = 0
    """vCPU faults KVM served without a host fault (the host already mapped the page)."""
    evictions_thp: int = 0
    """THPs swapped out whole (each also counts its 512 pages in ``evictions``)."""
    thp_pmd_batches: int = 0
    """PMD-lock batches of THP PMDs in the aging walk (``walk_pmd_range_locked``)."""
    faults_access_track: int = 0
    refaults: int = 0
    refaults_recent: int = 0
    evictions: int = 0
    pgscan: int = 0
    pgrefill: int = 0
    pgdeactivate: int = 0
    """Folios moved from the active to the inactive list (classic policy)."""
    activations: int = 0
    kept: int = 0
    look_arounds: int = 0
    rmap_walks: int = 0
    aging_passes: int = 0
    aging_pass_ns: int = 0
    aging_cpu_ns: float = 0.0
    eviction_cpu_ns: float = 0.0
    vcpu_running_ns: float = 0.0
    vcpu_fault_ns: float = 0.0
    vcpu_lock_wait_ns: float = 0.0
    vcpu_stall_ns: float = 0.0
    """vCPU time a charge backed off because reclaim made no progress (no OOM modelled)."""
    vcpu_direct_reclaim_ns: float = 0.0
    """vCPU time in direct reclaim (``try_charge_memcg`` at the memcg limit)."""
    direct_reclaims: int = 0
    """``try_to_free_mem_cgroup_pages`` calls by vCPUs and the host task."""
    task_direct_reclaim_ns: float = 0.0
    kswapd_cpu_ns: float = 0.0
    proactive_reclaimed: int = 0
    vcpu_lock_wait_by: dict[str, float] = field(default_factory=dict)
    """vCPU lock wait split by what held the lock: aging, eviction, fault, readers."""
    fault_write_hold_ns: float = 0.0
    fault_latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    """vCPU fault latencies: service time, mmu_lock wait share, and any reclaim stall."""
    aging_work: Work = field(default_factory=Work)
    eviction_work: Work = field(default_factory=Work)

    @property
    def vcpu_wall_ns(self) -> float:
        return (self.vcpu_running_ns + self.vcpu_fault_ns + self.vcpu_lock_wait_ns
                + self.vcpu_stall_ns + self.vcpu_direct_reclaim_ns)


def ratios(c: Confusion) -> tuple[float | None, float | None, float | None]:
    """(precision, recall, F1); None where undefined (no positive decision or no young page)."""
    precision = c.tp / (c.tp + c.fp) if c.tp + c.fp else None
    recall = c.tp / (c.tp + c.fn) if c.tp + c.fn else None
    if precision is None or recall is None or precision + recall == 0:
        f1 = None
    else:
        f1 = 2 * precision * recall / (precision + recall)
    return precision, recall, f1


def confusion_columns(prefix: str, c: Confusion) -> dict[str, Any]:
    """The counts (folios), precision, recall and F1 of one tally, then the counts in pages."""
    p, r, f1 = ratios(c)
    return {f"{prefix}_tp": c.tp, f"{prefix}_fp": c.fp, f"{prefix}_fn": c.fn,
            f"{prefix}_tn": c.tn, f"{prefix}_precision": p, f"{prefix}_recall": r,
            f"{prefix}_f1": f1, f"{prefix}_tp_pages": c.tp_pages,
            f"{prefix}_fp_pages": c.fp_pages, f"{prefix}_fn_pages": c.fn_pages,
            f"{prefix}_tn_pages": c.tn_pages}


def work_columns(prefix: str, w: Work) -> dict[str, Any]:
    return {f"{prefix}_{k}": v for k, v in asdict(w).items()}

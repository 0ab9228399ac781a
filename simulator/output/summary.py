"""The one-row summary of a run (``summary.json``/``summary.csv``), built from its RunData.

The contract columns of DESIGN §5 come first (``run_id`` … ``miss_ratio``, in
:data:`simulator.metrics.SUMMARY_COLUMNS` order), then more: accuracy by where a young/old
decision was made, work and vCPU time splits, fault latency, per-VM figures. A column that does
not apply to a run is ``None`` (an empty cell), never a made-up zero. The column order is the
order of the CSV header, so the builders below append in a fixed order.
"""

from __future__ import annotations

from typing import Any

from simulator.config import Scenario
from simulator.kernels import AUTO, PROFILES, switch_names
from simulator.metrics import SUMMARY_COLUMNS, confusion_columns, ratios, work_columns
from simulator.rundata import RunData

Row = dict[str, Any]


def summary_row(data: RunData, wall_time_s: float) -> Row:
    """The one-row summary: the contract columns of DESIGN §5 first, then extra ones."""
    row = _contract_columns(data, wall_time_s)
    assert tuple(row) == SUMMARY_COLUMNS
    for source, conf in sorted(data.truth.by_source.items()):
        row.update(confusion_columns(f"young_{source}", conf))
    row.update(_more_columns(data))
    row.update(_truth_columns(data))
    row.update(_reclaim_columns(data))
    row.update(kernel_columns(data.scenario))
    row.update(_fault_latency_columns(data))
    row.update(_per_vm_columns(data))
    c = data.counters
    vm = bool(data.scenario.all_vms())
    for kind in ("aging", "eviction", "fault", "readers"):
        row[f"vcpu_lock_wait_{kind}_ns"] = c.vcpu_lock_wait_by.get(kind, 0.0) if vm else None
    row.update(work_columns("aging", c.aging_work))
    row.update(work_columns("eviction", c.eviction_work))
    return row


def _work_sum(data: RunData, name: str) -> int:
    """A work counter of aging and eviction together."""
    c = data.counters
    return int(getattr(c.aging_work, name) + getattr(c.eviction_work, name))


def _contract_columns(data: RunData, wall_time_s: float) -> Row:
    """DESIGN §5's columns, in their order."""
    sc, c = data.scenario, data.counters
    vms = sc.all_vms()
    vm = bool(vms)
    accesses = c.accesses + c.host_task_accesses
    precision, recall, f1 = ratios(data.truth.total)
    # Only v3 (bitmap) makes bitmap calls and returns UNRELIABLE; v3 and v5-v7 (fast_only)
    # report "fast" young; upstream designs return plain 0/1.
    bitmap = vm and sc.mglru.notifier == "bitmap"
    fast_flags = vm and sc.mglru.notifier in ("bitmap", "fast_only")
    return {
        "run_id": data.run_id,
        "scenario": sc.name,
        "seed": sc.sim.seed,
        "backend": data.backend,
        "notifier": sc.mglru.notifier if vm else None,
        "aging_lock": data.aging_lock,
        "workload": vms[0][2].kind if vm else sc.task.workload.kind,
        "vcpus": sum(v.vcpus for _, v, _ in vms) if vm else None,
        "guest_pages": sc.guest_pages,
        "host_pages": sc.host_pages,
        "sim_time_ns": data.sim_time_ns,
        "wall_time_s": wall_time_s,
        "accesses": accesses,
        "accesses_per_wall_s": accesses / wall_time_s if wall_time_s > 0 else None,
        "aging_passes": c.aging_passes,
        "aging_pass_mean_ns": c.aging_pass_ns / c.aging_passes if c.aging_passes else None,
        "aging_cpu_ns": c.aging_cpu_ns,
        "eviction_cpu_ns": c.eviction_cpu_ns,
        "notifier_calls": c.aging_work.notifier_calls + c.eviction_work.notifier_calls
        if vm else None,
        "notifier_calls_bitmap": _work_sum(data, "notifier_calls_bitmap") if bitmap else None,
        "notifier_fast": _work_sum(data, "notifier_fast") if fast_flags else None,
        "notifier_unreliable": _work_sum(data, "notifier_unreliable") if bitmap else None,
        "mmu_lock_write_hold_ns": data.mmu_lock_write_hold_ns,
        "vcpu_lock_wait_ns": c.vcpu_lock_wait_ns if vm else None,
        "vcpu_wall_ns": c.vcpu_wall_ns if vm else None,
        "tlb_flushes": _work_sum(data, "tlb_flushes") + _work_sum(data, "unmap_flushes")
        if vm else None,
        "faults_first_touch": c.faults_first_touch,
        # only backends without hardware A bits take access-tracking / access-flag faults
        "faults_access_track": c.faults_access_track if data.young_via_fault else None,
        "refaults": c.refaults,
        "evictions": c.evictions,
        "pgscan": c.pgscan,
        "pgsteal": c.evictions,
        "young_tp": data.truth.total.tp,
        "young_fp": data.truth.total.fp,
        "young_fn": data.truth.total.fn,
        "young_tn": data.truth.total.tn,
        "young_precision": precision,
        "young_recall": recall,
        "young_f1": f1,
        "miss_ratio": (c.faults_first_touch + c.refaults) / accesses if accesses else None,
    }


def _more_columns(data: RunData) -> Row:
    """Reclaim and vCPU counters, and the settings a reader needs beside them."""
    sc, c = data.scenario, data.counters
    vms = sc.all_vms()
    vm = bool(vms)
    design = sc.mglru.notifier
    return {
        "refaults_recent": c.refaults_recent, "pgrefill": c.pgrefill,
        "activations": c.activations, "kept": c.kept, "look_arounds": c.look_arounds,
        "rmap_walks": c.rmap_walks,
        "tlb_misses": c.tlb_misses if vm else None,
        "vcpu_running_ns": c.vcpu_running_ns if vm else None,
        "vcpu_fault_ns": c.vcpu_fault_ns if vm else None,
        "vcpu_stall_ns": c.vcpu_stall_ns if vm else None,
        "aging_pass_total_ns": c.aging_pass_ns,
        "notifier_fast_failed": _work_sum(data, "notifier_fast_failed")
        if design == "fast_only" and vm else None,
        "unreliable_fallback": sc.mglru.unreliable_fallback
        if vm and design == "bitmap" else None,
        "tlb_flush_on_age": vms[0][1].tlb_flush_on_age if vm else None,
        "lock_model": vms[0][1].lock_model if vm else None,
        "vms": len(vms),
        "host_task_accesses": c.host_task_accesses if sc.task_pages else None,
    }


def _truth_columns(data: RunData) -> Row:
    """The total tally in pages, THP and false-young settings and counts, the guest's view."""
    sc, c, t = data.scenario, data.counters, data.truth
    vms = [vm for _, vm, _ in sc.all_vms()]
    thp = any(vm.thp == "always" for vm in vms) or (bool(sc.task_pages)
                                                    and sc.task.thp == "always")
    host_side = any(vm.host_accesses > 0 for vm in vms)
    row: Row = {f"young_{k}_pages": getattr(t.total, f"{k}_pages")
                for k in ("tp", "fp", "fn", "tn")}
    row.update({
        "thp": " ".join(sorted({vm.thp for vm in vms} | ({sc.task.thp} if sc.task_pages
                                                          else set()))),
        "faults_thp": c.faults_thp if thp else None,
        "evictions_thp": c.evictions_thp if thp else None,
        "thp_pmd_batches": c.thp_pmd_batches if thp else None,
        "faults_spte": c.faults_spte if vms else None,
        "bitmap_variant": sc.mglru.bitmap_variant
        if vms and sc.mglru.notifier == "bitmap" else None,
        "speculative_young": vms[0].speculative_young if vms else None,
        "cmpxchg_fail": vms[0].cmpxchg_fail if vms else None,
        "host_side_accesses": c.host_side_accesses if host_side else None,
    })
    guest = confusion_columns("young_guest_view", t.guest_total)
    row.update({k: v if host_side else None for k, v in guest.items()})
    return row


def _reclaim_columns(data: RunData) -> Row:
    """Who reclaimed (direct reclaim by the chargers, kswapd, memory.reclaim) and the remote
    TLB flushes split by cause."""
    sc, c = data.scenario, data.counters
    vm = bool(sc.all_vms())
    return {
        "young_tlb_flushes": _work_sum(data, "tlb_flushes") if vm else None,
        "unmap_tlb_flushes": _work_sum(data, "unmap_flushes") if vm else None,
        "vcpu_direct_reclaim_ns": c.vcpu_direct_reclaim_ns if vm else None,
        "task_direct_reclaim_ns": c.task_direct_reclaim_ns if sc.task_pages else None,
        "direct_reclaims": c.direct_reclaims,
        "kswapd_cpu_ns": c.kswapd_cpu_ns if sc.host.node_memory else None,
        "proactive_reclaimed": c.proactive_reclaimed if sc.host.proactive_reclaim else None,
        "pgdeactivate": c.pgdeactivate if sc.host.policy == "classic" else None,
    }


def kernel_columns(sc: Scenario) -> Row:
    """``kernel`` (the release), every resolved switch (``kernel_<switch>``), and
    ``kernel_deviations``: the keys set against the release (what-ifs), or empty."""
    base = PROFILES[sc.kernel.release]
    out: Row = {"kernel": sc.kernel.release}
    deviations = []
    for sw in switch_names():
        value = getattr(sc.kernel, sw)
        if value == AUTO:  # surfaced as mglru.notifier / vm.aging_lock
            continue
        out[f"kernel_{sw}"] = value
        if value != getattr(base, sw):
            deviations.append(f"kernel.{sw}={value}")
    if sc.all_vms() and sc.mglru.notifier != base.notifier:
        deviations.append(f"mglru.notifier={sc.mglru.notifier}")
    for name, vm, _ in sc.all_vms():
        if vm.aging_lock != base.aging_lock(vm.backend):
            key = "vm" if name == "vm0" else f"vms.{name}"
            deviations.append(f"{key}.aging_lock={vm.aging_lock}")
    out["kernel_deviations"] = " ".join(deviations)
    return out


def _fault_latency_columns(data: RunData) -> Row:
    """vCPU fault latency percentiles, and the refaults of VMs and of the host task."""
    sc, c = data.scenario, data.counters
    vm = bool(sc.all_vms())
    lat = c.fault_latency
    row: Row = {f"fault_latency_{name}_ns": lat.percentile(q) if vm else None
                for q, name in ((50, "p50"), (95, "p95"), (99, "p99"))}
    row["fault_latency_max_ns"] = lat.maximum if vm and lat.total else None
    vm_refaults = sum(vc.refaults for vc in data.vm_counters.values())
    row["vm_refaults"] = vm_refaults if vm else None
    row["task_refaults"] = c.refaults - vm_refaults if sc.task_pages else None
    return row


def _per_vm_columns(data: RunData) -> Row:
    """A per-VM breakdown when several VMs share the memcg (nothing for one VM)."""
    if len(data.scenario.all_vms()) <= 1:
        return {}
    row: Row = {}
    for name, vc in data.vm_counters.items():
        acc = vc.accesses
        row.update({
            f"vm_{name}_accesses": acc,
            f"vm_{name}_faults_first_touch": vc.faults_first_touch,
            f"vm_{name}_refaults": vc.refaults,
            f"vm_{name}_vcpu_lock_wait_ns": vc.vcpu_lock_wait_ns,
            f"vm_{name}_vcpu_stall_ns": vc.vcpu_stall_ns,
            f"vm_{name}_vcpu_direct_reclaim_ns": vc.vcpu_direct_reclaim_ns,
            f"vm_{name}_miss_ratio": (vc.faults_first_touch + vc.refaults) / acc
            if acc else None,
        })
    return row


__all__ = ["kernel_columns", "summary_row"]

"""Runs scenarios and owns all file I/O (DESIGN §4: model code never touches files).

A run folder ``<out>/<scenario>/<run_id>/`` holds ``summary.json``, ``summary.csv`` (one row),
``passes.csv``, ``timeseries.csv``, ``lru_gen.txt`` and ``config.toml`` (the effective
configuration, seed included), then a ``.complete`` marker written last. The folder is built
under a temporary name and renamed into place, so a crash or Ctrl-C never leaves a half-written
run folder behind.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.config import Scenario, to_toml
from simulator.machine import Machine
from simulator.metrics import (
    PASS_COLUMNS,
    SUMMARY_COLUMNS,
    TIMESERIES_COLUMNS,
    confusion_columns,
    ratios,
    work_columns,
)
from simulator.rundata import RunData

COMPLETE_MARKER = ".complete"


@dataclass(frozen=True, slots=True)
class RunResult:
    """A finished run: its summary row and the frames behind it."""

    summary: dict[str, Any]
    passes: pd.DataFrame
    timeseries: pd.DataFrame
    lru_gen: str
    config_toml: str


def simulate(sc: Scenario) -> RunResult:
    """Run one scenario in this process and build its tables (no file I/O)."""
    t0 = time.perf_counter()
    data = Machine(sc).run()
    wall = time.perf_counter() - t0
    return RunResult(
        summary=summary_row(data, wall),
        passes=pd.DataFrame(data.passes, columns=list(PASS_COLUMNS)),
        timeseries=pd.DataFrame(data.timeseries, columns=list(TIMESERIES_COLUMNS)),
        lru_gen="\n".join(data.lru_gen),
        config_toml=to_toml(sc),
    )


def summary_row(data: RunData, wall_time_s: float) -> dict[str, Any]:
    """The one-row summary: the contract columns of DESIGN §5 first, then extra ones."""
    sc, c = data.scenario, data.counters
    vms = sc.all_vms()
    vm = bool(vms)
    accesses = c.accesses + c.host_task_accesses
    total = data.truth.total
    precision, recall, f1 = ratios(total)
    work_calls = c.aging_work.notifier_calls + c.eviction_work.notifier_calls

    def work_sum(name: str) -> int:
        return int(getattr(c.aging_work, name) + getattr(c.eviction_work, name))

    design = sc.mglru.notifier
    bitmap = vm and design == "bitmap"
    fast_flags = vm and design in ("bitmap", "fast_only")
    misses = c.faults_first_touch + c.refaults
    row: dict[str, Any] = {
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
        "notifier_calls": work_calls if vm else None,
        # Only v3 (bitmap) makes bitmap calls and returns UNRELIABLE; v3 and v5-v7
        # (fast_only) report "fast" young; upstream designs return plain 0/1.
        "notifier_calls_bitmap": work_sum("notifier_calls_bitmap") if bitmap else None,
        "notifier_fast": work_sum("notifier_fast") if fast_flags else None,
        "notifier_unreliable": work_sum("notifier_unreliable") if bitmap else None,
        "mmu_lock_write_hold_ns": data.mmu_lock_write_hold_ns,
        "vcpu_lock_wait_ns": c.vcpu_lock_wait_ns if vm else None,
        "vcpu_wall_ns": c.vcpu_wall_ns if vm else None,
        "tlb_flushes": work_sum("tlb_flushes") + work_sum("unmap_flushes") if vm else None,
        "faults_first_touch": c.faults_first_touch,
        # only backends without hardware A bits take access-tracking / access-flag faults
        "faults_access_track": c.faults_access_track if data.young_via_fault else None,
        "refaults": c.refaults,
        "evictions": c.evictions,
        "pgscan": c.pgscan,
        "pgsteal": c.evictions,
        "young_tp": total.tp,
        "young_fp": total.fp,
        "young_fn": total.fn,
        "young_tn": total.tn,
        "young_precision": precision,
        "young_recall": recall,
        "young_f1": f1,
        "miss_ratio": misses / accesses if accesses else None,
    }
    assert tuple(row) == SUMMARY_COLUMNS
    for source, conf in sorted(data.truth.by_source.items()):
        row.update(confusion_columns(f"young_{source}", conf))
    row.update(
        refaults_recent=c.refaults_recent, pgrefill=c.pgrefill, activations=c.activations,
        kept=c.kept, look_arounds=c.look_arounds, rmap_walks=c.rmap_walks,
        tlb_misses=c.tlb_misses if vm else None,
        vcpu_running_ns=c.vcpu_running_ns if vm else None,
        vcpu_fault_ns=c.vcpu_fault_ns if vm else None,
        vcpu_stall_ns=c.vcpu_stall_ns if vm else None,
        aging_pass_total_ns=c.aging_pass_ns,
        notifier_fast_failed=work_sum("notifier_fast_failed") if design == "fast_only" and vm
        else None,
        unreliable_fallback=sc.mglru.unreliable_fallback if bitmap else None,
        tlb_flush_on_age=vms[0][1].tlb_flush_on_age if vm else None,
        lock_model=vms[0][1].lock_model if vm else None,
        vms=len(vms),
        host_task_accesses=c.host_task_accesses if sc.task_pages else None,
        young_tlb_flushes=work_sum("tlb_flushes") if vm else None,
        unmap_tlb_flushes=work_sum("unmap_flushes") if vm else None,
        vcpu_direct_reclaim_ns=c.vcpu_direct_reclaim_ns if vm else None,
        task_direct_reclaim_ns=c.task_direct_reclaim_ns if sc.task_pages else None,
        direct_reclaims=c.direct_reclaims,
        kswapd_cpu_ns=c.kswapd_cpu_ns if sc.host.node_memory else None,
        proactive_reclaimed=c.proactive_reclaimed if sc.host.proactive_reclaim else None,
        pgdeactivate=c.pgdeactivate if sc.host.policy == "classic" else None,
    )
    row.update(kernel_columns(sc))
    lat = c.fault_latency
    for q, name in ((50, "p50"), (95, "p95"), (99, "p99")):
        row[f"fault_latency_{name}_ns"] = lat.percentile(q) if vm else None
    row["fault_latency_max_ns"] = lat.maximum if vm and lat.total else None
    vm_refaults = sum(vc.refaults for vc in data.vm_counters.values())
    row["vm_refaults"] = vm_refaults if vm else None
    row["task_refaults"] = c.refaults - vm_refaults if sc.task_pages else None
    if len(vms) > 1:
        # per-VM breakdown when several VMs share the memcg
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
    for kind in ("aging", "eviction", "fault", "readers"):
        row[f"vcpu_lock_wait_{kind}_ns"] = c.vcpu_lock_wait_by.get(kind, 0.0) if vm else None
    row.update(work_columns("aging", c.aging_work))
    row.update(work_columns("eviction", c.eviction_work))
    return row


def kernel_columns(sc: Scenario) -> dict[str, Any]:
    """``kernel`` (the release), every resolved switch (``kernel_<switch>``), and
    ``kernel_deviations``: the keys set against the release (what-ifs), or empty."""
    from simulator.kernels import AUTO, PROFILES, switch_names

    base = PROFILES[sc.kernel.release]
    out: dict[str, Any] = {"kernel": sc.kernel.release}
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


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if hasattr(v, "item"):
        return v.item()
    return v


def write_run(result: RunResult, folder: Path) -> Path:
    """Write a run folder atomically: build it beside ``folder``, then rename into place."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        summary = {k: _json_value(v) for k, v in result.summary.items()}
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        pd.DataFrame([result.summary]).to_csv(tmp / "summary.csv", index=False)
        result.passes.to_csv(tmp / "passes.csv", index=False)
        result.timeseries.to_csv(tmp / "timeseries.csv", index=False)
        (tmp / "lru_gen.txt").write_text(result.lru_gen)
        (tmp / "config.toml").write_text(result.config_toml)
        (tmp / COMPLETE_MARKER).write_text("ok\n")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def run_folder(out: Path, sc: Scenario, summary: dict[str, Any]) -> Path:
    return Path(out) / sc.name / str(summary["run_id"])


def run_one(sc: Scenario, out: Path) -> tuple[RunResult, Path]:
    """Simulate ``sc`` and write its run folder under ``out``."""
    result = simulate(sc)
    folder = write_run(result, run_folder(out, sc, result.summary))
    return result, folder

"""What aging costs the vCPUs (mmu_lock) and what skipping the TLB flush costs in accuracy.

Expected behaviour (research/patch-series.md §4, §7, §8; the issue "All KVM architecture
backends and notifier designs"):

- aging under ``mmu_lock`` for write (x86 before 6.15, arm64 upstream, spinlock arches) makes
  faulting vCPUs wait for it; lockless (``none``), read-locked (arm64 v3) and per-rmap aging
  never block a fault (TDP/arm64 faults take the read side; shadow faults contend only with
  each other);
- since 6.13 KVM does not flush TLBs when it clears A bits, so a hot page that stays in a vCPU
  TLB sets no A bit and looks old to the next aging walk. ``vm.tlb_flush_on_age = true``
  (older x86 ``clear_flush_young``) flushes every vCPU TLB when a clearing call finds a young
  page: young recall rises, every flush is counted (``tlb_flushes``), and vCPUs pay the refills.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pytest

from simulator.accounting import Work
from simulator.config import scenario_from_dict
from simulator.costs import CostConfig
from simulator.kvm.backends import make_backend
from simulator.kvm.notifier import KvmAgingOps
from simulator.kvm.tlb import Tlbs
from simulator.runner import simulate

# --- vCPUs wait on mmu_lock while aging holds it for write -------------------------------------


@cache
def aging_run(backend: str, lock: str, model: str = "fast") -> dict[str, Any]:
    return simulate(scenario_from_dict({
        "name": "aging-lock-wait",
        "sim": {"duration_ms": 20 if model == "fast" else 5, "seed": 1, "lru_gen_snapshots": 0},
        "host": {"memory": "48MiB"},
        "vm": {"memory": "64MiB", "vcpus": 4, "backend": backend, "aging_lock": lock,
               "lock_model": model},
        "mglru": {"aging": "back_to_back", "notifier": "per_page"},
        "workload": {"kind": "zipf", "theta": 0.99, "think_ns": 100},
    })).summary


@pytest.mark.parametrize("model", ["fast", "fine"])
@pytest.mark.parametrize(("backend", "lock", "waits"), [
    ("x86_tdp", "write", True), ("x86_tdp", "none", False),
    ("arm64", "write", True), ("arm64", "read", False), ("arm64", "none", False),
    ("x86_shadow", "write", True), ("x86_shadow", "rmap", False),
    ("generic", "write", True),
])
def test_vcpus_wait_for_aging_only_under_the_write_lock(backend: str, lock: str, waits: bool,
                                                         model: str) -> None:
    s = aging_run(backend, lock, model)
    assert s["aging_passes"] >= 3 and s["aging_lock"] == lock
    wait = s["vcpu_lock_wait_aging_ns"]
    if waits:
        assert wait > 0
        assert s["aging_write_locks"] > 0
    else:
        assert wait == 0
        assert s["aging_write_locks"] == 0


def test_write_locked_aging_is_a_measurable_share_of_vcpu_time() -> None:
    locked, lockless = aging_run("x86_tdp", "write"), aging_run("x86_tdp", "none")
    assert locked["vcpu_lock_wait_aging_ns"] > 1e-4 * locked["vcpu_wall_ns"]
    # the lockless vCPUs lose no time to aging and get more done in the same simulated time
    assert lockless["vcpu_lock_wait_ns"] < locked["vcpu_lock_wait_ns"]
    assert lockless["accesses"] > locked["accesses"]


# --- TLB flush on age: KVM's side --------------------------------------------------------------

def flush_ops(flush: bool, vcpus: int = 3) -> KvmAgingOps:
    backend = make_backend("x86_tdp", 256, "none", CostConfig())
    backend.sptes.map(np.arange(256, dtype=np.int64), np.zeros(256, dtype=bool))
    backend.sptes.young[:] = False
    tlbs = Tlbs(vcpus, 64)
    for v in range(vcpus):
        tlbs.fill(v, np.arange(v * 10, v * 10 + 10, dtype=np.int64))
    return KvmAgingOps(backend, tlbs, tlb_flush_on_age=flush)


def test_no_flush_by_default_keeps_tlbs() -> None:
    ops = flush_ops(flush=False)
    ops.backend.sptes.young[[1, 2]] = True
    cached = ops.tlbs.cached().copy()
    work = Work()
    ops.clear_young_pages(np.array([1, 2, 3], dtype=np.int64), work)
    ops.clear_young(0, 64, (1 << 64) - 1, work)
    assert work.tlb_flushes == 0
    assert np.array_equal(ops.tlbs.cached(), cached)
    assert not ops.tlbs.ipi_debt_ns.any()


def test_flush_on_age_per_page_flushes_per_young_page() -> None:
    ops = flush_ops(flush=True)
    ops.backend.sptes.young[[1, 2]] = True
    work = Work()
    cpu_before = work.cpu_ns
    ops.clear_young_pages(np.array([1, 2, 3], dtype=np.int64), work)
    assert work.tlb_flushes == 2  # clear_flush_young on each young page
    assert len(ops.tlbs.cached()) == 0  # every vCPU's TLB is empty
    c = ops.backend.costs
    assert work.cpu_ns - cpu_before >= 2 * c.tlb_flush_ns  # paid by the caller
    assert np.allclose(ops.tlbs.ipi_debt_ns, 2 * c.tlb_flush_vcpu_ns)  # and by each vCPU
    assert ops.tlbs.take_ipi_debt(0) == 2 * c.tlb_flush_vcpu_ns
    assert ops.tlbs.take_ipi_debt(0) == 0


def test_flush_on_age_bitmap_flushes_once_per_call_and_only_if_young() -> None:
    ops = flush_ops(flush=True)
    work = Work()
    ops.clear_young(0, 64, (1 << 64) - 1, work)  # nothing young: no flush
    assert work.tlb_flushes == 0 and len(ops.tlbs.cached()) == 30
    ops.backend.sptes.young[[5, 6, 7]] = True
    ops.clear_young(0, 64, (1 << 64) - 1, work)
    assert work.tlb_flushes == 1 and len(ops.tlbs.cached()) == 0
    ops.tlbs.fill(0, np.arange(5, dtype=np.int64))
    ops.test_young(0, 64, work)  # testing never flushes
    assert work.tlb_flushes == 1 and len(ops.tlbs.cached()) == 5


# --- TLB flush on age: young recall in a run ---------------------------------------------------

HOT_PAGES = 655  # uniform over 2 % of a 32 MiB guest: well inside a 1536-entry TLB


@cache
def tlb_run(flush: bool, seed: int, tlb_entries: int = 1536) -> dict[str, Any]:
    return simulate(scenario_from_dict({
        "name": "tlb-flush",
        "sim": {"duration_ms": 60, "seed": seed, "lru_gen_snapshots": 0},
        "host": {"memory": "64MiB"},  # no memory pressure: proactive aging only
        "vm": {"memory": "32MiB", "vcpus": 2, "tlb_entries": tlb_entries,
               "tlb_flush_on_age": flush},
        "mglru": {"aging": "interval", "aging_interval_ms": 4, "notifier": "per_page"},
        "workload": {"kind": "uniform", "footprint": 0.02, "think_ns": 200},
    })).summary


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_flush_on_age_raises_young_recall(seed: int) -> None:
    kept, flushed = tlb_run(False, seed), tlb_run(True, seed)
    assert kept["aging_passes"] >= 5 and flushed["aging_passes"] >= 5
    # hot pages hide in the TLBs: most accessed pages look old to the walk
    assert kept["young_recall"] < 0.5
    assert flushed["young_recall"] > kept["young_recall"] + 0.3
    assert flushed["young_walk_recall"] > kept["young_walk_recall"] + 0.3
    assert kept["tlb_flushes"] == 0  # counted, and zero (not missing) without flushes
    assert flushed["tlb_flushes"] > 0
    assert flushed["tlb_misses"] > kept["tlb_misses"]  # the vCPUs refill their TLBs


def test_without_a_tlb_nothing_hides() -> None:
    """Control: with no TLB every access sets the A bit, so flushing has nothing to reveal."""
    no_tlb = tlb_run(False, 1, tlb_entries=0)
    assert no_tlb["young_recall"] > 0.95
    assert no_tlb["young_recall"] > tlb_run(False, 1)["young_recall"] + 0.3

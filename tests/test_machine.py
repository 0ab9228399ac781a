"""Whole-machine tests: determinism, conservation, host-only mode, pressure, aging lock modes."""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pytest

from simulator.config import Scenario, scenario_from_dict
from simulator.machine import Machine
from simulator.metrics import PASS_COLUMNS, SUMMARY_COLUMNS, TIMESERIES_COLUMNS
from simulator.output.run_folder import RunResult
from simulator.runner import simulate

WALL = ("wall_time_s", "accesses_per_wall_s")


def scenario(seed: int = 1, **sections: dict[str, Any]) -> Scenario:
    doc: dict[str, Any] = {
        "name": "machine-test",
        "sim": {"duration_ms": 100, "seed": seed, "check_invariants": True,
                "lru_gen_snapshots": 3},
        "host": {"memory": "48MiB"},
        "vm": {"memory": "64MiB", "vcpus": 2},
        "workload": {"kind": "zipf", "theta": 0.99},
    }
    for k, v in sections.items():
        doc.setdefault(k, {}).update(v)
    return scenario_from_dict(doc)


@cache
def run(seed: int = 1, lock: str = "auto") -> RunResult:
    return simulate(scenario(seed, vm={"aging_lock": lock}))


def strip_wall(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k not in WALL}


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def test_same_seed_same_results() -> None:
    a = run(1)
    b = simulate(scenario(1))
    sa, sb = strip_wall(a.summary), strip_wall(b.summary)
    assert list(sa) == list(sb)
    diff = [k for k in sa if not same(sa[k], sb[k])]
    assert not diff, diff
    pd.testing.assert_frame_equal(a.passes, b.passes)
    pd.testing.assert_frame_equal(a.timeseries, b.timeseries)
    assert a.lru_gen == b.lru_gen
    assert a.config_toml == b.config_toml


def test_different_seed_different_results() -> None:
    a, b = run(1), run(2)
    assert a.summary["run_id"] != b.summary["run_id"]
    assert a.summary["seed"] == 1 and b.summary["seed"] == 2
    assert not a.timeseries.equals(b.timeseries)
    assert (a.summary["evictions"], a.summary["refaults"], a.summary["young_tp"]) != \
        (b.summary["evictions"], b.summary["refaults"], b.summary["young_tp"])


def test_output_schemas() -> None:
    r = run(1)
    assert tuple(r.summary)[: len(SUMMARY_COLUMNS)] == SUMMARY_COLUMNS
    assert tuple(r.passes.columns) == PASS_COLUMNS
    assert tuple(r.timeseries.columns) == TIMESERIES_COLUMNS
    ts = r.timeseries
    # one row per 10 ms sample from t = 0, plus the final one at the end
    assert ts["t_ns"].iloc[0] == 0 and ts["t_ns"].iloc[-1] == 100_000_000
    assert (ts["t_ns"].diff().dropna() > 0).all()
    for col in ("accesses", "faults_first_touch", "refaults", "evictions", "aging_passes"):
        assert ts[col].is_monotonic_increasing, col
    assert ts["accesses"].iloc[-1] == r.summary["accesses"]
    assert ts["evictions"].iloc[-1] == r.summary["evictions"]
    assert r.summary["aging_passes"] == int(r.passes["success"].sum())


def test_conservation_and_invariants() -> None:
    sc = scenario(3)
    m = Machine(sc)
    data = m.run()  # check_invariants is on: any violation raises
    c = data.counters
    lv, pt = m.mglru().lruvec, m.host.pt
    resident = int((lv.gen >= 0).sum())
    swapped = int(pt.swapped.sum())
    untouched = int((pt.mapped & ~pt.present & ~pt.swapped).sum())
    assert resident + swapped + untouched == sc.guest_pages
    # every touched page is resident or in swap; every swapped page is an eviction not yet
    # faulted back
    assert resident + swapped == c.faults_first_touch
    assert swapped == c.evictions - c.refaults
    assert resident == lv.resident_pages() == int(pt.present.sum())
    assert data.timeseries[-1]["resident_pages"] == resident
    assert data.timeseries[-1]["swapped_pages"] == swapped
    assert c.accesses % sc.vm.quantum_accesses == 0
    # per-generation sizes in the time series add up to the resident pages
    last = data.timeseries[-1]
    assert sum(last[f"gen{k}_pages"] for k in range(4)) == resident
    assert c.evictions > 0 and c.refaults > 0


def test_memory_pressure_evicts_and_refaults() -> None:
    s = run(1).summary
    assert s["evictions"] > 0
    assert s["refaults"] > 0
    assert s["aging_passes"] > 0
    assert s["pgsteal"] == s["evictions"]
    assert s["pgscan"] >= s["evictions"]
    assert s["miss_ratio"] == pytest.approx(
        (s["faults_first_touch"] + s["refaults"]) / s["accesses"])


def test_no_pressure_no_reclaim() -> None:
    s = simulate(scenario(1, host={"memory": "96MiB"})).summary
    assert s["evictions"] == 0 and s["refaults"] == 0
    assert s["faults_first_touch"] > 0


def test_host_only_mode() -> None:
    sc = scenario(1, vm={"enabled": False}, task={"memory": "32MiB"},
                  host={"memory": "24MiB"})
    r = simulate(sc)
    s = r.summary
    for col in ("backend", "notifier", "aging_lock", "vcpus", "notifier_calls",
                "mmu_lock_write_hold_ns", "vcpu_lock_wait_ns", "vcpu_wall_ns", "tlb_flushes"):
        assert s[col] is None, col
    for col in ("tlb_misses", "vcpu_running_ns", "vcpu_fault_ns", "vcpu_stall_ns"):
        assert s.get(col) is None, col
    assert s["guest_pages"] == 0
    assert s["host_pages"] == 24 * 256
    assert s["workload"] == sc.task.workload.kind
    assert s["accesses"] > 0
    assert s["evictions"] > 0 and s["refaults"] > 0
    assert s["aging_passes"] > 0


def test_host_task_beside_vm() -> None:
    sc = scenario(1, task={"memory": "8MiB"}, host={"memory": "56MiB"},
                  sim={"duration_ms": 50})
    m = Machine(sc)
    data = m.run()
    c = data.counters
    assert c.host_task_accesses > 0 and c.accesses > 0
    task = m.host.pt.region_of(m.host.mm_ids["task"])
    assert task.start % 512 == 0 and task.start >= sc.guest_pages
    assert m.host.pt.present[task.start:task.end].any()


@pytest.mark.parametrize("lock", ["write", "none"])
def test_aging_lock_modes(lock: str) -> None:
    r = run(1, lock)
    s, passes = r.summary, r.passes
    assert s["aging_lock"] == lock
    walked = passes[passes["notifier_calls"] > 0]
    assert len(walked) > 0
    if lock == "write":
        # every per-page clear_young takes mmu_lock for write (<6.15)
        assert (walked["write_locks"] == walked["notifier_calls"]).all()
        assert s["vcpu_lock_wait_ns"] > 0
        assert s["vcpu_lock_wait_aging_ns"] > 0  # vCPU faults blocked behind aging
    else:
        # lockless aging (6.15+): aging passes take no write lock, block no vCPU
        assert (passes["write_locks"] == 0).all()
        assert (passes["lock_wait_ns"] == 0).all()
        assert s["vcpu_lock_wait_aging_ns"] == 0


def test_write_locked_aging_holds_the_lock_longer() -> None:
    w, n = run(1, "write").summary, run(1, "none").summary
    assert w["aging_write_locks"] > 0 and n["aging_write_locks"] == 0
    assert w["mmu_lock_write_hold_ns"] > n["mmu_lock_write_hold_ns"]


def test_lru_gen_snapshots_parse() -> None:
    from simulator.mm.debugfs import parse_lru_gen

    text = run(1).lru_gen
    blocks = [b for b in text.split("# t_ns=") if b.strip()]
    assert len(blocks) == 3 + 1  # lru_gen_snapshots plus the final one
    for block in blocks:
        body = block.split("\n", 1)[1]
        gens = parse_lru_gen(body)
        assert 2 <= len(gens) <= 4
        seqs = sorted(gens)
        assert seqs == list(range(seqs[0], seqs[-1] + 1))
        assert all(file == 0 for _, _, file in gens.values())
    final = parse_lru_gen(blocks[-1].split("\n", 1)[1])
    assert sum(anon for _, anon, _ in final.values()) == int(
        np.int64(run(1).timeseries["resident_pages"].iloc[-1]))

"""Several VMs (and a host task) sharing one memcg: each VM has its own vCPUs, workload,
backend, TLBs and mmu_lock; MGLRU ages and evicts across all of them."""

from typing import Any

import pytest

from simulator.config import ConfigError, scenario_from_dict
from simulator.machine import Machine
from simulator.runner import simulate

DOC: dict[str, Any] = {
    "sim": {"duration_ms": 150, "seed": 2, "check_invariants": True},
    "host": {"memory": "96MiB"},
    "vm": {"memory": "64MiB", "vcpus": 2, "backend": "x86_tdp"},
    "workload": {"kind": "zipf", "theta": 0.9, "think_ns": 200},
    "vms": {"arm": {"memory": "64MiB", "vcpus": 1, "backend": "arm64", "aging_lock": "write",
                    "workload": {"kind": "uniform", "think_ns": 200}}},
    "task": {"memory": "16MiB", "workload": {"kind": "zipf", "think_ns": 300}},
}


def test_two_vms_and_a_task_share_the_memcg() -> None:
    m = Machine(scenario_from_dict(DOC))
    assert [vm.name for vm in m.vms] == ["vm0", "arm"]
    assert [r.name for r in m.host.pt.regions] == ["vm0", "arm", "task"]
    # regions do not overlap and start on PTE-table boundaries
    starts = [r.start for r in m.host.pt.regions]
    assert all(s % 512 == 0 for s in starts) and starts == sorted(starts)
    data = m.run()
    # an actor charges its quantum's faults, then stalls at the limit: the overshoot is
    # bounded by one quantum per actor
    quanta = sum(vm.cfg.vcpus * vm.cfg.quantum_accesses for vm in m.vms) \
        + m.sc.task.quantum_accesses
    assert m.host.resident() <= m.host.memcg.limit_pages + quanta
    assert data.counters.evictions > 0
    per_vm = data.vm_counters
    assert per_vm["vm0"].accesses > 0 and per_vm["arm"].accesses > 0
    assert per_vm["vm0"].accesses + per_vm["arm"].accesses == data.counters.accesses
    # each VM's SPTEs stay inside its own memory (the invariant checker also checks this)
    for vm in m.vms:
        present = vm.backend.sptes.present
        assert not present[: vm.region.start].any() and not present[vm.region.end:].any()


def test_multi_vm_summary_has_per_vm_columns() -> None:
    row = simulate(scenario_from_dict(DOC)).summary
    assert row["vms"] == 2 and row["vcpus"] == 3
    for name in ("vm0", "arm"):
        assert row[f"vm_{name}_accesses"] > 0
        assert 0 <= row[f"vm_{name}_miss_ratio"] <= 1
    assert row["host_task_accesses"] > 0


def test_vm_names_are_validated() -> None:
    with pytest.raises(ConfigError, match=r"vms\.vm0"):
        scenario_from_dict({"vms": {"vm0": {}}})
    with pytest.raises(ConfigError, match=r"vms\.b\.aging_lock"):
        scenario_from_dict({"vms": {"b": {"backend": "generic", "aging_lock": "none"}}})

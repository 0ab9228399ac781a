"""The contract every replacement policy keeps, run over every registered policy.

A policy may decide differently what stays resident, but on any scenario it must: keep the
memcg at its limit (the yardstick exactly; the kernel policies within one quantum per actor),
keep every host invariant (``check_host`` after every step), count each miss once (first
touches and refaults add up to the pages it ever faulted), be deterministic, and report only
columns it has. Behaviour particular to one policy is tested in its own file
(``test_classic.py``, ``test_lru_policy.py``, the MGLRU tests).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from simulator.config import scenario_from_dict
from simulator.kvm.backends import BACKENDS
from simulator.machine import Machine
from simulator.policies import POLICIES, make_policy
from simulator.runner import simulate


def _doc(policy: str, backend: str = "x86_tdp", **over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "sim": {"duration_ms": 40, "seed": 3, "check_invariants": True,
                "sample_interval_ms": 5},
        "host": {"memory": "12MiB", "policy": policy},
        "vm": {"memory": "16MiB", "vcpus": 2, "backend": backend, "quantum_accesses": 256},
        "workload": {"kind": "zipf", "theta": 0.9, "think_ns": 200},
    }
    doc.update(over)
    return doc


@pytest.mark.parametrize("policy", sorted(POLICIES))
@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_every_policy_runs_on_every_backend_with_invariants(policy: str, backend: str) -> None:
    m = Machine(scenario_from_dict(_doc(policy, backend)))
    data = m.run()  # check_invariants: every step checks the whole host
    c = data.counters
    assert c.accesses > 0
    assert c.faults_first_touch > 0
    ever = m.host.pt.present | m.host.pt.swapped
    assert c.faults_first_touch == int(ever.sum())  # each page's first touch counted once
    slack = 0 if POLICIES[policy].evicts_inline else 2 * 256  # one quantum per vCPU
    assert m.host.resident() <= m.host.memcg.limit_pages + slack
    assert m.host.resident() == int(m.policy.resident_mask().sum())


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_every_policy_is_deterministic(policy: str) -> None:
    sc = scenario_from_dict(_doc(policy))
    a, b = simulate(sc).summary, simulate(sc).summary
    for key in ("wall_time_s", "accesses_per_wall_s"):
        a.pop(key)
        b.pop(key)
    assert a == b


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_every_policy_reclaims_under_pressure_and_refaults(policy: str) -> None:
    row = simulate(scenario_from_dict(_doc(policy, sim={"duration_ms": 60, "seed": 3}))).summary
    assert row["evictions"] > 0
    assert row["refaults"] > 0
    assert 0.0 < row["miss_ratio"] < 1.0


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_every_policy_runs_host_only(policy: str) -> None:
    doc = _doc(policy, vm={"enabled": False},
               task={"memory": "8MiB", "quantum_accesses": 128,
                     "workload": {"kind": "zipf", "theta": 0.8}})
    doc["host"]["memory"] = "4MiB"
    m = Machine(scenario_from_dict(doc))
    data = m.run()
    assert data.counters.host_task_accesses > 0
    assert data.counters.evictions > 0


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_time_series_has_only_the_policys_columns(policy: str) -> None:
    ts = simulate(scenario_from_dict(_doc(policy))).timeseries
    mglru_cols = ["max_seq", "gen0_pages"]
    classic_cols = ["active_pages", "inactive_pages"]
    has = {c: bool(ts[c].notna().all()) for c in mglru_cols + classic_cols}
    assert all(has[c] for c in mglru_cols) == (policy == "mglru")
    assert all(has[c] for c in classic_cols) == (policy == "classic")
    assert not any(has.values()) or policy != "lru"


def test_registry_builds_each_policy_by_name() -> None:
    m = Machine(scenario_from_dict(_doc("mglru")))
    for name, cls in POLICIES.items():
        assert isinstance(make_policy(name, m.host), cls)
    with pytest.raises(ValueError, match="unknown policy 'bogus'"):
        make_policy("bogus", m.host)


def test_misses_of_the_kernel_policies_are_plausible_against_the_yardstick() -> None:
    """Exact LRU is not optimal, but on a zipf guest neither kernel policy should miss
    several times more or less often than it."""
    ratios = {p: simulate(scenario_from_dict(_doc(p, sim={"duration_ms": 80, "seed": 5})))
              .summary["miss_ratio"] for p in POLICIES}
    for p in ("mglru", "classic"):
        assert 0.5 < ratios[p] / ratios["lru"] < 2.0, ratios
    assert np.isfinite(list(ratios.values())).all()

"""Registries own their parameters: the configuration's keys are built from them.

Each workload kind, KVM backend and notifier design declares its parameters (a frozen
dataclass of :func:`simulator.params.param` fields); these tests check that the scenario's keys
are exactly those declarations, so a parameter cannot be declared in two places that disagree.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from simulator.config import MglruConfig, Scenario, VmConfig, WorkloadConfig, to_dict
from simulator.config.sections import AGING_LOCKS
from simulator.kvm.backends import BACKENDS
from simulator.kvm.notifier import NOTIFIER_DESIGNS
from simulator.params import keys_of, merge_keys, param
from simulator.traces import TraceOptions
from workloads import WORKLOADS


@pytest.mark.parametrize(("section", "owners"), [
    (VmConfig, [(n, c.Params) for n, c in BACKENDS.items()]),
    (MglruConfig, [(n, e.params) for n, e in NOTIFIER_DESIGNS.items()]),
])
def test_entry_parameters_are_section_keys_as_declared(section: type,
                                                       owners: list[tuple[str, type]]) -> None:
    keys = keys_of(section)
    for name, key in merge_keys(owners).items():
        assert name in keys, name
        assert keys[name].same_declaration(key), name


def test_aging_lock_choices_are_the_backends_modes() -> None:
    modes = {m for cls in BACKENDS.values() for m in cls.aging_locks}
    assert AGING_LOCKS[0] == "auto" and set(AGING_LOCKS[1:]) == modes


def test_workload_keys_are_the_kinds_parameters() -> None:
    table = WorkloadConfig.scenario_keys()
    assert next(iter(table)) == "kind"
    declared = merge_keys((n, c.Params) for n, c in WORKLOADS.items())
    assert list(table)[1:] == list(declared)
    for kind, cls in WORKLOADS.items():
        assert "think_ns" in keys_of(cls.Params), kind  # the simulator paces every kind
        assert cls.Params() == WorkloadConfig(kind=kind).params_as(cls.Params)
        assert dataclasses.is_dataclass(cls.Params)
        assert cls.Params.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_trace_keys_are_the_trace_options() -> None:
    trace = keys_of(WORKLOADS["trace"].Params)
    assert set(keys_of(TraceOptions)) <= set(trace)
    assert "time_column" in {f.name for f in dataclasses.fields(TraceOptions)}
    assert "trace_time_column" not in WorkloadConfig.scenario_keys()  # a command-line option only


def test_a_workload_table_keeps_every_key_and_reads_its_own() -> None:
    cfg = WorkloadConfig(kind="hotcold", theta=0.5, hot_fraction=0.3)
    flat = to_dict(Scenario(workload=cfg))["workload"]
    assert flat["kind"] == "hotcold" and flat["theta"] == 0.5 and flat["hot_fraction"] == 0.3
    params = cfg.params_as(WORKLOADS["hotcold"].Params)
    assert params.hot_fraction == 0.3 and not hasattr(params, "theta")
    with pytest.raises(TypeError, match="no key 'thetaa'"):
        WorkloadConfig(thetaa=1.0)


def test_a_shared_key_must_be_declared_identically() -> None:
    @dataclass(frozen=True)
    class A:
        x: int = param(1, doc="one")

    @dataclass(frozen=True)
    class B:
        x: int = param(2, doc="one")

    with pytest.raises(TypeError, match="'x' is declared differently by a and b"):
        merge_keys([("a", A), ("b", B)])


def test_memory_estimates_come_from_the_registries() -> None:
    for cls in BACKENDS.values():
        assert cls.memory_per_page == 3  # Sptes: present, young, dirty
    assert all(e.memory_per_page == 0 for e in NOTIFIER_DESIGNS.values())
    zipf = WORKLOADS["zipf"]
    params = WorkloadConfig(kind="zipf", footprint=0.5).params_as(zipf.Params)
    # the placement permutation, the CDF and its guide table
    assert zipf.memory_bytes(params, 1000, 4) == 8 * 1000 + (8 + 8) * 500
    from simulator.policies import POLICIES

    assert all(cls.memory_per_page > 0 for cls in POLICIES.values())

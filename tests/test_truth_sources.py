"""Whole runs: THP guests on every backend and policy with every invariant checked, and each
source of wrong young answers moving precision the way it should.

- With every new key at its default nothing changes: precision of a design that consults KVM
  stays 1, the false-young counters stay 0 and the guest-view columns are empty.
- ``vm.speculative_young`` > 0: idle SPTEs read young, so precision drops below 1, lower for a
  larger rate.
- ``vm.cmpxchg_fail`` > 0: only x86_tdp_noad aging locklessly (6.15+) has the path; there it
  leaves aged SPTEs young and precision drops; under 6.14's write lock nothing changes.
- ``mglru.bitmap_variant = "posted_v3"``: SPTEs the clear call misses stay young: precision
  drops; ``intended`` keeps 1.
- ``vm.host_accesses``: the host's touches are accesses, so the main precision stays 1, while
  against the guest's own accesses (``young_guest_view_*``) a page young only from vhost is a
  false positive.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from simulator.config import scenario_from_dict
from simulator.kvm.backends import BACKENDS
from simulator.machine import Machine
from simulator.output.run_folder import RunResult
from simulator.runner import simulate


def doc(**over: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "name": "truth-test",
        "sim": {"duration_ms": 80, "seed": 1, "check_invariants": True},
        "host": {"memory": "48MiB"},
        "vm": {"memory": "64MiB", "vcpus": 2},
        "workload": {"kind": "zipf", "theta": 0.99, "think_ns": 200},
    }
    for dotted, value in over.items():
        section, key = dotted.split("__")
        d.setdefault(section, {})[key] = value
    return d


@cache
def run(**over: Any) -> RunResult:
    return simulate(scenario_from_dict(doc(**over)))


def summary(**over: Any) -> dict[str, Any]:
    return run(**over).summary


# --- THP end to end -----------------------------------------------------------------------------

@pytest.mark.parametrize("backend", list(BACKENDS))
def test_a_thp_guest_runs_on_every_backend_with_its_invariants(backend: str) -> None:
    sc = scenario_from_dict(doc(vm__thp="always", vm__backend=backend,
                                sim__duration_ms=60))
    m = Machine(sc)
    data = m.run()  # check_invariants: every step
    c = data.counters
    assert c.faults_thp > 0 and c.evictions_thp > 0  # THPs faulted and swapped out whole
    assert c.refaults > 0  # ... and refaulted as 4 KiB pages
    sptes = m.vms[0].backend.sptes
    if BACKENDS[backend].maps_2m:
        assert sptes.nr_huge > 0 and c.faults_spte == 0
    else:
        assert sptes.nr_huge == 0 and c.faults_spte > 0  # 4 KiB SPTEs under a host THP


@pytest.mark.parametrize("policy", ["classic", "lru"])
def test_classic_and_exact_lru_keep_working_with_thp(policy: str) -> None:
    s = summary(vm__thp="always", host__policy=policy)
    assert s["faults_thp"] > 0 and s["evictions"] > 0
    assert s["evictions"] % 1 == 0


def test_thp_summary_counts_folios_with_pages_alongside() -> None:
    s = summary(vm__thp="always")
    assert s["thp"] == "always"
    assert s["young_tp_pages"] > s["young_tp"] > 0  # a THP decision weighs 512 pages
    assert s["thp_pmd_batches"] > 0
    base = summary()
    assert base["thp"] == "never" and base["faults_thp"] is None
    assert base["young_tp_pages"] == base["young_tp"]


# --- false young -------------------------------------------------------------------------------

def test_with_defaults_precision_stays_one_and_nothing_false_is_counted() -> None:
    s = summary()
    assert s["young_precision"] == 1.0
    assert s["aging_speculative_young"] == s["eviction_speculative_young"] == 0
    assert s["aging_cmpxchg_failed"] == s["eviction_cmpxchg_failed"] == 0
    assert s["young_guest_view_precision"] is None and s["host_side_accesses"] is None


def test_speculative_a_bits_lower_precision_more_at_a_higher_rate() -> None:
    low = summary(vm__speculative_young=1e-3)
    high = summary(vm__speculative_young=1e-2)
    assert low["aging_speculative_young"] > 0
    assert high["aging_speculative_young"] > low["aging_speculative_young"]
    assert 1.0 > low["young_precision"] > high["young_precision"]
    assert high["young_walk_precision"] < 1.0


def test_a_lost_cmpxchg_lowers_precision_only_where_the_path_exists() -> None:
    lockless = summary(vm__backend="x86_tdp_noad", vm__cmpxchg_fail=0.05)
    assert lockless["aging_cmpxchg_failed"] > 0
    assert lockless["young_precision"] < 1.0
    locked = summary(vm__backend="x86_tdp_noad", vm__cmpxchg_fail=0.05,
                     kernel__release="6.14")  # mmu_lock for write: the cmpxchg cannot fail
    assert locked["aging_cmpxchg_failed"] == locked["eviction_cmpxchg_failed"] == 0
    assert locked["young_precision"] == 1.0
    ad = summary(vm__cmpxchg_fail=0.05)  # x86_tdp: A/D bits, an atomic AND
    assert ad["aging_cmpxchg_failed"] == 0 and ad["young_precision"] == 1.0


def test_the_posted_v3_code_lowers_precision_and_the_intended_api_does_not() -> None:
    intended = summary(kernel__release="v3")
    posted = summary(kernel__release="v3", mglru__bitmap_variant="posted_v3")
    assert intended["notifier"] == "bitmap" and intended["bitmap_variant"] == "intended"
    assert intended["young_precision"] == 1.0
    assert posted["young_walk_precision"] < 1.0
    assert posted["young_precision"] < 1.0


def test_host_side_accesses_are_accesses_but_not_the_guests() -> None:
    s = summary(vm__host_accesses=2e6, vm__host_access_footprint="4MiB")
    assert s["host_side_accesses"] > 0
    assert s["young_precision"] == 1.0  # they are real accesses
    assert s["young_guest_view_precision"] < 1.0  # not the guest's working set
    assert s["young_guest_view_fp"] > 0


@pytest.mark.parametrize("policy", ["mglru", "classic", "lru"])
def test_a_host_task_with_thp_runs_without_stretches(policy: str) -> None:
    """Host-only with ``task.thp``: the compiled stretches hold pages, not folios, so the
    reference path runs (and invariants are not checked per step, where stretches apply)."""
    s = simulate(scenario_from_dict({
        "name": "task-thp", "sim": {"duration_ms": 40, "check_invariants": False},
        "host": {"memory": "24MiB", "policy": policy}, "vm": {"enabled": False},
        "task": {"memory": "32MiB", "thp": "always", "workload": {"kind": "zipf"}}})).summary
    assert s["thp"] == "always" and s["faults_thp"] > 0 and s["evictions"] > 0

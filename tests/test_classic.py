"""The classic active/inactive LRU (``simulator.mm.classic``, policy ``classic``).

Oracles: a plain Python list model of the two lists (hypothesis), the kernel's rules written
out per case (two-touch activation, deactivation of every scanned anon folio, the
``inactive_is_low`` ratios, refault distance against the active list), and KVM accounting
(one ``clear_flush_young`` per mapped PTE the rmap walk checks, on every backend).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.accounting import Work
from simulator.config import scenario_from_dict
from simulator.kvm.backends import BACKENDS
from simulator.machine import Machine
from simulator.mm.classic import ACTIVE, INACTIVE, ClassicLists
from simulator.policies import ClassicPolicy
from simulator.runner import simulate

# --- the lists against a reference model -------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["add", "isolate"]), st.integers(0, 1),
                          st.integers(1, 12)), min_size=1, max_size=60),
       st.randoms(use_true_random=False))
def test_lists_isolate_from_the_tail_like_a_deque(ops: list[tuple[str, int, int]],
                                                 rnd: Any) -> None:
    """``add`` puts folios at the head, ``isolate`` takes them from the tail, in order,
    whatever happened to other folios in between (the snapshot cursor must stay exact)."""
    n = 64
    lists = ClassicLists(n)
    ref: list[list[int]] = [[], []]  # index 0 = tail
    off = list(range(n))
    for op, lst, k in ops:
        if op == "add":
            rnd.shuffle(off)
            pages, off = off[:k], off[k:]
            lists.add(np.array(pages, dtype=np.int64), lst)
            ref[lst].extend(pages)
        else:
            got = lists.isolate(lst, k).tolist()
            assert got == ref[lst][:k]
            ref[lst] = ref[lst][k:]
            off.extend(got)
        assert lists.nr.tolist() == [len(ref[0]), len(ref[1])]
    lists.check_invariants()


@pytest.mark.parametrize(("gib", "ratio"), [(0, 1), (1, 3), (10, 10), (100, 31)])
def test_inactive_is_low_uses_the_sqrt_ratio(gib: int, ratio: int) -> None:
    lists = ClassicLists(1)
    total = max(gib, 1) << 18 if gib else 1000
    active = total * ratio // (ratio + 1) + 1  # just above inactive * ratio
    lists.nr[:] = [total - active, active]
    assert lists.inactive_is_low()
    lists.nr[:] = [total - active + 2, active - 2]
    assert not lists.inactive_is_low()


# --- the scans on a small VM --------------------------------------------------------------------


def _machine(backend: str = "x86_tdp", **host: Any) -> Machine:
    return Machine(scenario_from_dict({
        "sim": {"duration_ms": 1, "check_invariants": True},
        "host": {"memory": "8MiB", "policy": "classic", **host},
        "vm": {"memory": "8MiB", "vcpus": 1, "backend": backend},
    }))


def _fault(m: Machine, pages: np.ndarray) -> None:
    policy = m.policy
    assert isinstance(policy, ClassicPolicy)
    policy.fault_in(pages, np.zeros(len(pages), dtype=bool))
    m.vms[0].backend.sptes.map(pages, np.zeros(len(pages), dtype=bool))


def test_two_sightings_activate_one_keeps_none_reclaims() -> None:
    """folio_check_references: referenced with PG_referenced → ACTIVATE; referenced without
    → KEEP (PG_referenced set); not referenced → RECLAIM."""
    m = _machine()
    classic = m.policy.classic  # type: ignore[attr-defined]
    pt, sptes = m.host.pt, m.vms[0].backend.sptes
    pages = np.arange(96, dtype=np.int64)
    _fault(m, pages)  # a fault maps young PTEs and young SPTEs
    pt.young[pages] = False
    sptes.young[pages] = False
    sptes.young[:32] = True        # guest-only young: KVM must be asked to see them
    pt.young[32:64] = True         # host-side young
    classic.lists.referenced[:16] = True  # seen once before
    res = classic.shrink_inactive_list(96, Work())
    assert res.scanned == 96
    assert res.activated == 16
    assert res.kept == 48
    assert res.reclaimed == 32
    assert (classic.lists.lru[:16] == ACTIVE).all()
    assert (classic.lists.lru[16:64] == INACTIVE).all()
    assert classic.lists.referenced[16:64].all()
    assert pt.swapped[64:96].all() and not sptes.present[64:96].any()
    assert not pt.young[:64].any() and not sptes.young[:64].any()  # the checks cleared them


def test_active_scan_deactivates_every_anon_folio_and_clears_young() -> None:
    m = _machine()
    classic = m.policy.classic  # type: ignore[attr-defined]
    pages = np.arange(40, dtype=np.int64)
    _fault(m, pages)
    isolated = classic.lists.isolate(INACTIVE, 40)
    classic.lists.add(isolated, ACTIVE)  # as if activated
    res = classic.shrink_active_list(40, Work())
    assert res.deactivated == 40
    assert (classic.lists.lru[:40] == INACTIVE).all()
    assert classic.lists.workingset[:40].all()
    assert not m.host.pt.young[:40].any() and not m.vms[0].backend.sptes.young[:40].any()


def test_refault_within_the_active_list_size_activates() -> None:
    """workingset_refault: distance = evictions and activations since the eviction; recent
    (≤ active anon) → active, with PG_workingset restored from the shadow."""
    m = _machine()
    classic = m.policy.classic  # type: ignore[attr-defined]
    pages = np.arange(200, dtype=np.int64)
    _fault(m, pages)
    active = classic.lists.isolate(INACTIVE, 50)  # pages 0..49 are the active list
    classic.lists.add(active, ACTIVE)
    classic.lists.workingset[190:195] = True
    m.host.pt.young[:] = False
    m.vms[0].backend.sptes.young[:] = False
    m.host.pt.young[50:100] = True  # kept; 100..199 are evicted in order, tokens 0..99
    res = classic.shrink_inactive_list(150, Work())
    assert (res.kept, res.reclaimed) == (50, 100)
    near = np.arange(190, 200, dtype=np.int64)  # distance 100 - 90..99 = 10..1 <= 50
    res = classic.fault_in(near, np.zeros(10, dtype=bool))
    assert res.swap_in == 10 and res.refault_recent == 10
    assert (classic.lists.lru[near] == ACTIVE).all()
    assert classic.lists.workingset[near].tolist() == [True] * 5 + [False] * 5
    far = np.arange(100, 110, dtype=np.int64)  # distance 110 - 0..9 > 60 (active now)
    res = classic.fault_in(far, np.zeros(10, dtype=bool))
    assert res.refault_recent == 0
    assert (classic.lists.lru[far] == INACTIVE).all()
    assert not classic.lists.workingset[far].any()


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_every_rmap_check_of_a_mapped_pte_calls_kvm_once(backend: str) -> None:
    """The classic LRU asks the secondary MMU once per PTE it checks, on both lists (the
    host task's pages have no notifier and cost no call)."""
    sc = scenario_from_dict({
        "sim": {"duration_ms": 60, "seed": 2},
        "host": {"memory": "12MiB", "policy": "classic"},
        "vm": {"memory": "12MiB", "vcpus": 2, "backend": backend},
        "task": {"memory": "4MiB", "workload": {"kind": "uniform"}},
        "workload": {"kind": "zipf", "theta": 0.9},
    })
    m = Machine(sc)
    checked: dict[str, int] = {"vm": 0, "task": 0}
    classic = m.policy.classic  # type: ignore[attr-defined]
    vm_mm = m.vms[0].region.mm_id
    real = classic.folio_referenced

    def counting(pages: np.ndarray, work: Work, source: str) -> np.ndarray:
        mine = classic.mm_of_page[pages] == vm_mm
        checked["vm"] += int(mine.sum())
        checked["task"] += int((~mine).sum())
        return real(pages, work, source)

    classic.folio_referenced = counting
    data = m.run()
    c = data.counters
    calls = c.aging_work.notifier_calls + c.eviction_work.notifier_calls
    assert checked["vm"] > 0 and checked["task"] > 0
    assert calls == checked["vm"]
    assert c.rmap_walks == checked["vm"] + checked["task"]


def test_asking_kvm_at_every_check_sees_every_guest_access_without_tlbs() -> None:
    """Every rmap check asks KVM, so with no TLB hiding accesses (each touch walks and sets
    the SPTE's A bit) classic's young/old verdicts are exact; with TLBs and no flush on
    clear_flush_young (x86 6.13+), cached hot pages look old and recall drops below 1."""
    def run(tlb_entries: int) -> dict[str, Any]:
        return simulate(scenario_from_dict({
            "sim": {"duration_ms": 80, "seed": 4},
            "host": {"memory": "12MiB", "policy": "classic"},
            "vm": {"memory": "16MiB", "vcpus": 2, "tlb_entries": tlb_entries},
            "workload": {"kind": "zipf", "theta": 1.0},
        })).summary

    exact, cached = run(0), run(1536)
    for source in ("rmap", "deactivate"):
        assert exact[f"young_{source}_recall"] == 1.0
        assert exact[f"young_{source}_precision"] == 1.0
    assert cached["young_rmap_recall"] < 1.0

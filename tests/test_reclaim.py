"""Reclaim in the right context: the charging task at the memcg limit, kswapd for the node,
memory.reclaim for a proactive agent, and the mm-list rules for concurrent walkers.

The sans-I/O loops of ``simulator.mm.reclaim`` are driven by hand against scripted answers
(the kernel's control flow, step by step); the concurrency of aging walkers is checked on a
real machine with two reclaimers aging at the same simulated instant.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import pytest

from simulator.config import scenario_from_dict
from simulator.machine import Machine
from simulator.mm import reclaim
from simulator.mm.constants import DEF_PRIORITY
from simulator.mm.lruvec import Lruvec
from simulator.runner import simulate


def drive(gen: Generator[Any, Any, Any], answer: Any) -> tuple[list[Any], Any]:
    """Run a sans-I/O loop, answering every request with ``answer(request)``."""
    seen: list[Any] = []
    try:
        request = next(gen)
        while True:
            seen.append(request)
            request = gen.send(answer(request))
    except StopIteration as stop:
        return seen, stop.value


# --- the control flow, by hand ------------------------------------------------------------------

def lruvec_with(gens: list[int]) -> Lruvec:
    """A lruvec whose generations min_seq.. hold ``gens`` pages (oldest first)."""
    lv = Lruvec(1)
    lv.min_seq, lv.max_seq = 0, len(gens) - 1
    lv.nr_pages[:len(gens)] = gens
    return lv


def test_get_nr_to_scan_does_not_age_at_the_default_priority() -> None:
    lv = lruvec_with([100, 100])  # two generations: aging is due
    seen, nr = drive(reclaim.get_nr_to_scan(lv, DEF_PRIORITY), lambda r: True)
    assert (seen, nr) == ([], 0)
    seen, nr = drive(reclaim.get_nr_to_scan(lv, DEF_PRIORITY - 1), lambda r: True)
    assert isinstance(seen[0], reclaim.Age) and nr == -1  # this caller produced it
    seen, nr = drive(reclaim.get_nr_to_scan(lv, DEF_PRIORITY - 1), lambda r: False)
    assert nr == 0  # another walker did: stop this lruvec, no waiting
    lv = lruvec_with([1 << 13, 1 << 13, 1 << 13, 1 << 13])  # four: scan size >> priority
    assert drive(reclaim.get_nr_to_scan(lv, 10), lambda r: True) == ([], (1 << 15) >> 10)


def test_a_memcg_reclaimer_scans_its_whole_share_and_a_kswapd_stops_when_balanced() -> None:
    lv = lruvec_with([4096] * 4)
    nr = (4 * 4096) >> 8
    seen, got = drive(reclaim.try_to_shrink_lruvec(lv, 8, reclaim.never),
                      lambda r: (16, 10))
    assert all(isinstance(r, reclaim.Evict) for r in seen)
    assert len(seen) == -(-nr // 16) and got == 10 * len(seen)  # no early stop at the goal
    seen, got = drive(reclaim.try_to_shrink_lruvec(lv, 8, lambda n: n >= 20),
                      lambda r: (16, 10))
    assert len(seen) == 2 and got == 20


def test_direct_reclaim_lowers_the_priority_until_the_goal() -> None:
    asked: list[tuple[int, int]] = []

    def shrink(priority: int, goal: int,
               abort: reclaim.AbortCheck) -> Generator[Any, Any, int]:
        asked.append((priority, goal))
        yield reclaim.Evict(1)
        return 0 if priority > 9 else 20

    _, got = drive(reclaim.try_to_free_mem_cgroup_pages(5, shrink), lambda r: None)
    # goal max(nr_pages, SWAP_CLUSTER_MAX) = 32: 12, 11, 10 reclaim nothing, 9 and 8 do
    assert asked == [(12, 32), (11, 32), (10, 32), (9, 32), (8, 12)]
    assert got == 40


def test_a_charge_backs_off_after_sixteen_fruitless_attempts() -> None:
    freed = {"calls": 0}

    def shrink(priority: int, goal: int, abort: reclaim.AbortCheck) -> Generator[Any, Any, int]:
        yield reclaim.Evict(1)
        return 0

    def excess() -> int:
        return 0 if freed["calls"] else 7

    def answer(request: Any) -> Any:
        if isinstance(request, reclaim.Backoff):
            freed["calls"] += 1  # someone else freed memory meanwhile
        return None

    seen, calls = drive(reclaim.charge_retry(excess, shrink), answer)
    backoffs = [r for r in seen if isinstance(r, reclaim.Backoff)]
    assert len(backoffs) == 1 and calls == reclaim.MAX_RECLAIM_RETRIES + 1


def test_memory_reclaim_asks_for_a_quarter_of_what_is_left() -> None:
    goals: list[int] = []

    def shrink(priority: int, goal: int, abort: reclaim.AbortCheck) -> Generator[Any, Any, int]:
        goals.append(goal)
        yield reclaim.Evict(1)
        return goal

    _, got = drive(reclaim.memory_reclaim(1000, shrink), lambda r: None)
    assert goals[:3] == [250, 187, 140] and got >= 1000
    assert all(g >= reclaim.SWAP_CLUSTER_MAX for g in goals)


# --- on a machine ---------------------------------------------------------------------------

def small(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "sim": {"duration_ms": 300, "seed": 4, "check_invariants": True},
        "host": {"memory": "24MiB"},
        "vm": {"memory": "32MiB", "vcpus": 2},
        "workload": {"kind": "zipf", "theta": 0.9, "think_ns": 200},
    }
    for k, v in over.items():
        doc.setdefault(k, {}).update(v)
    return doc


def test_the_vcpus_reclaim_a_memcg_at_its_limit_themselves() -> None:
    row = simulate(scenario_from_dict(small())).summary
    assert row["evictions"] > 0
    assert row["vcpu_direct_reclaim_ns"] > 0 and row["direct_reclaims"] > 0
    assert row["kswapd_cpu_ns"] is None  # no node constraint: no kswapd
    # the reclaim a fault does is part of its latency
    assert row["fault_latency_max_ns"] >= row["vcpu_direct_reclaim_ns"] / row["direct_reclaims"]


def test_kswapd_reclaims_only_for_the_node_watermarks() -> None:
    row = simulate(scenario_from_dict(small(host={"memory": "30MiB",
                                                  "node_memory": "24MiB"}))).summary
    assert row["kswapd_cpu_ns"] > 0


def test_a_proactive_agent_reclaims_through_memory_reclaim() -> None:
    row = simulate(scenario_from_dict(small(
        host={"memory": "64MiB", "proactive_reclaim": "2MiB",
              "proactive_interval_ms": 20}))).summary
    assert row["direct_reclaims"] == 0  # nothing hits the limit
    assert row["proactive_reclaimed"] >= 512  # 2 MiB, several times


def _two_reclaimers_age(release: str) -> tuple[list[dict[str, Any]], Machine]:
    """Two vCPUs of one VM ask for aging at the same instant (``get_nr_to_scan`` at priority
    11, as two faults hitting the limit together would)."""
    m = Machine(scenario_from_dict({
        "host": {"memory": "512MiB"}, "kernel": {"release": release},
        "vm": {"memory": "512MiB", "vcpus": 2},  # 256 PTE tables: four walk chunks
    }))
    policy = m.mglru()
    vm = m.vms[0]
    pages = np.arange(vm.region.start, vm.region.end, dtype=np.int64)
    policy.fault_in(pages, np.zeros(len(pages), dtype=bool))
    vm.backend.sptes.map(pages, np.zeros(len(pages), dtype=bool))
    records: list[dict[str, Any]] = []

    def vcpu(v: int) -> Generator[Any, Any, None]:
        record = yield from policy.age("reclaim", False, vm.actor_base + v, DEF_PRIORITY - 2)
        if record is not None:
            records.append(record)

    seq = policy.lruvec.max_seq
    m.env.run(until=m.env.all_of([m.env.process(vcpu(0)), m.env.process(vcpu(1))]))
    assert policy.lruvec.max_seq == seq + 1  # one generation
    return records, m


def test_two_concurrent_reclaimers_share_one_iteration_and_only_one_walks() -> None:
    """≥6.4 ``iterate_mm_list``: the first takes the one mm, the second finds the cursor at
    the list's end, ends the iteration (and increments max_seq) without walking; the first
    stops walking at its next chunk."""
    records, m = _two_reclaimers_age("6.15")
    walked = [r for r in records if r["mms_walked"]]
    assert len(walked) == 1 and not walked[0]["success"]
    finisher = [r for r in records if r["success"]]
    assert len(finisher) == 1 and finisher[0]["mms_walked"] == 0
    assert walked[0]["ptes_scanned"] < m.vms[0].region.pages  # stopped early


def test_before_6_4_the_late_walker_waits_and_the_walker_ends_the_iteration() -> None:
    records, m = _two_reclaimers_age("6.1")
    assert len(records) == 2
    walker = next(r for r in records if r["mms_walked"])
    waiter = next(r for r in records if not r["mms_walked"])
    assert walker["success"] and walker["ptes_scanned"] == m.vms[0].region.pages
    assert not waiter["success"]
    assert waiter["end_ns"] >= walker["end_ns"]  # it slept until max_seq moved


@pytest.mark.parametrize("policy", ["mglru", "classic"])
def test_the_host_task_reclaims_itself_too(policy: str) -> None:
    row = simulate(scenario_from_dict(small(
        host={"memory": "8MiB", "policy": policy}, vm={"enabled": False},
        task={"memory": "16MiB", "workload": {"kind": "uniform"}}))).summary
    assert row["task_direct_reclaim_ns"] > 0 and row["direct_reclaims"] > 0

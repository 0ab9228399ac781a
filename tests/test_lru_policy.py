"""The exact LRU reference policy: against the published exact-LRU miss ratios of a real trace
(data/, computed with Mattson's algorithm and libCacheSim) and inside the simulator."""


import numpy as np
import pytest

from simulator.config import scenario_from_dict
from simulator.machine import Machine
from simulator.mm.lru import ExactLru
from simulator.traces.samples import CLOUDPHYSICS_LRU_MISS_RATIOS, CLOUDPHYSICS_TRACE

TRACE = CLOUDPHYSICS_TRACE
PUBLISHED = CLOUDPHYSICS_LRU_MISS_RATIOS


def _trace_pages() -> np.ndarray:
    rec = np.fromfile(TRACE, dtype=[("ts", "<u4"), ("id", "<u8"), ("sz", "<u4"), ("nv", "<i8")])
    _, dense = np.unique(rec["id"], return_inverse=True)
    return dense.astype(np.int64)


@pytest.mark.parametrize("size", sorted(PUBLISHED))
def test_exact_lru_matches_published_miss_ratios(size: int) -> None:
    pages = _trace_pages()
    lru = ExactLru(size)
    misses = sum(len(lru.access(chunk)[0]) for chunk in np.array_split(pages, 37))
    assert round(misses / len(pages), 6) == PUBLISHED[size]


def test_exact_lru_evicts_least_recently_used() -> None:
    lru = ExactLru(2)
    misses, evicted = lru.access(np.array([1, 2, 1, 3, 2, 1], dtype=np.int64))
    # 1 2 (1 hit) 3 evicts 2; 2 misses, evicts 1; 1 misses, evicts 3
    assert misses.tolist() == [1, 2, 3, 2, 1]
    assert evicted.tolist() == [2, 1, 3]
    assert lru.resident().tolist() == [2, 1]


def test_lru_policy_in_the_simulator_counts_misses_exactly() -> None:
    """Host-only run under policy lru: misses equal an independent replay of the same
    accesses (the task's workload stream) through ExactLru."""
    doc = {"sim": {"duration_ms": 20, "seed": 4, "check_invariants": True},
           "host": {"memory": "1MiB", "policy": "lru"},
           "vm": {"enabled": False},
           "task": {"memory": "4MiB", "quantum_accesses": 256,
                    "workload": {"kind": "zipf", "theta": 0.8, "think_ns": 100}}}
    m = Machine(scenario_from_dict(doc))
    data = m.run()
    accesses = data.counters.host_task_accesses
    assert accesses > 0
    # replay the task's stream: a fresh workload from the same named stream
    replay = Machine(scenario_from_dict(doc))
    assert replay.task_workload is not None
    ref = ExactLru(m.host.memcg.limit_pages)
    misses = 0
    for _ in range(accesses // 256):
        rel, _w = replay.task_workload.next_batch(0, 256)
        misses += len(ref.access(rel + m.host.pt.regions[0].start)[0])
    assert data.counters.faults_first_touch + data.counters.refaults == misses
    assert len(m.policy.lru) <= m.host.memcg.limit_pages

"""The compiled kernels against their numpy references (``simulator.jit``).

Each kernel must give exactly the reference's results: hypothesis drives both through random
operation sequences and compares every observable (lookups, list order, misses and evictions,
the TLB's entries and recency stamps per set). Whole runs are compared too: every ci scenario,
shortened, gives the same summary under both cores.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import jit
from simulator.kvm.tlb import CompiledTlbs, Tlbs
from simulator.mm.lru import CompiledExactLru, ExactLru


@contextmanager
def core(name: str) -> Iterator[None]:
    """Run the block under ``name`` (hypothesis tests cannot take ``monkeypatch``)."""
    old = os.environ.get(jit.ENV_CORE)
    os.environ[jit.ENV_CORE] = name
    try:
        yield
    finally:
        if old is None:
            del os.environ[jit.ENV_CORE]
        else:
            os.environ[jit.ENV_CORE] = old


GEOMETRIES = st.sampled_from([(8, 2), (12, 3), (16, 4), (1536, 12), (24, 24), (6, 1)])


def _entries(t: Tlbs) -> list[Counter[tuple[int, int]]]:
    """Per (vCPU, set), the valid entries as (page, stamp): way positions are not observable."""
    valid = t.valid()
    out = []
    for v in range(t.tags.shape[0]):
        for s in range(t.sets):
            out.append(Counter((int(t.tags[v, s, w]), int(t.stamp[v, s, w]))
                               for w in range(t.ways) if valid[v, s, w]))
    return out


OPS = st.lists(st.tuples(st.sampled_from(["lookup", "touch", "fill", "invalidate", "flush"]),
                         st.integers(0, 1),
                         st.lists(st.integers(0, 200), max_size=40)), max_size=25)


@settings(max_examples=60, deadline=None)
@given(GEOMETRIES, OPS)
def test_compiled_tlb_equals_reference(geometry: tuple[int, int],
                                       ops: list[tuple[str, int, list[int]]]) -> None:
    entries, ways = geometry
    ref, fast = Tlbs(2, entries, ways), CompiledTlbs(2, entries, ways)
    for op, vcpu, raw in ops:
        pages = np.array(raw, dtype=np.int64)
        if op in ("fill", "touch"):
            pages = np.unique(pages)  # callers pass distinct pages in ascending order
        if op == "lookup":
            assert np.array_equal(ref.lookup(vcpu, pages), fast.lookup(vcpu, pages))
        elif op == "touch":
            hits = pages[ref.lookup(vcpu, pages)]
            ref.touch(vcpu, hits)
            fast.touch(vcpu, hits)
        elif op == "fill":
            ref.fill(vcpu, pages)
            fast.fill(vcpu, pages)
        elif op == "invalidate":
            ref.invalidate(pages)
            fast.invalidate(pages)
        else:
            ref.flush_all(5.0)
            fast.flush_all(5.0)
        assert _entries(ref) == _entries(fast)
        assert np.array_equal(ref.clock, fast.clock)
        assert np.array_equal(ref.cached(), fast.cached())
        assert np.array_equal(ref.ipi_debt_ns, fast.ipi_debt_ns)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 12), st.lists(st.lists(st.integers(0, 30), max_size=50), max_size=6))
def test_compiled_exact_lru_equals_reference(capacity: int, batches: list[list[int]]) -> None:
    ref, fast = ExactLru(capacity), CompiledExactLru(capacity, 31)
    for batch in batches:
        pages = np.array(batch, dtype=np.int64)
        m1, e1 = ref.access(pages)
        m2, e2 = fast.access(pages)
        assert np.array_equal(m1, m2) and np.array_equal(e1, e2)
        assert np.array_equal(ref.resident(), fast.resident())
        assert len(ref) == len(fast)
        probe = np.arange(31, dtype=np.int64)
        assert np.array_equal(ref.contains(probe), fast.contains(probe))


def test_engine_choice_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(jit.ENV_CORE, "fast")
    with pytest.raises(jit.CoreError, match="MGLRU_SIM_CORE='fast'"):
        jit.core()
    monkeypatch.setenv(jit.ENV_CORE, "reference")
    assert not jit.compiled()
    monkeypatch.delenv(jit.ENV_CORE)
    assert jit.compiled()


CI_SCENARIOS = sorted(Path("scenarios/ci").glob("*.toml"))
TIMING = {"wall_time_s", "accesses_per_wall_s", "peak_rss_mib", "peak_rss_delta_mib",
          "cpu_time_s"}


def assert_same_under_both_engines(sc: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's summary (every deterministic column), passes and time series are identical
    with the compiled kernels and without."""
    from simulator.runner import simulate

    runs = {}
    for name in jit.CORES:
        monkeypatch.setenv(jit.ENV_CORE, name)
        runs[name] = simulate(sc)
    ref, fast = runs["reference"], runs["compiled"]
    assert {k: v for k, v in ref.summary.items() if k not in TIMING} == \
        {k: v for k, v in fast.summary.items() if k not in TIMING}
    pd.testing.assert_frame_equal(ref.passes, fast.passes, check_exact=True)
    pd.testing.assert_frame_equal(ref.timeseries, fast.timeseries, check_exact=True)


@pytest.mark.parametrize("path", CI_SCENARIOS, ids=[p.stem for p in CI_SCENARIOS])
def test_every_ci_scenario_is_identical_under_both_engines(
        path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shortened to a quarter of its length, each ci scenario gives the same summary (every
    deterministic column), passes and time series with the compiled kernels and without."""
    from simulator.config import load_scenario

    base = load_scenario(path)
    sc = load_scenario(path, [f"sim.duration_ms={base.sim.duration_ms / 4}"])
    assert_same_under_both_engines(sc, monkeypatch)


HOST_ONLY_LRU = [
    # a trace, cut by samples every 7 ms: stretches end at many horizons
    ["task.workload.kind=trace", "task.workload.trace=data/cloudPhysicsIO.oracleGeneral.bin",
     "task.memory=192MiB", "host.memory=12MiB", "sim.sample_interval_ms=7",
     "task.quantum_accesses=300"],
    # a generated workload whose write flags and pages share one generator
    ["task.workload.kind=zipf", "task.memory=64MiB", "host.memory=16MiB",
     "task.workload.write_fraction=0.4", "task.quantum_accesses=1024"],
    # quanta of one access, and a proactive agent's events as horizons
    ["task.workload.kind=uniform", "task.memory=8MiB", "host.memory=4MiB",
     "task.quantum_accesses=1", "sim.duration_ms=2"],
]


@pytest.mark.parametrize("overrides", HOST_ONLY_LRU, ids=["trace", "zipf", "one_access"])
def test_host_only_lru_stretches_equal_reference(overrides: list[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from simulator.config import load_scenario
    from simulator.machine import Machine
    from simulator.stretch import task_kernel

    sc = load_scenario(Path("scenarios/ci/host_only.toml"),
                       ["host.policy=lru", "sim.duration_ms=60", *overrides])
    monkeypatch.setenv(jit.ENV_CORE, "compiled")
    assert task_kernel(Machine(sc).host) is not None, "the compiled run must use stretches"
    assert_same_under_both_engines(sc, monkeypatch)


@pytest.mark.parametrize("k", [1, 3, 17])
def test_trace_next_batches_equals_k_batches(k: int) -> None:
    """The trace workload's k batches in one call are the touches of k calls, write flags
    drawn from the stream's generator included."""
    from simulator.config import WorkloadConfig
    from workloads import make_workload

    cfg = WorkloadConfig(kind="trace", trace="data/cloudPhysicsIO.oracleGeneral.bin",
                         write_fraction=0.3)
    one = make_workload(cfg, 60000, 1, np.random.SeedSequence(5))
    many = make_workload(cfg, 60000, 1, np.random.SeedSequence(5))
    for _ in range(4):
        parts = [one.next_batch(0, 997) for _ in range(k)]
        pages, writes = many.next_batches(0, 997, k)
        assert np.array_equal(np.concatenate([p for p, _ in parts]), pages)
        assert np.array_equal(np.concatenate([w for _, w in parts]), writes)


IDS = st.lists(st.lists(st.one_of(st.integers(0, 50), st.just(2**64 - 1),
                                  st.integers(0, 2**64 - 1)), max_size=30), max_size=6)


@settings(max_examples=80, deadline=None)
@given(IDS, st.sampled_from(["first_touch", "sorted"]))
def test_compiled_page_map_equals_reference(chunks: list[list[int]], order: str) -> None:
    from simulator.traces.pagemap import CompiledPageMapBuilder, PageMapBuilder

    ref, fast = PageMapBuilder(order), CompiledPageMapBuilder(order)
    for chunk in chunks:
        raw = np.array(chunk, dtype=np.uint64)
        ref.add(raw)
        fast.add(raw)
        assert len(ref) == len(fast)
    a, b = ref.build(), fast.build()
    assert np.array_equal(a.keys, b.keys)
    assert (a.ids is None) == (b.ids is None)
    if a.ids is not None and b.ids is not None:
        assert np.array_equal(a.ids, b.ids)
    every = np.array([k for c in chunks for k in c], dtype=np.uint64)
    if len(every):
        with core("reference"):
            want = a.lookup(every)
        assert np.array_equal(want, b.lookup(every))
        missing = next(k for k in range(100, 200) if k not in set(every.tolist()))
        with pytest.raises(KeyError, match=str(missing)):
            b.lookup(np.array([every[0], missing], dtype=np.uint64))

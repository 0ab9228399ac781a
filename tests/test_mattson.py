"""Mattson's stack algorithm: against a naive LRU simulation (hypothesis), the textbook Fenwick
pass, and the published exact-LRU miss ratios of a real trace."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.mattson import (
    INFINITE,
    count_less,
    lru_miss_ratios,
    miss_ratio_curve,
    stack_distances,
    stack_distances_fenwick,
)
from simulator.traces.samples import CLOUDPHYSICS_LRU_MISS_RATIOS, CLOUDPHYSICS_TRACE

TRACE = CLOUDPHYSICS_TRACE
PUBLISHED = CLOUDPHYSICS_LRU_MISS_RATIOS


def naive_lru_misses(pages: list[int], capacity: int) -> int:
    """O(N * C): an LRU list of ``capacity`` pages, one access at a time."""
    lru: OrderedDict[int, None] = OrderedDict()
    misses = 0
    for p in pages:
        if p in lru:
            lru.move_to_end(p)
            continue
        misses += 1
        lru[p] = None
        if len(lru) > capacity:
            lru.popitem(last=False)
    return misses


def naive_distances(pages: list[int]) -> list[int]:
    stack: list[int] = []
    out = []
    for p in pages:
        if p in stack:
            out.append(len(stack) - stack.index(p))
            stack.remove(p)
        else:
            out.append(int(INFINITE))
        stack.append(p)
    return out


traces = st.lists(st.integers(0, 12), min_size=0, max_size=120)


@settings(max_examples=200, deadline=None)
@given(pages=traces)
def test_stack_distances_match_naive_stack(pages: list[int]) -> None:
    expect = naive_distances(pages)
    assert stack_distances(pages).tolist() == expect
    assert stack_distances_fenwick(pages).tolist() == expect


@settings(max_examples=150, deadline=None)
@given(pages=traces, sparse=st.booleans())
def test_miss_ratios_match_naive_lru_at_every_size(pages: list[int], sparse: bool) -> None:
    ids = [p * 2**40 + 3 for p in pages] if sparse else pages  # sparse ids are made dense
    sizes = list(range(1, 15))
    got = lru_miss_ratios(ids, sizes)
    for size, ratio in zip(sizes, got, strict=True):
        if pages:
            assert ratio == naive_lru_misses(pages, size) / len(pages)
    if pages:
        assert np.all(np.diff(got) <= 0)  # inclusion: never worse with more memory
        curve = miss_ratio_curve(ids)
        assert curve.distinct_pages == len(set(pages))
        assert got[-1] == len(set(pages)) / len(pages)  # only cold misses remain


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.integers(0, 40), min_size=1, max_size=60), data=st.data())
def test_count_less_matches_brute_force(values: list[int], data: st.DataObject) -> None:
    n = len(values)
    q = data.draw(st.lists(st.tuples(st.integers(0, n), st.integers(0, n), st.integers(0, 45)),
                           min_size=1, max_size=20))
    lo = np.array([min(a, b) for a, b, _ in q], dtype=np.int64)
    hi = np.array([max(a, b) for a, b, _ in q], dtype=np.int64)
    x = np.array([c for _, _, c in q], dtype=np.int64)
    got = count_less(np.array(values, dtype=np.int64), lo, hi, x)
    expect = [sum(v < c for v in values[a:b]) for a, b, c in zip(lo, hi, x, strict=True)]
    assert got.tolist() == expect


def test_edge_cases() -> None:
    assert len(stack_distances([])) == 0
    assert np.isnan(lru_miss_ratios([], [1])).all()
    assert stack_distances([5, 5, 5]).tolist() == [INFINITE, 1, 1]
    assert stack_distances([1, 2, 3, 1]).tolist()[-1] == 3
    with pytest.raises(ValueError, match="integers"):
        stack_distances(np.array([1.5]))
    with pytest.raises(ValueError, match="1-D"):
        stack_distances(np.zeros((2, 2), dtype=np.int64))


def test_random_trace_against_naive_lru() -> None:
    rng = np.random.default_rng(11)
    pages = (rng.zipf(1.3, 20_000) % 700).tolist()
    sizes = [1, 10, 50, 200, 699, 700]
    got = lru_miss_ratios(pages, sizes)
    assert got.tolist() == [naive_lru_misses(pages, c) / len(pages) for c in sizes]


def test_published_miss_ratios_of_the_shared_trace() -> None:
    rec = np.fromfile(TRACE, dtype=[("ts", "<u4"), ("id", "<u8"), ("sz", "<u4"), ("nv", "<i8")])
    curve = miss_ratio_curve(rec["id"])
    assert curve.accesses == 113_872 and curve.distinct_pages == 48_974
    got = curve.miss_ratio(sorted(PUBLISHED))
    assert [round(float(r), 6) for r in got] == [PUBLISHED[s] for s in sorted(PUBLISHED)]

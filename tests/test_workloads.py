"""Tests of the ``workloads`` package: shapes and ranges, determinism, distributions, scans."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.config import WorkloadConfig
from workloads import (
    WORKLOADS,
    SequentialWorkload,
    Workload,
    ZipfWorkload,
    describe_workloads,
    make_workload,
)

KINDS = [k for k in WORKLOADS if k != "trace"]  # trace needs a file: tests/test_traces.py


def make(kind: str, pages: int = 1000, streams: int = 4, seed: int = 12345,
         **cfg: object) -> Workload:
    return make_workload(WorkloadConfig(kind=kind, **cfg),  # type: ignore[arg-type]
                         pages, streams, np.random.SeedSequence(seed))


def binomial_ok(count: int, n: int, p: float, z: float = 5.0) -> bool:
    """``count`` is within ``z`` binomial standard deviations of ``n * p``."""
    return abs(count - n * p) <= z * math.sqrt(n * p * (1.0 - p)) + 1e-9


def chi_square_ok(counts: npt.NDArray[np.int64], pmf: list[float], z: float = 5.0) -> bool:
    """Pearson's chi-square goodness of fit at roughly a ``z``-sigma level.

    Bins are taken in order and the trailing ones with an expected count below 5 are merged.
    The critical value is the Wilson-Hilferty approximation of the chi-square quantile (no
    scipy): df * (1 - 2/(9 df) + z sqrt(2/(9 df)))**3.
    """
    n = int(counts.sum())
    expected = [n * p for p in pmf]
    obs = [float(c) for c in counts]
    cut = len(expected)
    while cut > 1 and expected[cut - 1] < 5.0:
        cut -= 1
    if cut < len(expected):
        exp_bins = [*expected[:cut], math.fsum(expected[cut:])]
        obs_bins = [*obs[:cut], math.fsum(obs[cut:])]
    else:
        exp_bins, obs_bins = expected, obs
    stat = math.fsum((o - e) ** 2 / e for o, e in zip(obs_bins, exp_bins, strict=True) if e > 0)
    df = len(exp_bins) - 1
    crit = df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3
    return stat <= crit


def zipf_pmf(k: int, theta: float) -> list[float]:
    """P(rank = j), j = 1..k, computed in plain Python (independent of ``workloads.zipf``)."""
    weights = [j ** -theta for j in range(1, k + 1)]
    total = math.fsum(weights)
    return [w / total for w in weights]


# --- interface, shapes and ranges ------------------------------------------------------------


def test_registry_matches_config_choices() -> None:
    kind_field = next(f for f in dataclasses.fields(WorkloadConfig) if f.name == "kind")
    assert set(WORKLOADS) == set(kind_field.metadata["choices"])
    for name, cls in WORKLOADS.items():
        assert cls.name == name


def test_describe_workloads() -> None:
    rows = describe_workloads()
    assert [name for name, _ in rows] == list(WORKLOADS)
    for _, desc in rows:
        assert desc and "\n" not in desc and len(desc) <= 100


@pytest.mark.parametrize("kind", KINDS)
def test_batch_types_and_range(kind: str) -> None:
    w = make(kind, pages=777, streams=3, footprint=0.5, scatter=True)
    assert isinstance(w, Workload)
    assert isinstance(w, WORKLOADS[kind])
    assert w.pages == 777
    for stream in (0, 2, 1, 0):
        pages, writes = w.next_batch(stream, 1000)
        assert pages.dtype == np.int64 and writes.dtype == np.bool_
        assert pages.shape == (1000,) and writes.shape == (1000,)
        assert pages.min() >= 0 and pages.max() < 777


@pytest.mark.parametrize("kind", KINDS)
def test_empty_batch(kind: str) -> None:
    pages, writes = make(kind).next_batch(0, 0)
    assert pages.shape == (0,) and pages.dtype == np.int64
    assert writes.shape == (0,) and writes.dtype == np.bool_


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    pages=st.integers(1, 3000),
    footprint=st.floats(1e-6, 1.0),
    streams=st.integers(1, 8),
    n=st.integers(0, 600),
    scatter=st.booleans(),
    theta=st.floats(0.0, 5.0),
    seed=st.integers(0, 2**32),
)
def test_property_range_and_footprint(kind: str, pages: int, footprint: float, streams: int,
                                      n: int, scatter: bool, theta: float, seed: int) -> None:
    w = make(kind, pages=pages, streams=streams, seed=seed, footprint=footprint,
             scatter=scatter, theta=theta)
    k = max(1, int(pages * footprint))
    seen: set[int] = set()
    for stream in range(streams):
        touched, writes = w.next_batch(stream, n)
        assert touched.dtype == np.int64 and writes.dtype == np.bool_
        assert len(touched) == n and len(writes) == n
        if n:
            assert touched.min() >= 0 and touched.max() < pages
            if not scatter or kind == "sequential":
                assert touched.max() < k  # contiguous footprint: pages 0..K-1
        seen.update(touched.tolist())
    assert len(seen) <= k


@pytest.mark.parametrize("kind", KINDS)
def test_footprint_limits_distinct_pages(kind: str) -> None:
    w = make(kind, pages=10_000, streams=2, footprint=0.01, scatter=True, theta=0.5)
    seen = np.unique(np.concatenate([w.next_batch(s, 20_000)[0] for s in (0, 1)]))
    assert len(seen) <= 100
    if kind != "zipf":  # uniform and a full scan cover every footprint page
        assert len(seen) == 100


@pytest.mark.parametrize("kind", KINDS)
def test_tiny_footprint_is_one_page(kind: str) -> None:
    w = make(kind, pages=1000, streams=2, footprint=1e-6)
    touched = np.concatenate([w.next_batch(s, 100)[0] for s in (0, 1)])
    assert len(np.unique(touched)) == 1


def test_scatter_places_ranks_on_distinct_region_pages() -> None:
    w = make("zipf", pages=5000, footprint=0.2, scatter=True)
    assert isinstance(w, ZipfWorkload)
    placed = w.page_of_rank(np.arange(1000))
    assert len(np.unique(placed)) == 1000
    assert placed.min() >= 0 and placed.max() < 5000
    assert placed.max() >= 1000  # really scattered over the region, not the first K pages
    plain = make("zipf", pages=5000, footprint=0.2, scatter=False)
    assert isinstance(plain, ZipfWorkload)
    assert np.array_equal(plain.page_of_rank(np.arange(1000)), np.arange(1000))
    with pytest.raises(IndexError):
        w.page_of_rank([1000])


# --- errors ------------------------------------------------------------------------------------


def test_unknown_kind_names_it_and_known_kinds() -> None:
    with pytest.raises(ValueError, match="bogus") as info:
        make("bogus")
    for kind in KINDS:
        assert kind in str(info.value)


@pytest.mark.parametrize("kind", KINDS)
def test_bad_arguments(kind: str) -> None:
    w = make(kind, streams=2)
    with pytest.raises(ValueError, match="stream"):
        w.next_batch(2, 10)
    with pytest.raises(ValueError, match="stream"):
        w.next_batch(-1, 10)
    with pytest.raises(ValueError, match="batch"):
        w.next_batch(0, -1)
    with pytest.raises(ValueError, match="page"):
        make(kind, pages=0)
    with pytest.raises(ValueError, match="stream"):
        make(kind, streams=0)


# --- determinism -------------------------------------------------------------------------------


def _run(w: Workload, order: list[int], n: int = 257) -> dict[int, tuple[list[int], list[bool]]]:
    out: dict[int, tuple[list[int], list[bool]]] = {}
    for stream in order:
        pages, writes = w.next_batch(stream, n)
        p, wr = out.setdefault(stream, ([], []))
        p.extend(pages.tolist())
        wr.extend(writes.tolist())
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_batches(kind: str) -> None:
    order = [0, 1, 2, 0, 1, 2, 2]
    a = _run(make(kind, streams=3, seed=7, footprint=0.3), order)
    b = _run(make(kind, streams=3, seed=7, footprint=0.3), order)
    assert a == b
    c = _run(make(kind, streams=3, seed=8, footprint=0.3), order)
    assert a != c


@pytest.mark.parametrize("kind", KINDS)
def test_stream_call_order_does_not_matter(kind: str) -> None:
    a = _run(make(kind, streams=3, seed=99), [0, 1, 2, 0, 1, 2])
    b = _run(make(kind, streams=3, seed=99), [1, 1, 2, 0, 2, 0])
    assert a == b


@pytest.mark.parametrize("kind", ["zipf", "uniform"])
def test_stream_output_independent_of_stream_count(kind: str) -> None:
    a = make(kind, streams=2, seed=5, footprint=0.5).next_batch(1, 500)
    b = make(kind, streams=8, seed=5, footprint=0.5).next_batch(1, 500)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_seed_sequence_not_consumed_and_children_work() -> None:
    root = np.random.SeedSequence(2024)
    child = root.spawn(1)[0]
    before = child.n_children_spawned
    w1 = make_workload(WorkloadConfig(kind="zipf"), 500, 2, child)
    w2 = make_workload(WorkloadConfig(kind="zipf"), 500, 2, child)
    assert child.n_children_spawned == before
    assert np.array_equal(w1.next_batch(1, 300)[0], w2.next_batch(1, 300)[0])
    other = make_workload(WorkloadConfig(kind="zipf"), 500, 2, root.spawn(1)[0])
    assert not np.array_equal(make_workload(WorkloadConfig(kind="zipf"), 500, 2, child)
                              .next_batch(1, 300)[0], other.next_batch(1, 300)[0])


# --- distributions ----------------------------------------------------------------------------

N_DRAWS = 200_000


@pytest.mark.parametrize("scatter", [False, True])
@pytest.mark.parametrize("theta", [0.5, 0.99, 1.0, 1.5, 3.0])
def test_zipf_matches_exact_pmf(theta: float, scatter: bool) -> None:
    k = 1000
    w = make("zipf", pages=2 * k, streams=2, seed=31337, footprint=0.5, theta=theta,
             scatter=scatter)
    assert isinstance(w, ZipfWorkload)
    touched = w.next_batch(1, N_DRAWS)[0]
    per_page = np.bincount(touched, minlength=2 * k)
    counts = per_page[w.page_of_rank(np.arange(k))]  # counts by rank, hottest first
    assert counts.sum() == N_DRAWS  # nothing outside the footprint
    pmf = zipf_pmf(k, theta)
    for rank in range(10):
        assert binomial_ok(int(counts[rank]), N_DRAWS, pmf[rank]), (rank, counts[rank])
    assert chi_square_ok(counts, pmf)


def test_zipf_detects_wrong_exponent() -> None:
    """The pmf check has teeth: a nearby theta fails it."""
    w = make("zipf", pages=1000, seed=4, theta=0.99, scatter=False)
    counts = np.bincount(w.next_batch(0, N_DRAWS)[0], minlength=1000)
    assert chi_square_ok(counts, zipf_pmf(1000, 0.99))
    assert not chi_square_ok(counts, zipf_pmf(1000, 0.95))
    assert not chi_square_ok(counts[1:], zipf_pmf(999, 0.99))  # off by one rank


@pytest.mark.parametrize("kind", ["zipf", "uniform"])
def test_theta_zero_and_uniform_are_uniform_over_footprint(kind: str) -> None:
    k = 50
    w = make(kind, pages=500, seed=77, footprint=0.1, theta=0.0, scatter=False)
    touched = w.next_batch(3, N_DRAWS)[0]
    assert set(np.unique(touched).tolist()) == set(range(k))
    counts = np.bincount(touched, minlength=k)
    assert chi_square_ok(counts, [1.0 / k] * k)
    assert all(binomial_ok(int(c), N_DRAWS, 1.0 / k) for c in counts)


def test_zipf_large_footprint() -> None:
    """K = 16Mi pages (64 GiB) builds and samples; rank 1 has its exact probability."""
    k = 1 << 24
    w = make("zipf", pages=k, streams=1, seed=1, theta=0.99, scatter=False)
    touched = w.next_batch(0, N_DRAWS)[0]
    assert touched.min() >= 0 and touched.max() < k
    h = math.fsum(j ** -0.99 for j in range(1, 1001))  # head exactly, tail by Euler-Maclaurin
    h += (k ** 0.01 - 1000 ** 0.01) / 0.01 + 0.5 * (k ** -0.99 - 1000 ** -0.99)
    assert binomial_ok(int(np.count_nonzero(touched == 0)), N_DRAWS, 1.0 / h)


# --- sequential --------------------------------------------------------------------------------


def test_sequential_offsets_continuation_and_wrap() -> None:
    w = make("sequential", pages=100, streams=4, footprint=1.0)
    assert isinstance(w, SequentialWorkload)
    for s in range(4):
        assert w.position(s) == 25 * s
    assert w.next_batch(1, 10)[0].tolist() == list(range(25, 35))
    assert w.next_batch(1, 10)[0].tolist() == list(range(35, 45))  # continues
    assert w.next_batch(3, 30)[0].tolist() == [*range(75, 100), *range(0, 5)]  # wraps
    assert w.next_batch(3, 3)[0].tolist() == [5, 6, 7]
    assert w.next_batch(0, 3)[0].tolist() == [0, 1, 2]  # untouched by the other streams
    assert w.next_batch(2, 250)[0].tolist() == [(50 + i) % 100 for i in range(250)]
    assert w.position(2) == 0


def test_sequential_footprint_and_uneven_offsets() -> None:
    w = make("sequential", pages=100, streams=3, footprint=0.5)
    assert [w.next_batch(s, 1)[0][0] for s in range(3)] == [0, 16, 33]  # s * 50 // 3
    assert w.next_batch(0, 120)[0].tolist() == [(1 + i) % 50 for i in range(120)]


def test_sequential_split_calls_equal_one_call() -> None:
    a = make("sequential", pages=64, streams=2, seed=3)
    b = make("sequential", pages=64, streams=2, seed=3)
    parts = [a.next_batch(1, n) for n in (7, 0, 50, 100)]
    whole = b.next_batch(1, 157)
    assert np.array_equal(np.concatenate([p for p, _ in parts]), whole[0])
    assert np.array_equal(np.concatenate([wr for _, wr in parts]), whole[1])


def test_sequential_ignores_scatter() -> None:
    a = make("sequential", pages=300, streams=3, scatter=True).next_batch(2, 400)[0]
    b = make("sequential", pages=300, streams=3, scatter=False).next_batch(2, 400)[0]
    assert np.array_equal(a, b)


# --- writes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_write_fraction(kind: str) -> None:
    assert not make(kind, write_fraction=0.0).next_batch(0, 10_000)[1].any()
    assert make(kind, write_fraction=1.0).next_batch(0, 10_000)[1].all()
    writes = make(kind, write_fraction=0.3).next_batch(1, N_DRAWS)[1]
    assert binomial_ok(int(writes.sum()), N_DRAWS, 0.3)
    assert abs(writes.mean() - 0.3) < 0.01


@pytest.mark.parametrize("kind", KINDS)
def test_write_fraction_does_not_change_pages(kind: str) -> None:
    """Write flags are always drawn, so a seed's page sequence is common to every fraction."""
    a, b = make(kind, write_fraction=0.0), make(kind, write_fraction=0.7)
    for _ in range(3):
        assert np.array_equal(a.next_batch(0, 500)[0], b.next_batch(0, 500)[0])

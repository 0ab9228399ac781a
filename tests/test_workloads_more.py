"""The workloads beyond zipf/uniform/sequential: YCSB's generators against their Java
arithmetic and theory, hotcold's hot share and phases, scan_mix's scan periodicity, memstress's
per-vCPU regions, and trace replay (splitting, remapping, chunking, rewinding, sizing)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from simulator.config import WorkloadConfig
from simulator.traces import TraceError
from workloads import (
    HotColdWorkload,
    MemstressWorkload,
    ScanMixWorkload,
    TraceWorkload,
    Workload,
    make_workload,
)
from workloads.trace import required_memory, required_pages
from workloads.ycsb_zipf import (
    ITEM_COUNT,
    ZETAN,
    YcsbZipfWorkload,
    ZipfianGenerator,
    fnv1a_64,
    zeta,
)


def make(kind: str, pages: int = 1000, streams: int = 4, seed: int = 5,
         **cfg: object) -> Workload:
    return make_workload(WorkloadConfig(kind=kind, **cfg),  # type: ignore[arg-type]
                         pages, streams, np.random.SeedSequence(seed))


def within(count: int, n: int, p: float, z: float = 5.0) -> bool:
    """``count`` is within ``z`` binomial standard deviations of ``n * p``."""
    return abs(count - n * p) <= z * math.sqrt(n * p * (1 - p)) + 1e-9


# --- ycsb_zipf ----------------------------------------------------------------------------------
def java_next_long(u: float, items: int, theta: float, zetan: float) -> int:
    """ZipfianGenerator.nextLong(items), line by line from YCSB's Java (scalar reference)."""
    zeta2 = 1 + 0.5 ** theta
    alpha = 1.0 / (1.0 - theta)
    eta = (1 - math.pow(2.0 / items, 1 - theta)) / (1 - zeta2 / zetan)
    uz = u * zetan
    if uz < 1.0:
        return 0
    if uz < 1.0 + math.pow(0.5, theta):
        return 1
    return int(items * math.pow(eta * u - eta + 1, alpha))


def java_fnvhash64(val: int) -> int:
    h = 0xCBF29CE484222325
    for _ in range(8):
        h ^= val & 0xFF
        val >>= 8
        h = (h * 1099511628211) & (2**64 - 1)
    signed = h - 2**64 if h >= 2**63 else h
    return abs(signed)


def test_zipfian_generator_follows_the_java_arithmetic() -> None:
    u = np.random.default_rng(1).random(2000)
    for items, zetan in ((1000, None), (ITEM_COUNT + 1, ZETAN)):
        g = ZipfianGenerator(items, 0.99, zetan)
        ref = [java_next_long(float(x), items, 0.99, g.zetan) for x in u]
        assert g.draw(u).tolist() == ref


def test_fnv_hash_matches_ycsb() -> None:
    vals = np.random.default_rng(2).integers(0, 2**62, 500, dtype=np.int64)
    vals[:3] = [0, 1, ITEM_COUNT]
    assert fnv1a_64(vals).tolist() == [java_fnvhash64(int(v)) for v in vals]


def test_zeta_and_the_precomputed_constant() -> None:
    assert zeta(2, 0.99) == pytest.approx(1 + 0.5 ** 0.99, rel=1e-15)
    i = np.arange(1, 3_000_001, dtype=np.float64)
    assert zeta(3_000_000, 0.7) == pytest.approx(float(np.sum(i ** -0.7)), rel=1e-12)
    assert zeta(ITEM_COUNT, 0.99) == pytest.approx(ZETAN, rel=1e-11)
    assert zeta(1000, 0.99) == pytest.approx(7.7290, abs=1e-4)  # anchors.md §5.2


def test_plain_zipfian_top_items_have_their_exact_probabilities() -> None:
    n, draws = 1000, 400_000
    w = make("ycsb_zipf", pages=n, streams=4, ycsb_scrambled=False, scatter=False)
    pages = np.concatenate([w.next_batch(s, draws // 4)[0] for s in range(4)])
    counts = np.bincount(pages, minlength=n)
    zn = zeta(n, 0.99)
    assert within(int(counts[0]), draws, 1 / zn)  # 0.1294
    assert within(int(counts[1]), draws, 0.5 ** 0.99 / zn)  # 0.0652
    assert counts[0] > counts[1] > counts[5] > counts[500]


def test_scrambled_zipfian_scatters_and_keeps_the_head() -> None:
    n, draws = 1000, 200_000
    w = make("ycsb_zipf", pages=n, streams=2, scatter=False)
    assert isinstance(w, YcsbZipfWorkload) and w.scrambled
    pages = np.concatenate([w.next_batch(s, draws // 2)[0] for s in range(2)])
    counts = np.bincount(pages, minlength=n)
    top = int(np.argmax(counts))
    assert top == java_fnvhash64(0) % n  # the Zipfian's item 0, hashed
    assert counts[top] >= draws / ZETAN - 5 * math.sqrt(draws / ZETAN)
    hottest = np.argsort(counts)[::-1][:10]
    assert not np.array_equal(np.sort(hottest), np.arange(10))  # not clustered at 0..9


def test_ycsb_theta_one_is_the_continuous_limit() -> None:
    u = np.random.default_rng(3).random(50_000)
    at_one = ZipfianGenerator(5000, 1.0).draw(u)
    near = ZipfianGenerator(5000, 1.0 - 1e-7).draw(u)
    assert np.mean(at_one == near) > 0.99
    high = ZipfianGenerator(5000, 3.0).draw(u)
    assert high.min() >= 0 and high.max() < 5000


# --- hotcold ------------------------------------------------------------------------------------
def test_hotcold_hot_share() -> None:
    w = make("hotcold", pages=2000, streams=2, hot_fraction=0.05, hot_access_fraction=0.8,
             scatter=False)
    assert isinstance(w, HotColdWorkload) and w.hot_pages == 100
    hot = set(w.hot_ranks(0).tolist())
    pages = np.concatenate([w.next_batch(s, 50_000)[0] for s in range(2)])
    in_hot = int(np.isin(pages, list(hot)).sum())
    assert within(in_hot, len(pages), 0.8)


def test_hotcold_hot_set_moves_each_phase_whatever_the_batches() -> None:
    kw = {"pages": 5000, "streams": 1, "hot_fraction": 0.02, "hot_access_fraction": 1.0,
          "phase_accesses": 1000, "scatter": True}
    w = make("hotcold", **kw)  # type: ignore[arg-type]
    assert isinstance(w, HotColdWorkload)
    sizes = [1, 999, 1500, 37, 2463]
    pages = np.concatenate([w.next_batch(0, n)[0] for n in sizes])
    assert len(pages) == 5000
    places = []
    for phase in range(5):
        hot_pages = w.page_of_rank(w.hot_ranks(phase))
        part = pages[phase * 1000:(phase + 1) * 1000]
        assert np.isin(part, hot_pages).all()
        places.append(frozenset(hot_pages.tolist()))
    assert len(set(places)) == 5  # it moved every time
    again = make("hotcold", **kw)  # type: ignore[arg-type]
    assert isinstance(again, HotColdWorkload)
    assert np.array_equal(again.hot_ranks(3), w.hot_ranks(3))


def test_hotcold_static_without_phases() -> None:
    w = make("hotcold", pages=1000, streams=1, hot_access_fraction=1.0, scatter=False)
    assert isinstance(w, HotColdWorkload)
    pages = w.next_batch(0, 20_000)[0]
    assert set(np.unique(pages).tolist()) <= set(w.hot_ranks(0).tolist())


# --- scan_mix -----------------------------------------------------------------------------------
def test_scan_mix_scans_periodically_and_in_address_order() -> None:
    w = make("scan_mix", pages=1000, streams=2, hot_fraction=0.2, scan_every=100,
             scan_pages=30, scatter=False)
    assert isinstance(w, ScanMixWorkload)
    cold = w.cold_set
    assert cold.tolist() == list(range(200, 1000))
    for s in (0, 1):
        pages = np.concatenate([w.next_batch(s, n)[0] for n in (7, 300, 1, 92, 1000)])
        idx = np.arange(len(pages))
        scan = idx % 130 >= 100
        assert (pages[~scan] < 200).all()  # hot touches stay in the hot set
        scanned = pages[scan]
        start = s * 800 // 2
        expect = cold[(start + np.arange(len(scanned))) % 800]
        assert np.array_equal(scanned, expect)  # one pass, continuing scan after scan


def test_scan_mix_with_scatter_keeps_scans_sorted() -> None:
    w = make("scan_mix", pages=4000, streams=1, footprint=0.5, hot_fraction=0.1,
             scan_every=50, theta=0.9)
    assert isinstance(w, ScanMixWorkload)
    assert np.all(np.diff(w.cold_set) > 0) and len(w.cold_set) == 1800
    assert not np.isin(w.hot_set, w.cold_set).any()
    pages = w.next_batch(0, 50 * 3 + 1800 * 3)[0]
    cycle = 50 + 1800
    first_scan = pages[50:cycle]
    assert np.array_equal(first_scan, w.cold_set)
    assert np.isin(pages[:50], w.hot_set).all()
    assert np.array_equal(pages[cycle + 50:2 * cycle], w.cold_set)  # the next full pass


# --- memstress ----------------------------------------------------------------------------------
def test_memstress_per_vcpu_slices_sequential() -> None:
    w = make("memstress", pages=1000, streams=4)
    assert isinstance(w, MemstressWorkload)
    slices = [w.slice_of(s) for s in range(4)]
    assert slices == [(0, 250), (250, 500), (500, 750), (750, 1000)]
    for s, (first, end) in enumerate(slices):
        pages = np.concatenate([w.next_batch(s, n)[0] for n in (100, 300, 200)])
        expect = first + np.arange(600) % (end - first)
        assert np.array_equal(pages, expect)  # every pass restarts at the slice's start


def test_memstress_overlap_and_random() -> None:
    w = make("memstress", pages=800, streams=3, overlap=True)
    for s in range(3):
        assert np.array_equal(w.next_batch(s, 1600)[0], np.arange(1600) % 800)
    r = make("memstress", pages=1000, streams=2, random_access=True)
    for s in range(2):
        pages = r.next_batch(s, 20_000)[0]
        assert pages.min() >= 500 * s and pages.max() < 500 * (s + 1)
        assert len(np.unique(pages)) > 490  # uniform over the slice
    tiny = make("memstress", pages=1000, streams=3, footprint=0.002)  # K = 2 < 3 vCPUs
    assert [int(tiny.next_batch(s, 3)[0][0]) for s in range(3)] == [0, 1, 0]


# --- trace --------------------------------------------------------------------------------------
RAW = np.array([900, 500, 900, 7, 500, 123, 7, 900, 42, 5000, 42, 7], dtype=np.int64)
FIRST_TOUCH = [0, 1, 0, 2, 1, 3, 2, 0, 4, 5, 4, 2]


def trace_file(tmp_path: Path, writes: bool = True, streams: bool = True) -> Path:
    path = tmp_path / "t.csv"
    lines = ["page,rw,cpu"]
    lines += [f"{p},{'w' if i % 3 == 0 else 'r'},{i % 4 + 10}" for i, p in enumerate(RAW)]
    if not writes:
        lines = [ln.split(",")[0] for ln in lines]
    elif not streams:
        lines = [",".join(ln.split(",")[:2]) for ln in lines]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_trace_round_robin_remapped_and_rewinding(tmp_path: Path) -> None:
    path = trace_file(tmp_path)
    for chunk in (1, 5, 65536):
        w = make("trace", pages=6, streams=3, trace=str(path), trace_chunk=chunk,
                 trace_rw_column="rw")
        assert isinstance(w, TraceWorkload) and w.records == 12
        for s in range(3):
            pages, writes = w.next_batch(s, 6)  # 4 records per stream: wraps once
            expect = np.array(FIRST_TOUCH[s::3] * 2)[:6]
            assert pages.tolist() == expect.tolist()
            assert writes.tolist() == [s == 0] * 6  # record i writes when i % 3 == 0
        assert w.passes == [1, 1, 1]


def test_trace_split_by_column(tmp_path: Path) -> None:
    w = make("trace", pages=10, streams=2, trace=str(trace_file(tmp_path)),
             trace_split="column", trace_stream_column="cpu")
    for s in range(2):
        pages = w.next_batch(s, 6)[0]
        mine = [FIRST_TOUCH[i] for i in range(12) if (i % 4 + 10) % 2 == s]
        assert pages.tolist() == mine


def test_trace_sorted_remap_keeps_address_order(tmp_path: Path) -> None:
    w = make("trace", pages=6, streams=1, trace=str(trace_file(tmp_path)),
             trace_remap="sorted")
    order = {v: i for i, v in enumerate(sorted(set(RAW.tolist())))}
    assert w.next_batch(0, 12)[0].tolist() == [order[int(p)] for p in RAW]


def test_trace_without_write_flags_uses_write_fraction(tmp_path: Path) -> None:
    path = trace_file(tmp_path, writes=False)
    w0 = make("trace", pages=6, streams=1, trace=str(path), write_fraction=0.0)
    w1 = make("trace", pages=6, streams=1, trace=str(path), write_fraction=1.0)
    p0, f0 = w0.next_batch(0, 1000)
    p1, f1 = w1.next_batch(0, 1000)
    assert np.array_equal(p0, p1) and not f0.any() and f1.all()


def test_trace_contract(tmp_path: Path) -> None:
    w = make("trace", pages=100, streams=2, trace=str(trace_file(tmp_path)))
    pages, writes = w.next_batch(1, 0)
    assert pages.dtype == np.int64 and writes.dtype == np.bool_ and len(pages) == 0
    pages, writes = w.next_batch(0, 37)
    assert len(pages) == len(writes) == 37 and pages.max() < 100
    with pytest.raises(ValueError, match="out of range"):
        w.next_batch(2, 1)
    again = make("trace", pages=100, streams=2, trace=str(trace_file(tmp_path)))
    assert np.array_equal(again.next_batch(0, 37)[0], pages)


def test_trace_bad_setups(tmp_path: Path) -> None:
    path = trace_file(tmp_path)
    with pytest.raises(TraceError, match="6 distinct pages do not fit a region of 5 pages"):
        make("trace", pages=5, streams=1, trace=str(path))
    with pytest.raises(TraceError, match="needs a trace file"):
        make("trace", pages=5, streams=1)
    with pytest.raises(TraceError, match="feeds 4 of 8 streams"):
        make("trace", pages=6, streams=8, trace=str(path), trace_split="column",
             trace_stream_column="cpu")
    with pytest.raises(TraceError, match="needs a stream column"):
        make("trace", pages=6, streams=2, trace=str(trace_file(tmp_path, streams=False)),
             trace_split="column")
    with pytest.raises(TraceError, match="cannot feed 13 streams"):
        make("trace", pages=6, streams=13, trace=str(path))


def test_sizing_helpers(tmp_path: Path) -> None:
    cfg = WorkloadConfig(kind="trace", trace=str(trace_file(tmp_path)))
    assert required_pages(cfg) == 6
    assert required_memory(cfg) == 2 * 2**20
    assert required_memory(cfg, granule=4096) == 6 * 4096


def test_trace_streams_far_apart_read_the_right_records(tmp_path: Path) -> None:
    """One stream many passes ahead, one far behind (past the shared chunk cache), one in
    between, in tiny chunks: each still gets exactly its own records, in order, wrapping."""
    path = trace_file(tmp_path)
    w = make("trace", pages=6, streams=3, trace=str(path), trace_chunk=2)
    expect = {s: np.array(FIRST_TOUCH[s::3]) for s in range(3)}
    got: dict[int, list[int]] = {s: [] for s in range(3)}
    for s, n in ((0, 41), (2, 3), (0, 17), (1, 9), (2, 30), (1, 1), (0, 2), (2, 1)):
        got[s] += w.next_batch(s, n)[0].tolist()
    for s in range(3):
        n = len(got[s])
        assert got[s] == np.resize(expect[s], n).tolist()

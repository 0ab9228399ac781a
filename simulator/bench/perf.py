"""Suite ``perf``: the measurements behind the performance targets (DESIGN §7, issue 8).

1. **Trace replay** (``trace_<name>``): accesses per wall second of the simulator replaying a
   trace in a host-only run (``scenarios/perf/trace_replay.toml``, the ``trace`` workload) with
   the exact ``lru`` policy and with MGLRU, and of libCacheSim's C LRU (the optional ``peer``
   extra, ``import libcachesim``) on the same trace, the same cache size (in pages) and the same
   number of requests (the simulator stops on simulated time, so the peer replays exactly as
   many requests as the simulator did, wrapping around the trace the same way). All three run
   in one process, one after the other. Traces: the real CloudPhysics block trace of
   ``data/`` of the repository and a generated 1M-request zipf(1.0) trace over 100k
   objects (the trace libCacheSim's own throughput figures use).
2. **Aging pass** (``aging_1m_<design>``): wall time of one forced aging iteration over a
   1M-page guest (``scenarios/perf/aging_1m.toml``), for the upstream ``per_page`` design (the
   target) and, for comparison, ``bitmap`` and ``blind``.
3. **Kernel-scale guest** (``guest_64g``): ``scenarios/perf/guest_64g.toml`` (64 GiB, 32 vCPUs,
   10 simulated seconds): wall time and peak memory of the whole run.
4. **Miss-ratio curve** (``mrc_cloudphysics``): what ``mglru-sim mrc`` does for
   :data:`MRC_SIZES` (20 cache sizes) of the CloudPhysics trace: one read, one Mattson pass, and
   one MGLRU replay per size, two at a time (the machine's cores).

Every case runs in its own fresh process, one at a time (so they do not slow each other).
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simulator.bench.compare import BenchResults, Target, environment, now_utc
from simulator.bench.metrics import CaseResult, Stopwatch, measure_scenario, run_isolated
from simulator.config.bundled import bundled_dir
from simulator.output import atomic_write
from simulator.traces.samples import CLOUDPHYSICS_TRACE

PERF_SCENARIOS = bundled_dir("perf")
TRACE_SCENARIO = PERF_SCENARIOS / "trace_replay.toml"
AGING_SCENARIO = PERF_SCENARIOS / "aging_1m.toml"
GUEST_SCENARIO = PERF_SCENARIOS / "guest_64g.toml"

PEER_HASHPOWER = 17
"""libCacheSim hash table size (2^17 buckets): its default (24) is ~5x slower on small traces
(research/anchors.md §1.4); we give the peer its best setting."""
PEER_MISSING = "peer not installed (pip install -e '.[peer]')"

MRC_SIZES = ",".join(f"{i / 40:g}" for i in range(1, 21))
"""2.5 % to 50 % of the distinct pages, 20 sizes."""
MRC_JOBS = 2

ZIPF_REQUESTS = 1_000_000
ZIPF_OBJECTS = 100_000
ZIPF_ALPHA = 1.0
ZIPF_SEED = 20240601


@dataclass(frozen=True, slots=True)
class TraceCase:
    """A trace to replay: the file, the cache size and how long each policy replays it."""

    name: str
    path: str
    cache_pages: int
    duration_ms: dict[str, float]
    """Simulated time per policy, chosen to replay about one pass with ``lru`` and at least
    100k requests with ``mglru``."""


# --- trace files ----------------------------------------------------------------------------
def find_cloudphysics() -> Path | None:
    """The repository's ``data/cloudPhysicsIO.oracleGeneral.bin``, if this checkout has it
    (an installed package without the repository does not)."""
    return CLOUDPHYSICS_TRACE if CLOUDPHYSICS_TRACE.is_file() else None


def write_zipf_trace(path: Path, requests: int = ZIPF_REQUESTS, objects: int = ZIPF_OBJECTS,
                     alpha: float = ZIPF_ALPHA, seed: int = ZIPF_SEED) -> Path:
    """A libCacheSim ``oracleGeneral`` file of ``requests`` zipf(``alpha``) draws over
    ``objects`` ids (exact inverse CDF, seeded; ``next_access_vtime`` filled in)."""
    from simulator.traces.oracle import RECORD
    from workloads.zipf import zipf_cdf

    rng = np.random.default_rng(seed)
    cdf = zipf_cdf(objects, alpha)
    ids = np.searchsorted(cdf, rng.random(requests), side="right").astype(np.uint64) + 1
    rec = np.zeros(requests, dtype=RECORD)
    rec["ts"] = np.arange(requests, dtype=np.uint32) // 1000
    rec["id"] = ids
    rec["sz"] = 4096
    order = np.argsort(ids, kind="stable")
    nxt = np.full(requests, -1, dtype=np.int64)
    same = ids[order[1:]] == ids[order[:-1]]
    nxt[order[:-1][same]] = order[1:][same]
    rec["nv"] = nxt
    return atomic_write(path, rec.tofile)


# --- trace replay ---------------------------------------------------------------------------
def _replay_overrides(case: TraceCase, policy: str) -> list[str]:
    from simulator.config import WorkloadConfig
    from workloads.trace import required_memory

    need = required_memory(WorkloadConfig(kind="trace", trace=case.path))
    return [f"task.workload.trace={case.path}", f"task.memory={need}",
            f"host.memory={case.cache_pages * 4096}", f"host.policy={policy}",
            f"sim.duration_ms={case.duration_ms[policy]}"]


def _sim_replay(case: TraceCase, policy: str) -> dict[str, Any]:
    from simulator.config import load_scenario
    from simulator.runner import simulate

    sc = load_scenario(TRACE_SCENARIO, _replay_overrides(case, policy))
    with Stopwatch() as sw:
        summary = simulate(sc).summary
    n = int(summary["accesses"])
    return {"accesses": n, "miss_ratio": float(summary["miss_ratio"]), "wall_s": sw.wall_s,
            "cpu_s": sw.cpu_s, "rate": n / sw.wall_s, "evictions": int(summary["evictions"]),
            "aging_passes": int(summary["aging_passes"])}


def peer_available() -> bool:
    try:
        import libcachesim  # noqa: F401
    except ImportError:
        return False
    return True


def peer_lru(path: str, cache_pages: int, requests: int, repeats: int = 5) -> dict[str, float]:
    """libCacheSim's LRU over the first ``requests`` requests of ``path`` (wrapping around),
    objects counted as one page each; the best of ``repeats`` timed runs after one warm-up."""
    import libcachesim as lcs

    param = lcs.ReaderInitParam()
    param.ignore_obj_size = True
    reader = lcs.TraceReader(path, lcs.TraceType.ORACLE_GENERAL_TRACE, param)
    length = int(reader.get_num_of_req())

    def replay() -> float:
        cache = lcs.LRU(cache_pages, hashpower=PEER_HASHPOWER)
        misses, left = 0.0, requests
        while left > 0:
            n = min(left, length)
            ratio, _ = cache.process_trace(reader, start_req=0, max_req=n)
            misses += ratio * n
            left -= n
        return misses / requests

    replay()  # warm-up: the first read of a file is slower (page cache)
    times, miss = [], 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        miss = replay()
        times.append(time.perf_counter() - t0)
    best = min(times)
    return {"accesses": float(requests), "miss_ratio": miss, "wall_s": best,
            "rate": requests / best}


def measure_trace(case: TraceCase) -> CaseResult:
    """The three replays of one trace, in this process (run it in a fresh one)."""
    det: dict[str, Any] = {"cache_pages": case.cache_pages}
    perf: dict[str, float] = {}
    info: dict[str, Any] = {"trace": case.path}
    sims = {policy: _sim_replay(case, policy) for policy in ("lru", "mglru")}
    for policy, r in sims.items():
        det[f"{policy}_accesses"] = r["accesses"]
        det[f"{policy}_miss_ratio"] = r["miss_ratio"]
        perf[f"{policy}_accesses_per_wall_s"] = r["rate"]
        perf[f"{policy}_wall_time_s"] = r["wall_s"]
        perf[f"{policy}_cpu_time_s"] = r["cpu_s"]
    det["mglru_evictions"] = sims["mglru"]["evictions"]
    det["mglru_aging_passes"] = sims["mglru"]["aging_passes"]
    if peer_available():
        for policy, r in sims.items():
            peer = peer_lru(case.path, case.cache_pages, r["accesses"])
            perf[f"peer_lru_accesses_per_wall_s_{policy}_n"] = peer["rate"]
            perf[f"{policy}_ratio_vs_peer"] = r["rate"] / peer["rate"]
            if policy == "lru":
                # the same requests through two exact LRUs: the miss ratios must agree
                det["peer_lru_miss_ratio"] = round(peer["miss_ratio"], 9)
                det["lru_matches_peer"] = math.isclose(peer["miss_ratio"], r["miss_ratio"],
                                                       abs_tol=1e-9)
    else:
        info["peer"] = PEER_MISSING
    return CaseResult(name=f"trace_{case.name}", source=str(TRACE_SCENARIO),
                      deterministic=det, performance=perf, info=info)


# --- aging pass -----------------------------------------------------------------------------
def measure_aging(design: str, repeats: int = 5) -> CaseResult:
    """One forced aging pass over every page of the ``aging_1m`` guest, ``repeats`` times.

    Passes 3 and later also empty the oldest generation (``inc_min_seq`` over the 1M folios
    that all sit there), as a pass does whenever four generations are live; the median is
    therefore such a pass, and the minimum one without it.
    """
    from simulator.config import load_scenario
    from simulator.machine import Machine

    sc = load_scenario(AGING_SCENARIO, [f"mglru.notifier={design}"])
    m = Machine(sc)
    vm = m.vms[0]
    pages = np.arange(vm.region.start, vm.region.end, dtype=np.int64)
    no_writes = np.zeros(len(pages), dtype=bool)
    policy = m.mglru()
    policy.fault_in(pages, no_writes)
    vm.backend.sptes.map(pages, no_writes)
    rng = np.random.default_rng(sc.sim.seed)
    walls: list[float] = []
    cpus: list[float] = []
    first: dict[str, Any] = {}
    with Stopwatch() as sw:
        for i in range(repeats):
            m.host.pt.young[pages] = False  # guest accesses set only the secondary A bits
            vm.backend.sptes.young[pages] = rng.random(len(pages)) < 0.5
            m.host.truth.record_access(pages[vm.backend.sptes.young[pages]])
            c0, t0 = time.process_time(), time.perf_counter()
            walker = policy.aging.try_to_inc_max_seq(policy.lruvec.max_seq, True, m.now)
            while True:
                try:
                    next(walker)
                except StopIteration as stop:
                    result = stop.value
                    break
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
            if i == 0:
                first = {"pages": len(pages), "ptes_scanned": result.stats.leaf_total,
                         "ptes_young": result.stats.leaf_young, "promoted": result.promoted,
                         "first_sightings": result.first_sightings,
                         "notifier_calls": result.work.notifier_calls,
                         "success": bool(result.success)}
    perf = {"pass_wall_ms_min": min(walls) * 1e3,
            "pass_wall_ms_median": statistics.median(walls) * 1e3,
            "pass_wall_ms_max": max(walls) * 1e3,
            "pass_cpu_ms_median": statistics.median(cpus) * 1e3,
            "peak_rss_mib": sw.peak_rss_mib}
    return CaseResult(name=f"aging_1m_{design}", source=str(AGING_SCENARIO),
                      deterministic=first, performance=perf, info={"repeats": repeats})


# --- miss-ratio curve -----------------------------------------------------------------------
def measure_mrc(path: str, sizes: str = MRC_SIZES, jobs: int = MRC_JOBS) -> CaseResult:
    """``mglru-sim mrc`` without the figure: read, Mattson, one MGLRU replay per size."""
    from simulator.mrc import lru_miss_ratios, mglru_replays, read_trace

    with Stopwatch() as sw:
        tp = read_trace(Path(path), "auto", [], sizes)
        lru, mattson_s = lru_miss_ratios(tp.pages, tp.sizes)
        replays, _ = mglru_replays(tp, jobs)
    mglru = [replays[s].miss_ratio for s in tp.sizes]
    det: dict[str, Any] = {"sizes": len(tp.sizes), "records": tp.records,
                           "lru_miss_ratio_mean": round(float(np.mean(lru)), 9),
                           "mglru_miss_ratio_mean": round(float(np.mean(mglru)), 9)}
    perf = {"wall_time_s": sw.wall_s, "mattson_s": mattson_s,
            "replay_accesses_per_wall_s": sum(r.accesses for r in replays.values()) / sw.wall_s,
            "peak_rss_mib": sw.peak_rss_mib}
    return CaseResult(name="mrc_cloudphysics", source=path, deterministic=det,
                      performance=perf, info={"jobs": jobs})


# --- the suite ------------------------------------------------------------------------------
def trace_cases(workdir: Path, cloudphysics: Path | None) -> list[TraceCase]:
    cases = []
    if cloudphysics is not None:
        # 10 % of the 48,974 distinct blocks; the published exact-LRU miss ratio is 0.804913
        cases.append(TraceCase("cloudphysics", str(cloudphysics), 4897,
                               {"lru": 1100.0, "mglru": 1000.0}))
    zipf = write_zipf_trace(workdir / "zipf1m.oracleGeneral.bin")
    cases.append(TraceCase("zipf1m", str(zipf), 10_000, {"lru": 2000.0, "mglru": 300.0}))
    return cases


def guest_case(overrides: Sequence[str] = ()) -> CaseResult:
    """The 64 GiB guest; its target is the absolute peak RSS (imports included)."""
    return measure_scenario("guest_64g", str(GUEST_SCENARIO), overrides)


def run_perf(only: Sequence[str] = (), guest_overrides: Sequence[str] = (),
             trace: Path | None = None,
             progress: Callable[[str], None] | None = None) -> BenchResults:
    """Run the perf suite (``only``: a subset of trace, mrc, aging, guest)."""
    parts = set(only) or {"trace", "mrc", "aging", "guest"}
    cases: list[CaseResult] = []
    notes: list[str] = []

    def say(res: CaseResult) -> None:
        cases.append(res)
        if progress is not None:
            progress(f"  {res.name} done")

    with tempfile.TemporaryDirectory(prefix="mglru-bench-") as tmp:
        if "trace" in parts:
            cp = trace or find_cloudphysics()
            if cp is None:
                notes.append(f"{CLOUDPHYSICS_TRACE} not found (no repository checkout): "
                             "replayed the generated zipf trace only")
            if not peer_available():
                notes.append(f"libCacheSim: {PEER_MISSING}; ratios not measured")
            for tc in trace_cases(Path(tmp), cp):
                run_isolated(measure_trace, [(tc,)], on_done=lambda _i, r: say(r))
        if "mrc" in parts:
            cp = trace or find_cloudphysics()
            if cp is not None:
                run_isolated(measure_mrc, [(str(cp),)], on_done=lambda _i, r: say(r))
        if "aging" in parts:
            for design in ("per_page", "bitmap", "blind"):
                run_isolated(measure_aging, [(design,)], on_done=lambda _i, r: say(r))
        if "guest" in parts:
            run_isolated(guest_case, [(list(guest_overrides),)],
                         on_done=lambda _i, r: say(r))
    results = BenchResults(suite="perf", cases={c.name: c for c in cases},
                           environment=environment(), created_utc=now_utc(), notes=notes)
    results.targets = targets(results)
    return results


def targets(results: BenchResults) -> list[Target]:
    """The issue-16 targets, evaluated on whatever cases ran."""
    out: list[Target] = []
    for name, case in sorted(results.cases.items()):
        p = case.performance
        if name.startswith("trace_"):
            trace = name.removeprefix("trace_")
            note = "" if "mglru_ratio_vs_peer" in p else PEER_MISSING
            # MGLRU's accesses only set A bits: at least as fast as an LRU that splices a list
            # on every hit, and twice as fast on the hit-heavy zipf trace
            out.append(Target(f"{trace}: MGLRU replay / libCacheSim LRU", p.get(
                "mglru_ratio_vs_peer"), 2.0 if trace == "zipf1m" else 1.0, "x", True, note))
            out.append(Target(f"{trace}: exact lru replay / libCacheSim LRU", p.get(
                "lru_ratio_vs_peer"), 1.0, "x", True, note))
        elif name in ("aging_1m_per_page", "aging_1m_bitmap"):
            design = name.removeprefix("aging_1m_")
            out.append(Target(f"aging pass over 1M guest pages ({design})",
                              p.get("pass_wall_ms_median"), 10.0, "ms", False))
        elif name == "mrc_cloudphysics":
            out.append(Target(f"mrc, {case.deterministic.get('sizes', 0)} sizes of "
                              "CloudPhysics, MGLRU column included",
                              p.get("wall_time_s"), 10.0, "s", False))
        elif name == "guest_64g":
            out.append(Target("64 GiB / 32 vCPU / 10 s guest: wall time",
                              p.get("wall_time_s"), 5.0, "s", False,
                              f"{case.deterministic.get('accesses', 0):,} accesses"))
            out.append(Target("64 GiB / 32 vCPU / 10 s guest: peak memory",
                              p.get("peak_rss_mib"), 1024.0, "MiB", False))
    return out


__all__ = ["MRC_SIZES", "TraceCase", "find_cloudphysics", "measure_aging", "measure_mrc",
           "measure_trace", "peer_available",
           "peer_lru", "run_perf", "targets", "write_zipf_trace"]

"""``mglru-sim bench``: the gating rules, the outputs, the baseline file, the ci suite, and the
exactness of the performance work (the zipf guide table)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from simulator.bench import metrics as bench_metrics
from simulator.bench.compare import (
    BenchResults,
    Target,
    compare,
    load_results,
    write_json_atomic,
)
from simulator.bench.metrics import CaseResult, split_summary
from simulator.bench.perf import targets
from simulator.bench.report import comparison_text, markdown, verdict
from simulator.bench.suites import CI_SCENARIOS, ci_cases, run_ci
from simulator.cli import main
from simulator.config import load_scenario
from workloads.zipf import InverseCdf, zipf_cdf

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "results" / "baselines" / "ci.json"

TINY = """\
name = "tiny"
[sim]
duration_ms = 20
seed = 3
lru_gen_snapshots = 1
[host]
memory = "2MiB"
[vm]
enabled = false
[task]
memory = "4MiB"
quantum_accesses = 256
[task.workload]
kind = "zipf"
theta = 0.8
think_ns = 100
"""


def results(det: dict[str, Any], perf: dict[str, float] | None = None,
            name: str = "case") -> BenchResults:
    case = CaseResult(name, "x.toml", dict(det), dict(perf or {"wall_time_s": 1.0}),
                      {"run_id": "abc"})
    return BenchResults("ci", {name: case})


# --- the gating rules -----------------------------------------------------------------------
def test_unchanged_metrics_pass() -> None:
    base = results({"evictions": 100, "young_f1": 0.9, "backend": "x86_tdp", "notifier": None})
    cmp = compare(base, results(dict(base.cases["case"].deterministic)))
    assert not cmp.failed
    assert {r.status for r in cmp.rows if r.kind == "deterministic"} == {"ok"}


def test_an_exact_count_moving_by_one_fails_at_the_default_tolerance() -> None:
    cmp = compare(results({"evictions": 100}), results({"evictions": 101}))
    assert cmp.failed
    (row,) = cmp.failures
    assert (row.metric, row.baseline, row.now, row.status) == ("evictions", 100, 101, "CHANGED")
    assert row.change == pytest.approx(0.01)


def test_a_move_within_the_tolerance_passes_and_beyond_it_fails() -> None:
    base = results({"evictions": 1000})
    assert not compare(base, results({"evictions": 1010}), tolerance_pct=1.0).failed
    assert compare(base, results({"evictions": 1011}), tolerance_pct=1.0).failed
    row = compare(base, results({"evictions": 1010}), tolerance_pct=1.0).rows[0]
    assert row.status == "within"


def test_floats_pass_rounding_noise_only() -> None:
    base = results({"aging_pass_mean_ns": 6158339.25})
    assert not compare(base, results({"aging_pass_mean_ns": 6158339.25 * (1 + 1e-12)})).failed
    assert compare(base, results({"aging_pass_mean_ns": 6158339.25 * (1 + 1e-6)})).failed


@pytest.mark.parametrize(("old", "new"), [("x86_tdp", "arm64"), (None, 0), (True, False),
                                          (0, None)])
def test_strings_booleans_and_none_must_be_equal(old: Any, new: Any) -> None:
    assert compare(results({"m": old}), results({"m": new}), tolerance_pct=50.0).failed


def test_a_vanished_metric_fails_and_a_new_one_passes() -> None:
    cmp = compare(results({"a": 1, "b": 2}), results({"a": 1, "c": 3}))
    status = {r.metric: (r.status, r.fails) for r in cmp.rows if r.kind == "deterministic"}
    assert status == {"a": ("ok", False), "c": ("new", False), "b": ("MISSING", True)}


def test_performance_never_gates_without_perf_gate() -> None:
    base = results({"n": 1}, {"wall_time_s": 1.0, "accesses_per_wall_s": 1e6})
    slow = results({"n": 1}, {"wall_time_s": 10.0, "accesses_per_wall_s": 1e5})
    assert not compare(base, slow).failed
    gated = compare(base, slow, perf_gate=True, perf_tolerance_pct=25.0)
    assert {r.metric for r in gated.failures} == {"wall_time_s", "accesses_per_wall_s"}
    fast = results({"n": 1}, {"wall_time_s": 0.5, "accesses_per_wall_s": 2e6})
    assert not compare(base, fast, perf_gate=True).failed
    within = results({"n": 1}, {"wall_time_s": 1.2, "accesses_per_wall_s": 0.9e6})
    assert not compare(base, within, perf_gate=True, perf_tolerance_pct=25.0).failed


def test_a_baseline_case_that_did_not_run_fails_unless_excluded_with_only() -> None:
    base = BenchResults("ci", {**results({"n": 1}, name="a").cases,
                               **results({"n": 1}, name="b").cases})
    now = results({"n": 1}, name="a")
    assert compare(base, now).missing_cases == ["b"]
    assert not compare(base, now, only=frozenset({"a"})).failed


def test_the_summary_is_split_into_gated_metrics_and_identity() -> None:
    det, info = split_summary({"run_id": "r", "scenario": "s", "wall_time_s": 1.0,
                               "accesses_per_wall_s": 2.0, "evictions": np.int64(3),
                               "young_f1": float("nan")})
    assert det == {"evictions": 3, "young_f1": None}
    assert type(det["evictions"]) is int
    assert info == {"run_id": "r", "scenario": "s"}


# --- outputs --------------------------------------------------------------------------------
def test_the_table_shows_every_metric_with_baseline_now_and_change() -> None:
    base = results({"evictions": 100, "backend": "x86_tdp"}, {"wall_time_s": 2.0})
    now = results({"evictions": 110, "backend": "x86_tdp"}, {"wall_time_s": 1.0})
    cmp = compare(base, now)
    text = comparison_text(cmp)
    lines = {ln.split()[1]: ln.split() for ln in text.splitlines()[2:]}
    assert lines["evictions"][2:] == ["det", "100", "110", "+10.00%", "CHANGED"]
    assert lines["backend"][2:] == ["det", "x86_tdp", "x86_tdp", "=", "ok"]
    assert lines["wall_time_s"][2:] == ["perf", "2", "1", "-50.00%", "faster"]
    assert lines["run_id"][2] == "info"
    out = verdict(cmp, now, has_baseline=True)
    assert "FAIL: case.evictions moved beyond the tolerance of the baseline: 100 -> 110" in out
    assert out.endswith("REGRESSION (exit 1)")
    md = markdown(cmp, now, has_baseline=True)
    assert "| case | evictions | det | 100 | 110 | +10.00% | CHANGED |" in md


def test_json_round_trips_every_value(tmp_path: Path) -> None:
    res = results({"i": 3, "f": 0.1 + 0.2, "s": "x", "b": True, "n": None})
    res.targets = [Target("t", 1.5, 1.0, "x", True)]
    path = write_json_atomic(tmp_path / "r.json", res.to_json())
    back = load_results(path)
    assert back.cases["case"].deterministic == res.cases["case"].deterministic
    assert back.targets[0].met is True
    assert not compare(res, back).failed


def test_baseline_writes_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ci.json"
    write_json_atomic(path, {"v": 1})

    def broken_fsync(_fd: int) -> None:  # the temporary file is written, then this fails
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        write_json_atomic(path, {"v": 2})
    assert json.loads(path.read_text()) == {"v": 1}  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ci.json"]  # no temporary left


def test_targets_are_met_or_not_and_na_without_a_value() -> None:
    res = BenchResults("perf", {
        "aging_1m_per_page": CaseResult("aging_1m_per_page", "", {},
                                        {"pass_wall_ms_median": 12.0}),
        "aging_1m_bitmap": CaseResult("aging_1m_bitmap", "", {},
                                      {"pass_wall_ms_median": 9.5}),
        "trace_x": CaseResult("trace_x", "", {}, {"lru_ratio_vs_peer": 1.2}),
        "trace_zipf1m": CaseResult("trace_zipf1m", "", {}, {"lru_ratio_vs_peer": 0.9,
                                                           "mglru_ratio_vs_peer": 1.5}),
        "mrc_cloudphysics": CaseResult("mrc_cloudphysics", "", {"sizes": 20},
                                       {"wall_time_s": 9.0}),
    })
    got = {t.name: t.met for t in targets(res)}
    assert got == {"aging pass over 1M guest pages (per_page)": False,
                   "aging pass over 1M guest pages (bitmap)": True,
                   "mrc, 20 sizes of CloudPhysics, MGLRU column included": True,
                   "x: MGLRU replay / libCacheSim LRU": None,
                   "x: exact lru replay / libCacheSim LRU": True,
                   # zipf: MGLRU must be twice as fast as the peer, 1.5x is not enough
                   "zipf1m: MGLRU replay / libCacheSim LRU": False,
                   "zipf1m: exact lru replay / libCacheSim LRU": False}


# --- the command, end to end ----------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("suite")
    (folder / "tiny.toml").write_text(TINY)
    return folder


def test_bench_cli_update_compare_and_regression(tiny_suite: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "baselines" / "ci.json"
    args = ["bench", "--scenarios", str(tiny_suite), "--baseline", str(base)]
    assert main([*args, "--update-baseline"]) == 0
    assert load_results(base).cases["tiny"].deterministic["accesses"] > 0
    capsys.readouterr()
    # the same model again: every deterministic metric identical, exit 0
    out_json, out_md = tmp_path / "r.json", tmp_path / "r.md"
    assert main([*args, "--json", str(out_json), "--markdown", str(out_md)]) == 0
    assert "result: ok" in capsys.readouterr().out
    doc = json.loads(out_json.read_text())
    assert doc["comparison"]["exit_code"] == 0
    assert {r["status"] for r in doc["comparison"]["rows"] if r["kind"] == "deterministic"} \
        == {"ok"}
    assert "## Metrics" in out_md.read_text()
    # a deliberately changed model constant: exit 1 and a readable table of what moved
    assert main([*args, "--set", "costs.fault_first_touch_ns=5000", "--changes-only"]) == 1
    out = capsys.readouterr().out
    assert "CHANGED" in out and "FAIL: tiny." in out and "REGRESSION (exit 1)" in out
    changed = {ln.split()[1] for ln in out.splitlines() if ln.endswith("CHANGED")}
    assert {"accesses", "faults_first_touch"} <= changed


def test_bench_cli_bad_baseline_is_bad_input(tiny_suite: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["bench", "--scenarios", str(tiny_suite), "--baseline", str(bad)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    missing = tmp_path / "nope.json"
    assert main(["bench", "--scenarios", str(tiny_suite), "--baseline", str(missing)]) == 2
    assert main(["bench", "--scenarios", str(tiny_suite), "--only", "nope"]) == 2


# --- the ci suite ---------------------------------------------------------------------------
def test_ci_scenarios_validate_and_cover_the_brief() -> None:
    cases = ci_cases(ROOT / CI_SCENARIOS)
    scs = [load_scenario(c.path) for c in cases]
    assert len({c.name for c in cases}) == len(cases) >= 9
    vms = [(sc, vm) for sc in scs for _, vm, _ in sc.all_vms()]
    have = {(vm.backend, sc.mglru.notifier, vm.aging_lock, vm.hw_af) for sc, vm in vms}
    assert ("x86_tdp", "per_page", "none", True) in have       # default-like, lockless
    assert ("x86_tdp", "per_page", "write", True) in have      # write vs none lock
    assert any(n == "blind" for _, n, _, _ in have)
    assert ("x86_tdp", "bitmap", "none", True) in have         # bitmap on a fast backend
    assert ("arm64", "bitmap", "write", True) in have          # ... and on a non-fast one
    assert any(b == "arm64" and not af for b, _, _, af in have)
    assert any(not sc.all_vms() and sc.task_pages for sc in scs)       # host-only
    assert any(len(sc.all_vms()) > 1 for sc in scs)                     # [vms.NAME]
    assert {sc.host.policy for sc in scs} == {"mglru", "classic", "lru"}
    assert {"6.1", "6.11", "6.12", "6.14", "6.15", "v3", "v7"} <= {sc.kernel.release for sc in scs}
    assert any(sc.host.node_memory for sc in scs)                       # kswapd
    assert any(sc.host.proactive_reclaim for sc in scs)                 # memory.reclaim
    assert all(sc.host_pages < sc.guest_pages + sc.task_pages for sc in scs)  # under pressure


def test_the_committed_baseline_covers_the_ci_suite() -> None:
    base = load_results(BASELINE)
    assert base.suite == "ci"
    assert set(base.cases) == {c.name for c in ci_cases(ROOT / CI_SCENARIOS)}
    for case in base.cases.values():
        assert case.deterministic["accesses"] > 0
        assert {"wall_time_s", "cpu_time_s", "peak_rss_mib"} <= set(case.performance)


def test_two_runs_of_a_ci_scenario_give_identical_deterministic_metrics() -> None:
    """Each run is its own process (own string-hash seed), as in CI."""
    (case,) = ci_cases(ROOT / CI_SCENARIOS, ["ci_host_only"])
    first = run_ci([case, case], jobs=2)
    second = run_ci([case], jobs=1)
    a = first.cases["ci_host_only"].deterministic
    assert a == second.cases["ci_host_only"].deterministic
    assert a["evictions"] > 0 and a["aging_passes"] > 0


def test_measure_scenario_reports_the_performance_figures() -> None:
    res = bench_metrics.measure_scenario("tiny", str(ROOT / CI_SCENARIOS / "policy_lru.toml"),
                                         ["sim.duration_ms=5"])
    assert res.performance["wall_time_s"] > 0
    assert res.performance["accesses_per_wall_s"] > 0
    assert res.performance["peak_rss_mib"] >= res.performance["peak_rss_delta_mib"] >= 0


# --- performance work keeps exact semantics ---------------------------------------------------
@pytest.mark.parametrize("k", [1, 1000, 1 << 12, 5000, (1 << 16) + 7, 300_001])
@pytest.mark.parametrize("theta", [0.0, 0.99, 1.0, 3.0])
def test_zipf_guide_table_is_exactly_searchsorted(k: int, theta: float) -> None:
    cdf = zipf_cdf(k, theta)
    lookup = InverseCdf(cdf)
    rng = np.random.default_rng(k)
    idx = rng.integers(0, k, 2000)
    u = [rng.random(5000), cdf[idx], np.nextafter(cdf[idx], 0.0), np.nextafter(cdf[idx], 2.0),
         np.array([0.0, np.nextafter(1.0, 0.0)])]
    if lookup.m:  # the guide table's slice boundaries and their neighbours
        j = rng.integers(0, lookup.m, 2000)
        u += [j / lookup.m, np.nextafter((j + 1) / lookup.m, 0.0)]
    x = np.concatenate(u)
    x = x[x < 1.0]
    assert np.array_equal(lookup(x), np.searchsorted(cdf, x, side="right"))


# --- benchmarks (excluded from `make test`; run with -m benchmark) ----------------------------
@pytest.mark.benchmark
def test_benchmark_aging_pass_over_1m_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    from simulator.bench.perf import AGING_SCENARIO, measure_aging

    monkeypatch.chdir(ROOT)
    assert AGING_SCENARIO.exists()
    res = measure_aging("per_page", repeats=3)
    assert res.deterministic["ptes_scanned"] == 1 << 20
    print(f"aging pass over 1M pages: {res.performance['pass_wall_ms_median']:.1f} ms")

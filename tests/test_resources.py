"""The resource guard: each command's memory estimate bounds what it really allocates, and a
command that would not fit is refused with the estimate and the limit, before it allocates.

The grid below runs every command's work in this process under ``tracemalloc`` (numpy reports
its arrays to it) and checks that the traced peak stays below the estimate (less the
interpreter's base, which tracemalloc does not see); one run in a fresh process checks the
base too, against its peak resident set size. ``python tests/test_resources.py`` prints the
table (estimate and peak per case).
"""

from __future__ import annotations

import gc
import resource
import subprocess
import sys
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from simulator.cli import main
from simulator.config import Scenario, load_scenario, scenario_from_dict
from simulator.machine import Machine
from simulator.output.run_folder import run_result, write_run
from simulator.resources import (
    BASE_BYTES,
    Estimate,
    ResourceError,
    cgroup_limit,
    check,
    estimate,
    memory_limits,
    mrc_driver_estimate,
    selftest_estimate,
    sweep_driver_bytes,
    text_fields,
    trace_estimate,
    trace_records_bound,
)
from simulator.resources.limits import Limit

ROOT = Path(__file__).resolve().parents[1]


def traced_peak(work: Callable[[], object]) -> int:
    """The peak of traced allocations while ``work`` runs (after a warm-up of imports)."""
    gc.collect()
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _run_and_write(sc: Scenario) -> None:
    result = run_result(Machine(sc).run(), 1.0)
    with tempfile.TemporaryDirectory() as d:
        write_run(result, Path(d) / "run")


def _vms(n: int, vcpus: int) -> dict[str, Any]:
    return {f"v{i}": {"memory": "2MiB", "vcpus": vcpus} for i in range(n)}


RUNS: dict[str, dict[str, Any]] = {
    "mglru, eviction of long lists": {
        "sim": {"duration_ms": 150}, "vm": {"memory": "512MiB", "vcpus": 2},
        "host": {"memory": "400MiB"}, "workload": {"kind": "uniform", "think_ns": 0}},
    "classic, eviction of long lists": {
        "sim": {"duration_ms": 150}, "vm": {"memory": "512MiB", "vcpus": 2},
        "host": {"memory": "400MiB", "policy": "classic"},
        "workload": {"kind": "uniform", "think_ns": 0}},
    "exact lru": {
        "sim": {"duration_ms": 40}, "vm": {"memory": "128MiB", "vcpus": 2},
        "host": {"memory": "100MiB", "policy": "lru"},
        "workload": {"kind": "uniform", "think_ns": 0}},
    "5,000 time-series rows": {
        "sim": {"duration_ms": 100, "sample_interval_ms": 0.02},
        "vm": {"memory": "16MiB", "vcpus": 1}, "host": {"memory": "12MiB"}},
    "20 VMs x 8 vCPUs (mmu_lock actors)": {
        "sim": {"duration_ms": 2}, "vm": {"memory": "2MiB", "vcpus": 8},
        "host": {"memory": "64MiB"}, "vms": _vms(19, 8)},
    "32 vCPUs x 16,384-entry TLBs": {
        "sim": {"duration_ms": 2}, "host": {"memory": "64MiB"},
        "vm": {"memory": "64MiB", "vcpus": 32, "tlb_entries": 16384, "tlb_ways": 16}},
    "back-to-back aging": {
        "sim": {"duration_ms": 100}, "vm": {"memory": "16MiB", "vcpus": 1},
        "host": {"memory": "12MiB"}, "mglru": {"aging": "back_to_back"}},
    "host task, scan_mix": {
        "sim": {"duration_ms": 20}, "vm": {"enabled": False}, "host": {"memory": "200MiB"},
        "task": {"memory": "256MiB", "workload": {"kind": "scan_mix"}}},
    "ycsb_zipf and hotcold VMs": {
        "sim": {"duration_ms": 20}, "vm": {"memory": "256MiB", "vcpus": 2},
        "workload": {"kind": "ycsb_zipf"}, "host": {"memory": "200MiB"},
        "vms": {"b": {"memory": "128MiB", "vcpus": 2, "workload": {"kind": "hotcold"}}}},
    "invariant checks": {
        "sim": {"duration_ms": 20, "check_invariants": True},
        "vm": {"memory": "128MiB", "vcpus": 2}, "host": {"memory": "100MiB"},
        "workload": {"kind": "uniform", "think_ns": 0}},
    "fine mmu_lock model": {
        "sim": {"duration_ms": 3}, "vm": {"memory": "32MiB", "vcpus": 16, "lock_model": "fine"},
        "host": {"memory": "24MiB"}},
}


@pytest.fixture(scope="module", autouse=True)
def _warm_up() -> None:
    """Import and cache what the first run would (module-level tables are not a run's)."""
    _run_and_write(scenario_from_dict({"sim": {"duration_ms": 2},
                                       "vm": {"memory": "16MiB", "vcpus": 1},
                                       "host": {"memory": "12MiB"}}))


def _bounded(name: str, est: Estimate, peak: int) -> None:
    model = est.model_bytes
    print(f"{name:40s} estimate {model / 2**20:8.1f} MiB  peak {peak / 2**20:8.1f} MiB  "
          f"({model / max(peak, 1):.2f}x)")
    assert peak <= model, f"{name}: allocated {peak} bytes, estimated {model}"


@pytest.mark.parametrize("name", list(RUNS))
def test_the_run_estimate_bounds_the_run(name: str) -> None:
    sc = scenario_from_dict(RUNS[name])
    _bounded(name, estimate(sc), traced_peak(lambda: _run_and_write(sc)))


def test_a_trace_workload_is_bounded(tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    pages = np.random.default_rng(3).integers(0, 20_000, size=40_000)
    trace.write_text("page,rw\n" + "".join(f"{p},{'w' if p % 3 else 'r'}\n" for p in pages))
    sc = scenario_from_dict({"sim": {"duration_ms": 20}, "vm": {"enabled": False},
                             "host": {"memory": "128MiB"},
                             "task": {"memory": "256MiB", "workload": {
                                 "kind": "trace", "trace": str(trace)}}})
    _bounded("host task replaying a csv trace", estimate(sc),
             traced_peak(lambda: _run_and_write(sc)))


@pytest.mark.parametrize("mode", ["lru_gen", "page_idle", "benchmark"])
def test_the_selftest_estimate_bounds_the_selftest(mode: str) -> None:
    from simulator.selftest.driver import AccessTracking, SelftestParams, selftest_scenario

    params = SelftestParams(vcpus=4, bytes_per_vcpu=32 * 2**20, warn_only=True,
                            mode="page_idle" if mode == "page_idle" else "lru_gen",
                            benchmark=mode == "benchmark")
    sc = selftest_scenario(params)
    est = selftest_estimate(sc, params.mode == "page_idle")
    _bounded(f"selftest {mode}", est, traced_peak(lambda: AccessTracking(sc, params).run()))


def _write_traces(folder: Path) -> dict[str, Path]:
    rng = np.random.default_rng(1)
    pages = rng.integers(0, 100_000, size=400_000).astype(np.int64)
    np.save(folder / "t.npy", pages)
    (folder / "t.csv").write_text("page,rw\n" + "".join(
        f"{p},{'w' if p % 2 else 'r'}\n" for p in pages[:70_000]))
    (folder / "t.lackey").write_text("".join(
        f" {'S' if p % 2 else 'L'} {int(p) * 4096 + 0x400000:08x},8\n" for p in pages[:70_000]))
    return {"npy": folder / "t.npy", "csv": folder / "t.csv", "lackey": folder / "t.lackey"}


@pytest.mark.parametrize("fmt", ["npy", "csv"])
def test_the_mrc_estimate_bounds_the_trace_pass(fmt: str, tmp_path: Path) -> None:
    from simulator.mrc import curve_frame, lru_curve, read_trace
    from simulator.traces import open_trace

    path = _write_traces(tmp_path)[fmt]
    records = trace_records_bound(open_trace(path))

    def work() -> None:  # what `mrc --no-mglru` computes before it writes
        tp = read_trace(path, "auto", [], "0.01,0.1,0.5")
        curve, _ = lru_curve(tp.pages)
        curve.miss_ratio(tp.sizes)
        curve_frame(curve)

    _bounded(f"mrc driver, {fmt} trace", mrc_driver_estimate(records, 3), traced_peak(work))


@pytest.mark.parametrize("case", ["npy->csv", "csv->npy", "lackey->npy", "csv info"])
def test_the_trace_estimate_bounds_convert_and_info(case: str, tmp_path: Path) -> None:
    from simulator.traces import convert_trace, open_trace, summarize

    source, _, target = case.partition("->")
    path = _write_traces(tmp_path)[source.split()[0]]
    reader = open_trace(path)
    records = trace_records_bound(reader)
    fields = text_fields(reader)
    if target:
        est = trace_estimate(min(65536, records), fields)
        peak = traced_peak(lambda: convert_trace(open_trace(path), tmp_path / f"o.{target}"))
    else:
        est = trace_estimate(min(65536, records), fields, records)
        peak = traced_peak(lambda: summarize(open_trace(path), "first_touch", 65536))
    _bounded(f"trace {case}", est, peak)


def test_the_sweep_driver_estimate_bounds_its_tables(tmp_path: Path) -> None:
    from simulator.sweep import expand_sweep, sweep_row, write_tables

    summary = run_result(Machine(scenario_from_dict({
        "sim": {"duration_ms": 2}, "vm": {"memory": "16MiB", "vcpus": 1},
        "host": {"memory": "12MiB"}})).run(), 1.0).summary
    doc = {"name": "big", "sweep": {"sim.seed": list(range(600))}}

    def work() -> None:
        sweep = expand_sweep(doc)
        rows = [sweep_row(p, dict(summary, run_id=p.run_id)) for p in sweep.points]
        write_tables(sweep, rows, tmp_path)

    est = Estimate(BASE_BYTES + sweep_driver_bytes(600))
    _bounded("sweep driver, 600 runs", est, traced_peak(work))


PEAK_RSS = ("import sys; from simulator.cli import main; rc = main(sys.argv[1:]); "
            "print([line.split()[1] for line in open('/proc/self/status') "
            "if line.startswith('VmHWM:')][0]); sys.exit(rc)")
"""Runs a command and prints its peak resident set (kB). ``VmHWM``, not ``ru_maxrss``: Linux
carries ``ru_maxrss`` over ``execve`` from the forking process (here pytest, hundreds of MiB
late in the suite), while ``VmHWM`` belongs to the new program alone."""


def _peak_rss(argv: list[str]) -> int:
    """The peak resident set of ``mglru-sim argv`` in a fresh process (bytes)."""
    proc = subprocess.run([sys.executable, "-c", PEAK_RSS, *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split()[-1]) * 1024


def test_a_run_stays_under_its_estimate_in_resident_memory(tmp_path: Path) -> None:
    """The whole process, interpreter and report included, against the whole estimate."""
    argv = ["run", "scenarios/default.toml", "--out", str(tmp_path), "--set",
            "sim.duration_ms=100", "--set", "vm.memory=512MiB", "--set", "host.memory=400MiB",
            "--set", "workload.kind=uniform"]
    rss = _peak_rss(argv)
    est = estimate(load_scenario(ROOT / "scenarios/default.toml", argv[5::2]))
    print(f"run with report, peak RSS {rss / 2**20:.0f} MiB, estimate {est.bytes / 2**20:.0f}")
    assert rss <= est.bytes


@pytest.mark.parametrize("command", ["trace info", "mrc"])
def test_compiled_page_maps_stay_under_the_estimate_in_resident_memory(
        command: str, tmp_path: Path) -> None:
    """The compiled page map allocates inside numba, where tracemalloc does not look: the
    whole process against the whole estimate, with a million distinct pages."""
    path = tmp_path / "distinct.npy"
    np.save(path, np.random.default_rng(1).permutation(1_000_000).astype(np.int64) * 3)
    if command == "trace info":
        est = trace_estimate(65536, 0, 1_000_000)
        rss = _peak_rss(["trace", "info", str(path)])
    else:
        est = mrc_driver_estimate(1_000_000, 1)
        rss = _peak_rss(["mrc", str(path), "--sizes", "0.5", "--no-mglru", "--out",
                         str(tmp_path / "mrc")])
    print(f"{command}, 10^6 distinct pages: peak RSS {rss / 2**20:.0f} MiB, estimate "
          f"{est.bytes / 2**20:.0f} MiB")
    assert rss <= est.bytes


def test_a_run_that_overspends_its_row_budget_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    import simulator.machine

    monkeypatch.setattr(simulator.machine, "pass_rows", lambda sc: 3)
    sc = scenario_from_dict({"sim": {"duration_ms": 100}, "vm": {"memory": "16MiB", "vcpus": 1},
                             "host": {"memory": "12MiB"}, "mglru": {"aging": "back_to_back"}})
    with pytest.raises(ResourceError, match="more than 3 aging passes"):
        Machine(sc).run()


# --- refusals ----------------------------------------------------------------------------
def test_refuses_with_estimate_and_limit() -> None:
    sc = scenario_from_dict({"vm": {"memory": "64GiB"}, "host": {"memory": "64GiB"}})
    with pytest.raises(ResourceError) as info:
        check(sc, 2**30)
    msg = str(info.value)
    assert "GiB" in msg and "--max-memory" in msg and "1.00 GiB" in msg
    assert "\n" not in msg


def test_parallel_copies_count() -> None:
    sc = scenario_from_dict({"vm": {"memory": "1GiB"}, "host": {"memory": "1GiB"}})
    one = estimate(sc).bytes
    check(sc, one + 1)
    with pytest.raises(ResourceError, match="× 2 parallel runs"):
        check(sc, one + 1, copies=2)


@pytest.mark.parametrize(("sets", "part"), [
    (["sim.sample_interval_ms=0.001", "sim.duration_ms=100000"], "timeseries"),
    (["vm.vcpus=1024", "vm.memory=2MiB"] + [f"vms.v{i}.vcpus=1024" for i in range(8)],
     "mmu_lock"),
    (["vm.vcpus=256", "vm.tlb_entries=1048576", "vm.tlb_ways=16"], "vcpus"),
    (["vm.memory=1TiB"], "pages"),
    (["mglru.aging=interval", "mglru.aging_interval_ms=0.001", "sim.duration_ms=100000"],
     "passes"),
])
def test_each_growing_structure_is_counted_and_refused(sets: list[str], part: str,
                                                       capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    sc = load_scenario(ROOT / "scenarios/default.toml", sets)
    assert estimate(sc).parts[part] > 2**30
    rc = main(["run", str(ROOT / "scenarios/default.toml"), "--max-memory", "1GiB",
               "--out", str(tmp_path), *[a for s in sets for a in ("--set", s)]])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "needs about" in err
    assert not any(tmp_path.iterdir())


def test_cli_refuses_before_allocating(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["run", str(ROOT / "scenarios/default.toml"), "--max-memory", "100M",
               "--no-report", "--out", "/nonexistent-should-not-be-created"])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs about" in err
    assert not Path("/nonexistent-should-not-be-created").exists()


@pytest.mark.parametrize("argv", [
    ["selftest", "access-tracking", "-v", "4", "-b", "1T", "--no-out"],
    ["mrc", "data/cloudPhysicsIO.oracleGeneral.bin", "--sizes", "0.1", "--max-memory",
     "410M"],
    ["trace", "info", "data/cloudPhysicsIO.oracleGeneral.bin", "--max-memory", "400M"],
])
def test_impossible_sizes_are_refused_before_allocating(argv: list[str],
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    monkeypatch.chdir(ROOT)
    tracemalloc.start()
    try:
        rc = main(argv)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "needs about" in err, err
    assert peak < 64 * 2**20  # refused before anything of that size was allocated


# --- limits --------------------------------------------------------------------------------
def _tree(tmp_path: Path, cgroup: str, files: dict[str, str]) -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    proc = tmp_path / "proc_cgroup"
    proc.write_text(cgroup)
    return root, proc


def test_cgroup_v2_limit(tmp_path: Path) -> None:
    root, proc = _tree(tmp_path, "0::/user.slice/job\n",
                       {"user.slice/job/memory.max": "1073741824\n",
                        "user.slice/job/memory.current": "268435456\n"})
    assert cgroup_limit(root, proc) == Limit(3 * 2**28, "cgroup memory.max")
    root, proc = _tree(tmp_path / "max", "0::/a\n", {"a/memory.max": "max\n"})
    assert cgroup_limit(root, proc) is None


def test_cgroup_v1_limit(tmp_path: Path) -> None:
    root, proc = _tree(tmp_path, "9:cpu:/\n4:memory:/docker/abc\n0::/\n",
                       {"memory/docker/abc/memory.limit_in_bytes": "2147483648\n",
                        "memory/docker/abc/memory.usage_in_bytes": "1073741824\n"})
    assert cgroup_limit(root, proc) == Limit(2**30, "cgroup memory.limit_in_bytes")
    root, proc = _tree(tmp_path / "none", "4:memory:/\n",
                       {"memory/memory.limit_in_bytes": "9223372036854771712\n"})
    assert cgroup_limit(root, proc) is None


def test_the_lowest_limit_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    import simulator.resources.limits as lim

    sc = scenario_from_dict({"vm": {"memory": "4GiB"}, "host": {"memory": "4GiB"}})
    need = estimate(sc)
    monkeypatch.setattr(lim, "cgroup_limit", lambda: Limit(need.bytes - 1, "cgroup memory.max"))
    with pytest.raises(ResourceError, match=r"cgroup memory\.max"):
        check(sc, 2**50)
    monkeypatch.setattr(lim, "cgroup_limit", lambda: None)
    real = resource.getrlimit

    def rlimit(which: int) -> tuple[int, int]:
        if which == resource.RLIMIT_DATA:
            return need.model_bytes // 2, resource.RLIM_INFINITY
        return real(which)

    monkeypatch.setattr(lim.resource, "getrlimit", rlimit)
    assert any(limit.name.startswith("RLIMIT_DATA") for limit in memory_limits(None))
    with pytest.raises(ResourceError, match="RLIMIT_DATA"):
        check(sc, 2**50)


def test_an_rlimit_in_a_child_process_is_seen(tmp_path: Path) -> None:
    def small() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (2**30, resource.RLIM_INFINITY))

    # about 1.4 GiB past the interpreter: refused under a 1 GiB data limit
    proc = subprocess.run([sys.executable, "-m", "simulator", "run", "--no-report", "--out",
                           str(tmp_path), "--set", "vm.memory=64GiB", "--set",
                           "host.memory=64GiB", "--set", "sim.duration_ms=1",
                           "--max-memory", "1TiB"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, preexec_fn=small)
    assert proc.returncode == 2, proc.stderr
    assert "RLIMIT_DATA (ulimit -d)" in proc.stderr and proc.stderr.count("\n") == 1


if __name__ == "__main__":  # the grid as a table
    sys.exit(pytest.main([__file__, "-q", "-s", "-k", "bounds or stays_under"]))

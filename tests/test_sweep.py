"""Tests of ``simulator.sweep`` and ``mglru-sim sweep``: expansion, engines, resume, failures.

Scenarios are tiny (a 32 MiB guest for 30 ms) so that the whole file stays well under a minute
on two cores; one test starts a Dask ``LocalCluster`` (a few seconds).
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import simulator.sweep as sweep_mod
import simulator.sweep.tasks as sweep_tasks
from simulator.cli import main
from simulator.config import ConfigError, read_toml, run_id_of, scenario_from_dict
from simulator.output.run_folder import COMPLETE_MARKER
from simulator.runner import simulate
from simulator.sweep import (
    RunTask,
    Sweep,
    SweepReport,
    code_fingerprint,
    execute_run,
    exit_code,
    expand_sweep,
    load_sweep,
    make_executor,
    run_sweep,
)

BASE: dict[str, Any] = {
    "name": "tiny_sweep",
    "sim": {"duration_ms": 30, "seed": 1},
    "host": {"memory": "24MiB"},
    "vm": {"memory": "32MiB", "vcpus": 1},
}

TINY = """\
name = "tiny_sweep"
[sim]
duration_ms = 30
seed = 1
[host]
memory = "24MiB"
[vm]
memory = "32MiB"
vcpus = 1
[sweep]
"vm.vcpus" = [1, 2]
[sweep.zip]
"sim.seed" = [1, 2]
"workload.theta" = [0.5, 0.99]
"""
"""Four runs: two vCPU counts x two (seed, theta) pairs."""


def doc_with(sweep: dict[str, Any]) -> dict[str, Any]:
    return {**BASE, "sweep": sweep}


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def comparable(csv: Path) -> pd.DataFrame:
    """A sweep table without the columns that depend on wall-clock time."""
    return pd.read_csv(csv).drop(columns=list(sweep_mod.WALL_TIME_COLUMNS))


def quiet_run(sw: Sweep, out: Path, jobs: int = 1, **kw: Any) -> SweepReport:
    return run_sweep(sw, out, make_executor("local", jobs), progress=False, **kw)


# ---- expansion ------------------------------------------------------------------------------


def test_product_then_zip_in_file_order() -> None:
    sw = expand_sweep(doc_with({"vm.vcpus": [1, 2],
                                "zip": {"sim.seed": [1, 2, 3], "workload.theta": [0.5, 0.7, 0.9]},
                                "mglru.notifier": ["blind", "per_page"]}), "x.toml")
    assert sw.name == "tiny_sweep"
    assert sw.keys == ("vm.vcpus", "sim.seed", "workload.theta", "mglru.notifier")
    assert len(sw.points) == 2 * 3 * 2
    assert [p.run_index for p in sw.points] == list(range(12))
    # The first key varies slowest; zip keys move together.
    assert dict(sw.points[0].factors) == {"vm.vcpus": 1, "sim.seed": 1, "workload.theta": 0.5,
                                          "mglru.notifier": "blind"}
    assert dict(sw.points[1].factors)["mglru.notifier"] == "per_page"
    assert dict(sw.points[2].factors)["sim.seed"] == 2
    assert dict(sw.points[6].factors)["vm.vcpus"] == 2
    for p in sw.points:
        assert p.scenario.vm.vcpus == p.factors["vm.vcpus"]
        assert p.scenario.workload.theta == p.factors["workload.theta"]
        assert p.run_id == run_id_of(p.scenario)
    assert len({p.run_id for p in sw.points}) == 12
    again = expand_sweep(doc_with({"vm.vcpus": [1, 2],
                                   "zip": {"sim.seed": [1, 2, 3],
                                           "workload.theta": [0.5, 0.7, 0.9]},
                                   "mglru.notifier": ["blind", "per_page"]}), "x.toml")
    assert [p.run_id for p in again.points] == [p.run_id for p in sw.points]


def test_bare_dotted_keys_equal_quoted_ones() -> None:
    # TOML nests `vm.vcpus = [...]` under [sweep] as {"vm": {"vcpus": [...]}}.
    nested = expand_sweep(doc_with({"vm": {"vcpus": [1, 2]}}))
    quoted = expand_sweep(doc_with({"vm.vcpus": [1, 2]}))
    assert nested.keys == quoted.keys == ("vm.vcpus",)
    assert [p.run_id for p in nested.points] == [p.run_id for p in quoted.points]


def test_no_sweep_table_is_one_run() -> None:
    sw = expand_sweep(dict(BASE))
    assert sw.keys == ()
    assert len(sw.points) == 1
    assert sw.points[0].run_id == run_id_of(scenario_from_dict(BASE))


def test_sizes_are_validated_like_scenario_values() -> None:
    sw = expand_sweep(doc_with({"zip": {"vm.memory": ["32MiB", "64MiB"],
                                        "host.memory": ["24MiB", "48MiB"]}}))
    assert [p.scenario.guest_pages for p in sw.points] == [8192, 16384]


@pytest.mark.parametrize(("sweep", "key", "words"), [
    ({"vm.vcpus": []}, "sweep.vm.vcpus", "empty list"),
    ({"vm.vcpus": 2}, "sweep.vm.vcpus", "expected a list"),
    ({"vm.vcpus": [1, 0]}, "vm.vcpus", "must be >= 1"),
    ({"vm.vcpus": [1, "two"]}, "vm.vcpus", "expected an integer"),
    ({"mglru.notifier": ["per_page", "bitmapp"]}, "mglru.notifier", "expected one of"),
    ({"vm.vcpu": [1, 2]}, "vm.vcpu", "unknown key"),
    ({"vm.memory": ["32MiB", "33MiB"]}, "vm.memory", "multiple of 2MiB"),
    ({"zip": {"vm.vcpus": [1, 2], "sim.seed": [1, 2, 3]}}, "sweep.zip", "equal lengths"),
    ({"zip": [1, 2]}, "sweep.zip", "table"),
    ({"zip": {"sim.seed": []}}, "sweep.zip.sim.seed", "empty list"),
    ({"name": ["a", "b"]}, "sweep.name", "cannot be swept"),
    ({"vm.vcpus": [1, 2], "zip": {"vm.vcpus": [1, 2]}}, "sweep.vm.vcpus", "swept twice"),
    ({"vm.vcpus": [2, 2]}, "sweep", "same effective configuration"),
    ({"vm.vcpus.x": [1]}, "sweep.vm.vcpus.x", "not a table"),
])
def test_bad_sweeps_name_the_key(sweep: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        expand_sweep(doc_with(sweep), "bad.toml")
    assert info.value.key == key
    assert words in info.value.message
    assert str(info.value).startswith("bad.toml: ")


def test_set_changes_the_base_and_sweep_values_win(tiny: Path) -> None:
    sw = load_sweep(tiny, ["vm.tlb_entries=48", "vm.vcpus=4"])
    assert all(p.scenario.vm.tlb_entries == 48 for p in sw.points)
    assert [p.scenario.vm.vcpus for p in sw.points] == [1, 1, 2, 2]
    with pytest.raises(ConfigError):
        load_sweep(tiny, ["vm.tlb_entries=many"])


def test_example_scenario_expands() -> None:
    path = Path(__file__).parents[1] / "scenarios" / "sweep_example.toml"
    sw = expand_sweep(read_toml(path), str(path))
    assert len(sw.points) == 24
    assert "host.memory" in sw.keys


# ---- running --------------------------------------------------------------------------------


def test_jobs_1_jobs_2_and_dask_give_the_same_table(tiny: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    outs = {name: tmp_path / name for name in ("j1", "j2", "dask")}
    base = ["sweep", str(tiny), "--no-progress", "--out"]
    assert main([*base, str(outs["j1"]), "--jobs", "1"]) == 0
    assert main([*base, str(outs["j2"]), "--jobs", "2"]) == 0
    assert main([*base, str(outs["dask"]), "--engine", "dask", "--jobs", "2"]) == 0
    assert "4 runs, 4 ok, 0 failed" in capsys.readouterr().out

    tables = {name: comparable(out / "tiny_sweep" / "sweep.csv") for name, out in outs.items()}
    pd.testing.assert_frame_equal(tables["j1"], tables["j2"])
    pd.testing.assert_frame_equal(tables["j1"], tables["dask"])

    t = tables["j1"]
    assert list(t.columns[:7]) == ["run_index", "run_id", "vm.vcpus", "sim.seed",
                                   "workload.theta", "status", "error"]
    assert list(t["run_index"]) == [0, 1, 2, 3]
    assert (t["status"] == "ok").all()
    assert list(t["vcpus"]) == [1, 1, 2, 2]
    assert {"miss_ratio", "aging_passes", "young_f1"} <= set(t.columns)
    for run_id in t["run_id"]:
        folder = outs["dask"] / "tiny_sweep" / run_id
        assert (folder / COMPLETE_MARKER).is_file()
        assert (folder / "summary.json").is_file()
    # Nothing half-written (hidden temporary names) is left beside the run folders.
    entries = list((outs["j2"] / "tiny_sweep").iterdir())
    assert sorted(p.name for p in entries if p.is_dir() and p.name != "figures") == sorted(
        t["run_id"])
    assert not [p for p in entries if p.name.startswith(".")]


def test_interrupted_sweep_resumes_only_what_is_missing(
        tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sw = load_sweep(tiny)
    out = tmp_path / "out"
    executed: list[int] = []
    real = simulate
    stop_after: int | None = 2

    def counting(sc: Any) -> Any:
        if stop_after is not None and len(executed) == stop_after:
            raise KeyboardInterrupt  # as if Ctrl-C arrived during the third run
        executed.append(sc.vm.vcpus)
        return real(sc)

    monkeypatch.setattr(sweep_tasks, "simulate", counting)
    with pytest.raises(KeyboardInterrupt):
        quiet_run(sw, out)
    folder = out / "tiny_sweep"
    partial = pd.read_csv(folder / "sweep.csv")
    assert list(partial["run_index"]) == [0, 1]  # the table holds what finished

    # A run folder without its completion marker (a crash elsewhere) must be redone.
    victim = folder / sw.points[1].run_id
    (victim / COMPLETE_MARKER).unlink()

    executed.clear()
    stop_after = None
    report = quiet_run(sw, out, resume=True)
    assert len(executed) == 3  # runs 1 (incomplete), 2 and 3
    assert (report.executed, report.resumed, report.failed) == (3, 1, 0)
    assert all((folder / p.run_id / COMPLETE_MARKER).is_file() for p in sw.points)

    # The resumed table equals a fresh one; without --resume everything runs again.
    fresh = quiet_run(sw, tmp_path / "fresh")
    pd.testing.assert_frame_equal(comparable(report.csv_path), comparable(fresh.csv_path))
    executed.clear()
    quiet_run(sw, out)
    assert len(executed) == 4


def test_failed_runs_are_rows_and_the_exit_code_counts_them(
        tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    real = simulate

    def flaky(sc: Any) -> Any:
        if sc.vm.vcpus == 2:
            raise RuntimeError("model exploded\nsecond line")
        return real(sc)

    monkeypatch.setattr(sweep_tasks, "simulate", flaky)
    out = tmp_path / "out"
    rc = main(["sweep", str(tiny), "--jobs", "1", "--no-progress", "--out", str(out)])
    assert rc == 2  # two runs failed
    captured = capsys.readouterr()
    assert "2 ok, 2 failed" in captured.out
    assert "sweep_errors.txt" in captured.err
    table = pd.read_csv(out / "tiny_sweep" / "sweep.csv")
    assert list(table["status"]) == ["ok", "ok", "failed", "failed"]
    assert table["error"].iloc[2] == "RuntimeError: model exploded second line"
    assert table["miss_ratio"].iloc[2:].isna().all()
    # Failed runs leave cells empty, yet whole-number columns are written as integers.
    assert list(pd.read_csv(out / "tiny_sweep" / "sweep.csv", dtype=str)["seed"].iloc[:2]) == [
        "1", "2"]
    assert "Traceback" in (out / "tiny_sweep" / "sweep_errors.txt").read_text()
    # Failed runs leave no folder, so --resume retries exactly them.
    assert sum(1 for p in (out / "tiny_sweep").iterdir()
               if p.is_dir() and p.name != "figures") == 2
    assert exit_code(SweepReport(sweep=load_sweep(tiny), csv_path=out, failed=300)) == 125


def test_results_sent_back_are_written_by_the_driver(tiny: Path, tmp_path: Path) -> None:
    # What a Dask cluster without a shared OUT does: workers return results.
    report = quiet_run(load_sweep(tiny), tmp_path, worker_writes=False)
    assert report.failed == 0
    for row in report.rows:
        assert (tmp_path / "tiny_sweep" / row["run_id"] / COMPLETE_MARKER).is_file()


def test_a_worker_with_other_code_fails_its_runs() -> None:
    point = expand_sweep(dict(BASE)).points[0]
    outcome = execute_run(RunTask(0, point.run_id, point.scenario, None, "0" * 16))
    assert outcome.summary is None
    assert outcome.error is not None and "differs from the driver's" in outcome.error
    assert code_fingerprint() == code_fingerprint() != "0" * 16


def test_parquet_when_pyarrow_imports(tiny: Path, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    report = quiet_run(load_sweep(tiny), tmp_path)
    assert report.parquet_path is not None
    table = pd.read_parquet(report.parquet_path)
    assert list(table["run_id"]) == [r["run_id"] for r in report.rows]


def test_progress_bar_shows_completed_of_total(tiny: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Terminal()
    monkeypatch.setattr("sys.stderr", err)
    run_sweep(load_sweep(tiny), tmp_path, make_executor("local", 1), progress=True)
    assert "4/4" in err.getvalue()


def test_no_progress_bar_when_stderr_is_not_a_terminal(tiny: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    run_sweep(load_sweep(tiny), tmp_path, make_executor("local", 1), progress=True)
    assert err.getvalue() == ""  # a log or a pipe gets no redraws


# ---- the command line -----------------------------------------------------------------------


def test_dry_run_lists_the_runs(tiny: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", str(tiny), "--dry-run", "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert lines[3].split()[2:] == ["vm.vcpus=2", "sim.seed=2", "workload.theta=0.99"]
    assert not (tmp_path / "tiny_sweep").exists()


@pytest.mark.parametrize(("extra", "words"), [
    (["--jobs", "0"], "--jobs"),
    (["--address", "tcp://127.0.0.1:1"], "needs --engine dask"),
    (["--set", "vm.vcpus=many"], "vm.vcpus"),
])
def test_bad_input_is_one_line_and_exit_2(tiny: Path, extra: list[str], words: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", str(tiny), "--no-progress", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err


def test_bad_sweep_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(TINY.replace('"vm.vcpus" = [1, 2]', '"vm.vcpus" = []'))
    assert main(["sweep", str(path)]) == 2
    assert "sweep.vm.vcpus" in capsys.readouterr().err


def test_set_on_a_swept_key_warns(tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", str(tiny), "--dry-run", "--set", "vm.vcpus=4"]) == 0
    assert "--set vm.vcpus: the key is swept" in capsys.readouterr().err


# ---- benchmark (pytest -m benchmark) --------------------------------------------------------


@pytest.mark.benchmark
def test_bench_two_workers_beat_one(tmp_path: Path) -> None:
    """An 8-run sweep with 1 and 2 local workers; reports the wall-time ratio, asserts none."""
    # About a second per run, so that pool start-up does not dominate.
    doc = {**BASE, "sim": {"duration_ms": 300, "seed": 1},
           "host": {"memory": "192MiB"}, "vm": {"memory": "256MiB", "vcpus": 4},
           "sweep": {"sim.seed": list(range(1, 9))}}
    sw = expand_sweep(doc, "bench")
    walls: dict[int, float] = {}
    busy: dict[int, float] = {}
    for jobs in (1, 2):
        t0 = time.perf_counter()
        report = quiet_run(sw, tmp_path / f"j{jobs}", jobs=jobs)
        walls[jobs] = time.perf_counter() - t0
        assert report.failed == 0
        busy[jobs] = sum(float(r["wall_time_s"]) for r in report.rows)
    # Overlap (run time summed over runs / sweep wall time) shows the parallelism even when
    # other load on the machine slows every run down.
    print(f"\n8-run sweep: 1 worker {walls[1]:.2f} s, 2 workers {walls[2]:.2f} s, "
          f"speedup {walls[1] / walls[2]:.2f}x (overlap {busy[2] / walls[2]:.2f}, "
          f"load average {os.getloadavg()[0]:.1f})")

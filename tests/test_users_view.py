"""What users see around a run: progress, quiet, provenance, units, bundled scenarios, lists in
``--set``, ``--version``, completion, ``run_id`` in every CSV and the sweep's long tables."""

from __future__ import annotations

import io
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from simulator import humanize, progress
from simulator.cli import main
from simulator.cli.run import format_summary
from simulator.config import ConfigError, load_scenario, run_id_of, split_lists
from simulator.config import bundled as bundled_mod
from simulator.config.bundled import bundled_scenarios, resolve_scenario
from simulator.runner import simulate
from simulator.sweep import load_sweep

SMALL = ["sim.duration_ms=40", "vm.memory=16MiB", "host.memory=12MiB", "vm.vcpus=2"]
WALL = ("wall_time_s", "accesses_per_wall_s")


def _sets(values: list[str]) -> list[str]:
    return [arg for v in values for arg in ("--set", v)]


# --- progress ----------------------------------------------------------------------------


HOST_LRU = ["sim.duration_ms=40", "vm.enabled=false", "task.memory=16MiB", "host.memory=12MiB",
            "host.policy=lru"]
"""Host-only exact LRU: the compiled core runs the task's quanta in stretches up to the next
event in the queue (simulator.stretch), which the progress slices add to."""


@pytest.mark.parametrize("overrides", [SMALL, HOST_LRU], ids=["vm", "host_lru_stretch"])
def test_watching_progress_does_not_change_a_run(overrides: list[str]) -> None:
    sc = load_scenario("default", overrides)
    seen: list[int] = []
    watched, plain = simulate(sc, progress=seen.append), simulate(sc)
    strip = {k: v for k, v in watched.summary.items() if k not in WALL}
    assert strip == {k: v for k, v in plain.summary.items() if k not in WALL}
    pd.testing.assert_frame_equal(watched.passes, plain.passes)
    pd.testing.assert_frame_equal(watched.timeseries, plain.timeseries)
    assert seen == sorted(seen) and seen[-1] == 40_000_000 and len(seen) >= 100


def test_bars_only_on_a_terminal_and_never_when_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    progress.set_quiet(False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not progress.enabled()  # a pipe or a file: no redraws
    monkeypatch.setattr(sys, "stderr", Tty())
    assert progress.enabled()
    try:
        progress.set_quiet(True)
        assert not progress.enabled()
        progress.note("a line")
        assert sys.stderr.getvalue() == ""
    finally:
        progress.set_quiet(False)


def test_quiet_is_accepted_before_and_after_the_command(capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    monkeypatch.setattr("simulator.cli.list.command",
                        lambda args: seen.append(progress.quiet()) or 0)
    assert main(["-q", "list", "policies"]) == 0
    assert main(["list", "policies", "--quiet"]) == 0
    assert main(["list", "policies"]) == 0
    assert seen == [True, True, False]
    assert not progress.quiet()  # -q lasted for its command only


# --- provenance, units -------------------------------------------------------------------


def test_config_toml_has_units_and_provenance_and_loads_back(tmp_path: Path) -> None:
    assert main(["run", "default", *_sets(SMALL), "--seed", "3", "--out", str(tmp_path),
                 "--no-report", "-q"]) == 0
    progress.set_quiet(False)
    (folder,) = (tmp_path / "default").iterdir()
    text = (folder / "config.toml").read_text()
    doc = tomllib.loads(text)
    assert doc["vm"]["memory"] == "16MiB" and doc["host"]["memory"] == "12MiB"
    assert doc["provenance"]["set"] == [*SMALL, "sim.seed=3"]
    assert doc["provenance"]["scenario"].endswith("default.toml")
    assert doc["provenance"]["version"]
    # the first line says what ran (after the overrides); the description is the file's
    assert text.startswith("# A 16 MiB, 2-vCPU x86_tdp VM")
    assert "12 MiB memcg" in text.splitlines()[0]
    assert run_id_of(load_scenario(folder / "config.toml")) == folder.name
    for name in ("passes.csv", "timeseries.csv"):
        frame = pd.read_csv(folder / name)
        assert frame.columns[0] == "run_id" and (frame["run_id"] == folder.name).all()


def test_summary_in_human_units() -> None:
    text = format_summary({"sim_time_ns": 2_000_000_000, "aging_pass_mean_ns": 816_900.0,
                           "aging_cpu_ns": 28_453_458, "guest_pages": 262_144,
                           "host_pages": 196_608, "accesses": 7_261_184, "wall_time_s": 15.2,
                           "miss_ratio": 0.051594, "vcpu_lock_wait_ns": None})
    lines = dict(line.split("  ", 1) for line in text.splitlines())
    shown = {k.strip(): v.strip() for k, v in lines.items()}
    assert shown["simulated time"] == "2 s" and shown["aging pass mean"] == "817 µs"
    assert shown["aging CPU"] == "28.5 ms" and shown["wall time"] == "15.2 s"
    assert shown["guest memory"] == "1 GiB (262,144 pages)"
    assert shown["memcg limit"] == "768 MiB (196,608 pages)"
    assert shown["accesses"] == "7,261,184" and shown["miss ratio"] == "0.05159"
    assert shown["vCPU mmu_lock wait"] == "-"


@pytest.mark.parametrize(("value", "text"), [
    (0, "0 ns"), (950, "950 ns"), (816_900, "817 µs"), (28_453_458, "28.5 ms"),
    (1_975_238_816, "1.98 s"), (1_234_000_000_000, "1,234 s"),
])
def test_durations(value: int, text: str) -> None:
    assert humanize.duration(value) == text


def test_sizes() -> None:
    assert humanize.size(768 * 2**20) == "768 MiB" and humanize.size(1.5 * 2**30) == "1.5 GiB"
    assert humanize.size_text(256 * 2**20) == "256MiB" and humanize.size_text(4096) == "4KiB"
    assert humanize.size_text(0) == 0 and humanize.size_text(1000) == 1000


# --- bundled scenarios -------------------------------------------------------------------


def test_bundled_scenarios_resolve_from_anywhere(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    names = bundled_scenarios()
    assert {"default", "sweep_example", "questions/q6_chromeos", "ci/host_only"} <= set(names)
    assert resolve_scenario("default") == names["default"]
    assert resolve_scenario("scenarios/default.toml") == names["default"]
    assert resolve_scenario("questions/q6") == names["questions/q6_chromeos"]
    with pytest.raises(ConfigError, match="names several bundled scenarios"):
        resolve_scenario("questions/q")
    with pytest.raises(ConfigError, match=r"nope\.toml: no such file, nor a bundled scenario"):
        resolve_scenario("nope.toml")
    (tmp_path / "default").write_text('name = "mine"\n')  # a path wins over a name
    assert resolve_scenario("default") == Path("default")


def test_list_scenarios_without_any_exits_1(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(bundled_mod, "BUNDLED_DIR", tmp_path / "nothing")
    assert main(["list", "scenarios"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no scenarios found" in err


# --- lists in --set ----------------------------------------------------------------------


def test_set_lists_sweep_and_replace_a_swept_list() -> None:
    single, lists = split_lists(["vm.vcpus=[1, 2]", "host.memory=[\"24MiB\",16MiB]",
                                 "sim.duration_ms=20"])
    assert single == ["sim.duration_ms=20"]
    assert lists == {"vm.vcpus": [1, 2], "host.memory": ["24MiB", "16MiB"]}
    quick = load_sweep("default", [*SMALL, *single], lists)
    assert quick.keys == ("vm.vcpus", "host.memory") and len(quick.points) == 4
    # sweep_example sweeps vm.vcpus over [1, 2, 4]: the list takes its place, in its place
    replaced = load_sweep("sweep_example", [], {"vm.vcpus": [2]})
    assert replaced.keys[0] == "vm.vcpus" and {p.factors["vm.vcpus"] for p in replaced.points} \
        == {2}
    with pytest.raises(ConfigError, match=r"varies with other keys in \[sweep\.zip\]"):
        load_sweep("sweep_example", [], {"host.memory": ["64MiB"]})


def test_sweep_writes_long_tables(tmp_path: Path) -> None:
    assert main(["sweep", "default", *_sets([*SMALL, "mglru.notifier=[blind,per_page]"]),
                 "--jobs", "1", "--out", str(tmp_path), "--no-report", "-q"]) == 0
    progress.set_quiet(False)
    folder = tmp_path / "default"
    runs = pd.read_csv(folder / "sweep.csv")
    for name in ("passes", "timeseries"):
        (path,) = folder.glob(f"sweep_{name}.*")
        table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        assert table.columns[:2].tolist() == ["run_id", "mglru.notifier"]
        assert set(table["run_id"]) == set(runs["run_id"])
        one = pd.read_csv(folder / str(runs["run_id"][0]) / f"{name}.csv")
        assert len(table[table["run_id"] == runs["run_id"][0]]) == len(one)
    config = tomllib.loads((folder / str(runs["run_id"][0]) / "config.toml").read_text())
    assert config["provenance"]["sweep"] == ["mglru.notifier=blind"]


# --- version and completion --------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("mglru-sim ")


@pytest.mark.parametrize("shell", ["bash", "zsh", "tcsh"])
def test_completion_scripts(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", shell]) == 0
    script = capsys.readouterr().out
    assert "mglru-sim" in script or "mglru_sim" in script
    assert "sweep" in script and "selftest" in script
    if shell != "tcsh":  # shtab's tcsh script completes commands, not options
        assert "--max-memory" in script


@pytest.mark.parametrize("what", ["backends", "workloads", "policies", "kernels", "scenarios",
                                  "keys"])
def test_every_list_from_anywhere(what: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["list", what]) == 0
    assert len(capsys.readouterr().out.splitlines()) >= 3


def test_plot_refuses_a_sweep_where_every_run_failed(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    fixture = Path(__file__).parent / "fixtures" / "results" / "sweep" / "sweep.csv"
    table = pd.read_csv(fixture).assign(status="failed")
    folder = tmp_path / "failed"
    folder.mkdir()
    table.to_csv(folder / "sweep.csv", index=False)
    assert main(["plot", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no run finished" in err
    assert not (folder / "report.html").exists()

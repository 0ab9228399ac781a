"""Tests of the ``mglru-sim`` command line (DESIGN §5): exit codes, one-line errors, run folder."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.config import load_scenario, read_toml, scenario_from_dict
from simulator.metrics import SUMMARY_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "scenarios" / "default.toml"

TINY = """\
name = "tiny"
[sim]
duration_ms = 50
seed = 3
check_invariants = true
lru_gen_snapshots = 2
[host]
memory = "12MiB"
[vm]
memory = "16MiB"
vcpus = 2
[workload]
kind = "zipf"
theta = 0.99
"""


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nope.toml"
    assert main(["run", str(path), "--out", str(tmp_path)]) == 2
    line = one_error_line(capsys)
    assert str(path) in line and "no such file" in line
    assert main(["validate", str(path)]) == 2
    one_error_line(capsys)


def test_unknown_key_via_set(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(DEFAULT), "--set", "vm.vcpu=4"]) == 2
    line = one_error_line(capsys)
    assert "vm.vcpu" in line and "did you mean 'vcpus'" in line


def test_bad_value_via_set(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(DEFAULT), "--set", "vm.vcpus=lots"]) == 2
    assert "vm.vcpus" in one_error_line(capsys)


def test_bad_toml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\n[vm\nvcpus = 2\n')
    assert main(["run", str(path), "--out", str(tmp_path)]) == 2
    line = one_error_line(capsys)
    assert str(path) in line and "line 2" in line
    assert not (tmp_path / "x").exists()


def test_unknown_key_in_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.toml"
    path.write_text("[mglru]\nnotifer = \"blind\"\n")
    assert main(["validate", str(path)]) == 2
    line = one_error_line(capsys)
    assert str(path) in line and "mglru.notifer" in line and "notifier" in line


def test_float_size_in_file_is_bad_input(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "f.toml"
    path.write_text("[vm]\nmemory = 67108864.0\n")
    assert main(["validate", str(path)]) == 2
    assert "vm.memory" in one_error_line(capsys)


def test_validate_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(DEFAULT)]) == 0
    out = capsys.readouterr()
    assert "ok" in out.out and out.err == ""


def test_list_backends(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "backends"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines if line.strip()]
    assert "x86_tdp" in names
    assert all(len(line.split()) > 1 for line in lines if line.strip())  # with a description


def test_list_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "keys"]) == 0
    names = {line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert {"vm.vcpus", "mglru.notifier", "sim.seed", "costs.pte_scan_ns"} <= names


def test_run_writes_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scen = tmp_path / "tiny.toml"
    scen.write_text(TINY)
    out = tmp_path / "results"
    assert main(["run", str(scen), "--out", str(out), "--seed", "7",
                 "--set", "vm.vcpus=1"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    runs = [p for p in (out / "tiny").iterdir() if not p.name.startswith(".")]
    assert len(runs) == 1
    folder = runs[0]
    assert str(folder) in captured.out
    names = {p.name for p in folder.iterdir()}
    assert {"summary.json", "summary.csv", "passes.csv", "timeseries.csv", "lru_gen.txt",
            "config.toml", ".complete"} <= names
    # no temporary folder left behind
    assert [p.name for p in (out / "tiny").iterdir()] == [folder.name]
    with open(folder / "summary.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 2  # header + one row
    header = rows[0]
    assert tuple(header[: len(SUMMARY_COLUMNS)]) == SUMMARY_COLUMNS
    summary = json.loads((folder / "summary.json").read_text())
    assert list(summary)[: len(SUMMARY_COLUMNS)] == list(SUMMARY_COLUMNS)
    assert summary["seed"] == 7 and summary["vcpus"] == 1 and summary["scenario"] == "tiny"
    assert summary["run_id"] == folder.name
    # the effective configuration, seed and overrides included, rebuilds the same scenario
    effective = load_scenario(scen, ["vm.vcpus=1"], seed=7)
    assert scenario_from_dict(read_toml(folder / "config.toml")) == effective
    assert "memcg     1 /" in (folder / "lru_gen.txt").read_text()
    with open(folder / "timeseries.csv", newline="") as f:
        ts = list(csv.DictReader(f))
    assert len(ts) >= 5 and int(ts[-1]["t_ns"]) == 50_000_000

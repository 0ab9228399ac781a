"""No scenario name makes any command write outside its output folder.

For every command that writes a folder named after a scenario (run, sweep, selftest, questions,
mrc takes ``--set name=`` too), an absolute name, a ``..`` name, a NUL byte and a name that is a
symbolic link below ``OUT`` pointing elsewhere are refused with one line and exit 2, and nothing
appears outside ``OUT`` (nor inside it). The commands whose output location is a path the user
gives (plot, trace convert, bench, mrc ``--out``) refuse a NUL byte and a file the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulator.cli import main
from simulator.output.errors import OutputError
from simulator.output.paths import folder_under, name_problem, safe_name

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--set", "sim.duration_ms=5", "--set", "vm.memory=16MiB", "--set", "host.memory=12MiB",
        "--set", "vm.vcpus=1"]


def _trace(path: Path) -> Path:
    np.save(path, np.arange(2000, dtype=np.int64) % 300)
    return path


def _argv(command: str, out: Path, name: str, tmp: Path) -> list[str]:
    """The command line that writes under ``out`` with the scenario name ``name``."""
    if command == "run":
        return ["run", str(ROOT / "scenarios/default.toml"), "--out", str(out), "--no-report",
                *TINY, "--set", f"name={name}"]
    if command == "sweep":
        return ["sweep", str(ROOT / "scenarios/sweep_example.toml"), "--out", str(out),
                "--jobs", "1", "--no-progress", "--no-report", "--set", "sim.duration_ms=5",
                "--set", f"name={name}"]
    if command == "selftest":
        return ["selftest", "access-tracking", "-b", "4M", "--out", str(out),
                "--set", f"name={name}"]
    if command == "questions":
        return ["questions", "--quick", "--only", "q5_fast_only", "--jobs", "1",
                "--no-progress", "--out", str(out), "--set", f"name={name}"]
    assert command == "mrc"
    return ["mrc", str(_trace(tmp / "t.npy")), "--sizes", "0.5", "--jobs", "1", "--out",
            str(out / "mrc"), "--set", f"name={name}"]


COMMANDS = ("run", "sweep", "selftest", "questions", "mrc")
NAMES = ("absolute", "dotdot", "nul", "symlink")


@pytest.mark.parametrize("kind", NAMES)
@pytest.mark.parametrize("command", COMMANDS)
def test_no_name_writes_outside_the_output_folder(command: str, kind: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    name = {"absolute": str(outside / "abs"), "dotdot": "../outside/up", "nul": "a\0b",
            "symlink": "link"}[kind]
    (out / "link").symlink_to(outside, target_is_directory=True)
    argv = _argv(command, out, name, tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    rc = main(argv)
    err = capsys.readouterr().err
    if command == "mrc" and kind == "symlink":  # the name picks no folder: --out is used
        assert rc == 0, err
        assert list(outside.iterdir()) == [] and (out / "mrc" / "mrc.csv").is_file()
        return
    assert rc == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "must be a folder name" in err or "symbolic link" in err
    assert list(outside.iterdir()) == []
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert after == before


def test_a_symlinked_run_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from simulator.config import load_scenario, run_id_of

    monkeypatch.chdir(ROOT)
    out, outside = tmp_path / "out", tmp_path / "outside"
    outside.mkdir()
    sc = load_scenario("scenarios/default.toml", [t for t in TINY if t != "--set"])
    (out / "default").mkdir(parents=True)
    (out / "default" / run_id_of(sc)).symlink_to(outside, target_is_directory=True)
    assert main(["run", "--out", str(out), "--no-report", *TINY]) == 2
    assert "is a symbolic link" in capsys.readouterr().err
    assert list(outside.iterdir()) == []


def test_a_file_where_the_name_folder_goes_is_refused(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    (tmp_path / "default").write_text("mine\n")
    assert main(["run", "--out", str(tmp_path), "--no-report", *TINY]) == 2
    assert "default: exists and is not a folder" in capsys.readouterr().err
    assert (tmp_path / "default").read_text() == "mine\n"


@pytest.mark.parametrize("command", ["plot", "trace", "bench", "mrc", "run"])
def test_a_nul_in_an_output_path_is_one_line(command: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    bad = str(tmp_path / "a\0b")
    argv = {
        "plot": ["plot", "tests/fixtures/results/run", "--out", bad],
        "trace": ["trace", "convert", str(_trace(tmp_path / "t.npy")), bad + ".csv"],
        "bench": ["bench", "--json", bad + ".json", "--only", "ci_host_only"],
        "mrc": ["mrc", str(_trace(tmp_path / "t.npy")), "--sizes", "0.5", "--out", bad],
        "run": ["run", "--out", bad, "--no-report", *TINY],
    }[command]
    before = sorted(tmp_path.rglob("*"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a\\x00b" in err
    assert sorted(tmp_path.rglob("*")) == before


def test_the_name_rule() -> None:
    for good in ("default", "q3_nested_blindness", "a.b-c_d", "_x", "9" * 64):
        assert name_problem(good) is None
    for bad in ("", ".", "..", ".hidden", "-x", "a/b", "/etc", "a\0b", "a b", "9" * 65, "é",
                "a\nb", 5):
        assert name_problem(bad) is not None, bad
    assert safe_name("my trace.csv") == "my_trace.csv" and safe_name("..") == "_.."
    assert name_problem(safe_name("../../x y")) is None


def test_folder_under_keeps_to_the_root(tmp_path: Path) -> None:
    assert folder_under(tmp_path, "a", "b") == tmp_path / "a" / "b"
    for parts in (("..",), ("a", ".."), ("/abs",), ("a/b",)):
        with pytest.raises(OutputError):
            folder_under(tmp_path, *parts)
    # the root itself may be a link (results kept on another disk)
    (tmp_path / "real").mkdir()
    (tmp_path / "root").symlink_to(tmp_path / "real")
    assert folder_under(tmp_path / "root", "x") == tmp_path / "root" / "x"

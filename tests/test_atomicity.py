"""A run folder appears whole or not at all, whatever happens while it is written.

The figures and report.html are part of the folder (never written into a folder already marked
complete); stale temporaries of killed writers are removed by the next writer; writers of one
run id take turns and never crash; files a user put into a run folder are never deleted; resume
redoes a folder that misses any file it must have; a conversion onto a full disk leaves nothing.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.config import scenario_from_dict
from simulator.output import atomic_write
from simulator.output.errors import OutputError
from simulator.output.locks import claim, release
from simulator.output.run_folder import (
    COMPLETE_MARKER,
    complete_summary,
    manifest,
    write_run,
)
from simulator.output.stale import remove_stale
from simulator.runner import simulate

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--set", "sim.duration_ms=5", "--set", "vm.memory=16MiB", "--set", "host.memory=12MiB",
        "--set", "vm.vcpus=1"]


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*") if p.name != COMPLETE_MARKER)


def test_the_report_is_inside_the_complete_folder(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["run", "--out", str(tmp_path), *TINY]) == 0
    [folder] = (tmp_path / "default").iterdir()
    listed = manifest(folder)
    assert listed is not None and "report.html" in listed
    assert any(name.startswith("figures/") and name.endswith(".png") for name in listed)
    assert _hidden(tmp_path) == []


def test_a_failing_report_leaves_no_run_folder(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import simulator.report

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(simulator.report, "write_report", full_disk)
    assert main(["run", "--out", str(tmp_path), *TINY]) == 1  # the disk filled: exit 1
    assert list((tmp_path / "default").iterdir()) == []


def _age(path: Path, seconds: float = 3600.0) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_stale_temporaries_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    stale_dir = tmp_path / ".0123456789ab.x1y2z3w4.tmp"
    legacy_dir = tmp_path / ".0123456789ab.abcdefgh"  # a staging folder of older versions
    stale_file = tmp_path / ".sweep.csv.1a2b3c4d.tmp"
    live_dir = tmp_path / ".ba9876543210.q1w2e3r4.tmp"
    young = tmp_path / ".sweep.csv.00000000.tmp"
    users = [tmp_path / ".git", tmp_path / "notes.tmp"]
    for d in (stale_dir, legacy_dir, live_dir, users[0]):
        d.mkdir()
        (d / "f").write_text("x")
    for f in (stale_file, young, users[1]):
        f.write_text("x")
    for p in (stale_dir, legacy_dir, stale_file, live_dir, *users):
        _age(p)
    lock = claim(live_dir)  # a writer that is still alive holds its claim
    try:
        removed = remove_stale(tmp_path)
    finally:
        release(lock)
    assert sorted(removed) == sorted([stale_dir, legacy_dir, stale_file])
    assert live_dir.is_dir() and young.is_file() and all(p.exists() for p in users)


def test_the_next_run_cleans_what_a_killed_run_left(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    name = tmp_path / "default"
    name.mkdir()
    left = name / ".5f0c14f2d675.abcd1234.tmp"
    left.mkdir()
    (left / "summary.csv").write_text("half")
    _age(left)
    assert main(["run", "--out", str(tmp_path), "--no-report", *TINY]) == 0
    assert not left.exists() and _hidden(tmp_path) == []


def test_writers_of_one_run_id_take_turns(tmp_path: Path) -> None:
    sc = scenario_from_dict({"name": "race", "sim": {"duration_ms": 5},
                             "vm": {"memory": "16MiB", "vcpus": 1}, "host": {"memory": "12MiB"}})
    result = simulate(sc)
    folder = tmp_path / "race" / "id"
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(8):
                write_run(result, folder)
        except BaseException as e:  # pragma: no cover - what the test is looking for
            errors.append(e)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert complete_summary(folder) is not None
    assert [p.name for p in (tmp_path / "race").iterdir()] == ["id"]


def test_user_files_are_never_deleted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["run", "--out", str(tmp_path), "--no-report", *TINY]) == 0
    [folder] = (tmp_path / "default").iterdir()
    (folder / "notes.txt").write_text("mine\n")
    (folder / "figures").mkdir()
    (folder / "figures" / "mine.pdf").write_text("mine\n")
    capsys.readouterr()
    assert main(["run", "--out", str(tmp_path), "--no-report", *TINY]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did not write (figures/mine.pdf, notes.txt)" in err
    assert (folder / "notes.txt").read_text() == "mine\n"
    assert complete_summary(folder) is not None
    # the same refusal from a sweep whose first run is that run, before anything runs
    sweep = tmp_path / "s.toml"
    sweep.write_text((ROOT / "scenarios/default.toml").read_text()
                     + '\n[sweep]\n"sim.seed" = [1, 2]\n')
    assert main(["sweep", str(sweep), "--out", str(tmp_path), "--jobs", "1", "--no-progress",
                 "--no-report", *TINY]) == 2
    assert "did not write" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "default").iterdir()) == [folder.name]
    assert (folder / "notes.txt").read_text() == "mine\n"


def test_resume_redoes_a_folder_missing_any_file(tmp_path: Path) -> None:
    sc = scenario_from_dict({"name": "r", "sim": {"duration_ms": 5},
                             "vm": {"memory": "16MiB", "vcpus": 1}, "host": {"memory": "12MiB"}})
    result = simulate(sc)

    def figures(staging: Path, final: Path) -> None:
        atomic_write(staging / "figures" / "a.png", b"png")

    folder = write_run(result, tmp_path / "r" / "id", finish=figures)
    assert complete_summary(folder) is not None
    (folder / "timeseries.csv").unlink()
    assert complete_summary(folder) is None
    folder = write_run(result, folder, finish=figures)
    (folder / "figures" / "a.png").unlink()  # listed by the marker
    assert complete_summary(folder) is None


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_a_conversion_onto_a_full_disk_leaves_nothing(suffix: str, tmp_path: Path) -> None:
    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run([sys.executable, "-m", "simulator", "trace", "convert",
                           "data/cloudPhysicsIO.oracleGeneral.bin", str(out / f"t{suffix}")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          preexec_fn=small_disk)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("\n") == 1 and "cannot write: File too large" in proc.stderr
    assert list(out.iterdir()) == []


def test_an_output_error_names_the_target_not_the_temporary(tmp_path: Path) -> None:
    def failing(path: Path) -> None:
        raise OSError(28, "No space left on device", str(path))

    with pytest.raises(OutputError) as info:
        atomic_write(tmp_path / "f.csv", failing)
    assert str(info.value) == f"{tmp_path / 'f.csv'}: cannot write: No space left on device"
    assert info.value.exit_code == 1
    assert list(tmp_path.iterdir()) == []

"""Ctrl-C and crashes leave nothing half-written: completed run folders are complete, no
temporary names are left behind, and --resume picks up exactly what is missing."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from simulator.config import scenario_from_dict
from simulator.output.run_folder import COMPLETE_MARKER
from simulator.runner import run_one

TINY: dict[str, Any] = {"name": "tiny", "sim": {"duration_ms": 10},
                        "vm": {"memory": "16MiB", "vcpus": 1}, "host": {"memory": "12MiB"}}


def test_interrupt_while_writing_a_run_leaves_no_folder(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    sc = scenario_from_dict(TINY)
    real = os.replace

    def interrupted(src: Any, dst: Any) -> None:
        if Path(dst).name == "lru_gen.txt":  # its temporary file is written, not yet renamed
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_one(sc, tmp_path)
    leftovers = list((tmp_path / "tiny").iterdir())
    assert leftovers == []  # neither the run folder nor its temporary twin


def test_a_completed_run_is_replaced_atomically(tmp_path: Path) -> None:
    sc = scenario_from_dict(TINY)
    _, folder = run_one(sc, tmp_path)
    assert (folder / COMPLETE_MARKER).is_file()
    wall = ("wall_time_s", "accesses_per_wall_s")

    def summary() -> dict[str, Any]:
        d = json.loads((folder / "summary.json").read_text())
        return {k: v for k, v in d.items() if k not in wall}

    before = summary()
    _, again = run_one(sc, tmp_path)
    assert again == folder and summary() == before
    assert [p.name for p in (tmp_path / "tiny").iterdir()] == [folder.name]


SWEEP = """
name = "intr"
[sim]
duration_ms = 600
[vm]
memory = "64MiB"
vcpus = 2
[host]
memory = "48MiB"
[sweep]
"sim.seed" = [1, 2, 3, 4, 5, 6]
"""


def _sweep(tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    scen = tmp_path / "intr.toml"
    scen.write_text(SWEEP)
    return subprocess.Popen(
        [sys.executable, "-m", "simulator", "sweep", str(scen), "--jobs", "1",
         "--out", str(tmp_path / "out"), "--no-progress", "--no-report", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[1],
        # a background job of a non-interactive shell (how CI may start us) inherits an
        # ignored SIGINT, and Python then installs no KeyboardInterrupt handler: restore it,
        # as a terminal's Ctrl-C would find it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def test_ctrl_c_during_a_sweep_then_resume(tmp_path: Path) -> None:
    proc = _sweep(tmp_path)
    root = tmp_path / "out" / "intr"
    deadline = time.time() + 120
    while time.time() < deadline:  # wait for the first complete run, then Ctrl-C
        if root.is_dir() and any((p / COMPLETE_MARKER).exists() for p in root.iterdir()
                                 if p.is_dir() and not p.name.startswith(".")):
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "Traceback" not in err
    runs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert 1 <= len(runs) < 6
    for run in runs:  # every folder that exists is complete
        assert (run / COMPLETE_MARKER).is_file() and (run / "summary.csv").is_file()
    assert not [p for p in root.iterdir() if p.name.startswith(".")]
    done = len(runs)
    resumed = _sweep(tmp_path, "--resume")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert f"({6 - done} run now, {done} resumed)" in out
    assert sum(1 for p in root.iterdir() if p.is_dir() and (p / COMPLETE_MARKER).exists()) == 6
    assert (root / "sweep.csv").is_file()

"""Signals to a running command leave no process of its tree behind, and what finished is kept.

A ``sweep --jobs 2`` driver is started in its own session, so every process it creates (the
workers, multiprocessing's resource tracker) shares its session id, and killed once a run has
finished: with SIGINT (to the driver alone, as ``kill -INT``, and to the whole process group, as
a terminal's Ctrl-C), SIGTERM and SIGKILL. Afterwards no process of the session may remain, and
for INT and TERM the driver exits 130/143 with ``sweep.csv`` listing exactly the runs whose
folders are complete. ``mrc`` and ``bench`` share the pool (:mod:`simulator.workers`), checked
by killing an ``mrc`` too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from simulator.output.run_folder import COMPLETE_MARKER

ROOT = Path(__file__).resolve().parents[1]

SWEEP = """
name = "sig"
[sim]
duration_ms = 400
[vm]
memory = "64MiB"
vcpus = 2
[host]
memory = "48MiB"
[sweep]
"sim.seed" = [1, 2, 3, 4, 5, 6, 7, 8]
"""


def _session(sid: int) -> list[int]:
    """The pids of live (not zombie) processes in session ``sid``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == sid and fields[0] != "Z":  # fields[0] is the state
            pids.append(int(entry.name))
    return pids


def _gone(sid: int, timeout: float = 30.0) -> list[int]:
    deadline = time.time() + timeout
    left = _session(sid)
    while left and time.time() < deadline:
        time.sleep(0.2)
        left = _session(sid)
    return left


def _start(argv: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "simulator", *argv], cwd=cwd, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        # a background job of a non-interactive shell inherits an ignored SIGINT: restore it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _complete_runs(root: Path) -> set[str]:
    if not root.is_dir():
        return set()
    return {p.name for p in root.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / COMPLETE_MARKER).exists()}


def _wait_for(check: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.time() + 180
    while not check():
        assert proc.poll() is None, f"ended before {what}: {proc.communicate()[1]}"
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


SIGNALS = {
    "int": (lambda p: p.send_signal(signal.SIGINT), 130),
    "int-group": (lambda p: os.killpg(p.pid, signal.SIGINT), 130),
    "term": (lambda p: p.send_signal(signal.SIGTERM), 143),
    "kill": (lambda p: p.send_signal(signal.SIGKILL), -signal.SIGKILL),
}


@pytest.mark.slow
@pytest.mark.parametrize("how", list(SIGNALS))
def test_a_signalled_sweep_leaves_no_process_and_keeps_what_finished(how: str,
                                                                    tmp_path: Path) -> None:
    (tmp_path / "sig.toml").write_text(SWEEP)
    out = tmp_path / "out"
    proc = _start(["sweep", str(tmp_path / "sig.toml"), "--jobs", "2", "--out", str(out),
                   "--no-progress", "--no-report"], ROOT)
    root = out / "sig"
    _wait_for(lambda: bool(_complete_runs(root)), proc, "the first run")
    send, code = SIGNALS[how]
    send(proc)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert _gone(proc.pid) == []
    if how == "kill":
        return
    assert "Traceback" not in err and err.count("\n") == 1, err
    done = _complete_runs(root)
    assert 1 <= len(done) < 8
    table = pd.read_csv(root / "sweep.csv")
    assert set(table["run_id"]) == done
    assert (table["status"] == "ok").all()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_signalled_mrc_leaves_no_process(sig: int, tmp_path: Path) -> None:
    trace = ROOT / "data" / "cloudPhysicsIO.oracleGeneral.bin"
    proc = _start(["mrc", str(trace), "--sizes", "0.01,0.02,0.05,0.1", "--jobs", "2",
                   "--out", str(tmp_path / "m")], ROOT)
    # wait until both replay workers run (the driver's children beyond the resource tracker)
    _wait_for(lambda: len(_session(proc.pid)) >= 4, proc, "the replay workers")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == (143 if sig == signal.SIGTERM else -sig), err
    assert _gone(proc.pid) == []
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())

"""An output location that cannot be written is one line naming it, and nothing half-written.

Every command that writes gets ``--out`` (or its output path) on a file, in ``/proc`` and in
``/sys`` (read-only for files): exit 2 and one line with the path and the reason, before any
work is done. A disk that fills while a run folder is written (``RLIMIT_FSIZE``, with SIGXFSZ
ignored, makes every write past the limit fail with EFBIG) is exit 1, and leaves nothing.
"""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simulator.cli import main

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--set", "sim.duration_ms=5", "--set", "vm.memory=16MiB", "--set", "host.memory=12MiB",
        "--set", "vm.vcpus=1"]


def _argv(command: str, out: str, tmp: Path) -> list[str]:
    trace = tmp / "t.npy"
    np.save(trace, np.arange(1000, dtype=np.int64) % 100)
    return {
        "run": ["run", "--out", out, *TINY],
        "sweep": ["sweep", "scenarios/sweep_example.toml", "--out", out, "--jobs", "1",
                  "--no-progress", "--set", "sim.duration_ms=5"],
        "plot": ["plot", "tests/fixtures/results/run", "--out", out],
        "selftest": ["selftest", "access-tracking", "-b", "16M", "--out", out],
        "questions": ["questions", "--quick", "--only", "q5_fast_only", "--out", out],
        "bench-json": ["bench", "--json", f"{out}/b.json", "--only", "ci_host_only"],
        "bench-markdown": ["bench", "--markdown", f"{out}/b.md", "--only", "ci_host_only"],
        "mrc": ["mrc", str(trace), "--sizes", "0.5", "--out", out],
        "trace-convert": ["trace", "convert", str(trace), f"{out}/t.csv"],
    }[command]


COMMANDS = ("run", "sweep", "plot", "selftest", "questions", "bench-json", "bench-markdown",
            "mrc", "trace-convert")


@pytest.mark.parametrize("where", ["file", "proc", "sys"])
@pytest.mark.parametrize("command", COMMANDS)
def test_an_unwritable_output_is_one_line_and_exit_2(command: str, where: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder\n")
    out = {"file": str(blocker), "proc": "/proc/mglru-sim-out",
           "sys": "/sys/mglru-sim-out"}[where]
    argv = _argv(command, out, tmp_path)
    before = sorted(tmp_path.rglob("*"))
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert out in err and ("cannot write" in err or "not a folder" in err), err
    assert sorted(tmp_path.rglob("*")) == before
    assert blocker.read_text() == "not a folder\n"


def _full_disk() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
    resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))


@pytest.mark.parametrize("command", ["run", "sweep", "selftest"])
def test_a_disk_that_fills_is_exit_1_and_leaves_nothing(command: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = _argv(command, str(out), tmp_path)
    proc = subprocess.run([sys.executable, "-m", "simulator", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, preexec_fn=_full_disk)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("\n") == 1 and "File too large" in proc.stderr, proc.stderr
    assert ".tmp" not in proc.stderr  # the file of the run folder is named, not a temporary
    leftovers = [p for p in out.rglob("*") if p.is_file()]
    assert leftovers == []

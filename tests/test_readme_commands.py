"""Every command of README's command table works from a directory outside the repository.

Each command runs as a user would type it (the ``mglru-sim`` console script of this
environment, in a fresh subprocess), in a temporary directory with nothing of the repository
in it, shrunk with ``--set`` so the whole file takes a minute. A command added to README's
table without a case here fails the first test. ``make check-readme`` runs this file alone.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
CLI = Path(sys.executable).with_name("mglru-sim")
TINY = ["--set", "sim.duration_ms=20", "--set", "vm.memory=16MiB", "--set", "host.memory=12MiB"]

CASES: dict[str, list[list[str]]] = {
    "run": [["run", "default", *TINY, "--no-report"],
            ["run", "questions/q6", *TINY, "--no-report", "-q"]],
    "sweep": [["sweep", "default", *TINY, "--set", "vm.vcpus=[1,2]", "--jobs", "1", "-q"]],
    "plot": [["plot", "results/default"]],
    "selftest": [["selftest", "access-tracking", "-v", "1", "-b", "16M", "-w", "--no-out"]],
    "bench": [["bench", "--only", "host_only", "--set", "sim.duration_ms=20"]],
    "questions": [["questions", "--quick", "--only", "q6", "--set", "sim.duration_ms=20",
                   "--out", "questions", "-q"]],
    "mrc": [["mrc", "trace.csv", "--sizes", "8,0.5", "--jobs", "1"]],
    "trace": [["trace", "info", "trace.csv"], ["trace", "convert", "trace.csv", "trace.npy"]],
    "validate": [["validate", "default"], ["validate", "sweep_example"]],
    # every list and shell is tested in-process (test_users_view, test_cli); here the two
    # that depend on where the package's files are
    "list": [["list", "scenarios"], ["list", "kernels"]],
    "completion": [["completion", "bash"]],
}
"""The README command -> the invocations that exercise it, in an order that lets later ones
read what earlier ones wrote (``plot`` reads the sweep's folder)."""


def readme_commands() -> list[str]:
    return re.findall(r"^\| `mglru-sim ([a-z]+)", README, re.MULTILINE)


def test_every_readme_command_has_a_case() -> None:
    assert set(readme_commands()) == set(CASES)


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("elsewhere")
    assert not where.resolve().is_relative_to(ROOT)
    lines = [f"{page % 97},{'w' if page % 3 == 0 else 'r'}" for page in range(2000)]
    (where / "trace.csv").write_text("page,rw\n" + "\n".join(lines) + "\n")
    return where


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(CLI), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False, env=env)


@pytest.mark.parametrize("command", list(CASES))
def test_readme_command_runs_outside_the_repository(command: str, elsewhere: Path) -> None:
    for args in CASES[command]:
        done = _run(args, elsewhere)
        assert done.returncode == 0, f"mglru-sim {' '.join(args)}:\n{done.stderr[-2000:]}"
        assert done.stdout.strip(), f"mglru-sim {' '.join(args)} printed nothing"
        assert "\r" not in done.stderr  # no progress redraws when stderr is not a terminal


def test_what_the_commands_wrote(elsewhere: Path) -> None:
    # runs after the parametrized cases (file order); each command wrote where README says
    sweep = elsewhere / "results" / "default"
    assert (sweep / "sweep.csv").is_file() and (sweep / "report.html").is_file()
    assert any(sweep.glob("sweep_passes.*")) and any(sweep.glob("sweep_timeseries.*"))
    assert (elsewhere / "results" / "q6_chromeos").is_dir()
    assert (elsewhere / "questions" / "findings.md").is_file()
    assert (elsewhere / "results" / "mrc" / "trace.csv" / "mrc_lru.csv").is_file()
    assert (elsewhere / "trace.npy").is_file()


def test_version_and_module_entry_point(elsewhere: Path) -> None:
    done = _run(["--version"], elsewhere)
    assert done.returncode == 0 and done.stdout.startswith("mglru-sim ")
    module = subprocess.run([sys.executable, "-m", "simulator", "list", "scenarios"],
                            cwd=elsewhere, capture_output=True, text=True, timeout=120,
                            check=False)
    assert module.returncode == 0 and "default" in module.stdout

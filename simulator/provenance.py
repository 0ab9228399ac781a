"""Where a run came from: the ``[provenance]`` table of its ``config.toml``.

A run folder's ``config.toml`` is the effective configuration (every key, sizes in units) and,
after it, how that configuration was made: the scenario file, each ``--set`` in order, the
sweep values of a sweep run, the mglru-sim version and the git commit of the code (with
``-dirty`` when it has uncommitted changes), when the code is a git checkout. The scenario
parser ignores ``[provenance]``, so ``config.toml`` still loads as a scenario, and the run id
hashes the configuration alone (two checkouts that simulate the same configuration file their
runs under the same id).
"""

from __future__ import annotations

import dataclasses
import functools
import subprocess
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from simulator import __version__
from simulator.config import toml_string
from simulator.describe import describe_config
from simulator.output.run_folder import RunResult

TABLE = "provenance"


@functools.cache
def git_commit() -> str | None:
    """The commit of the checkout this code runs from (``-dirty`` if files changed), or None
    when it is not a git checkout or git is not installed."""
    here = Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(here), *args], capture_output=True,
                                  text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return None
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return commit + ("-dirty" if dirty else "")


@dataclass(frozen=True, slots=True)
class Provenance:
    """How a run's configuration was made."""

    scenario: str
    """The scenario file (as resolved: a path, or a bundled scenario's path)."""
    overrides: tuple[str, ...] = ()
    """Each ``--set KEY=VALUE`` (and ``--seed``, ``--check-invariants`` as the ``--set`` they
    stand for), in order."""
    sweep: tuple[str, ...] = ()
    """A sweep run's swept values, ``key=value`` as written in the sweep."""
    version: str = __version__
    commit: str | None = dataclasses.field(default_factory=lambda: git_commit())
    """Taken where the provenance is made (the driver of a sweep, not its workers)."""

    def to_toml(self) -> str:
        """The ``[provenance]`` table (with a leading blank line)."""
        def strings(values: Sequence[str]) -> str:
            return "[" + ", ".join(toml_string(v) for v in values) + "]"

        lines = [f"\n[{TABLE}]", f"scenario = {toml_string(self.scenario)}",
                 f"set = {strings(self.overrides)}"]
        if self.sweep:
            lines.append(f"sweep = {strings(self.sweep)}")
        lines.append(f"version = {toml_string(self.version)}")
        if self.commit:
            lines.append(f"git_commit = {toml_string(self.commit)}")
        return "\n".join(lines) + "\n"


def header(config_toml: str, provenance: Provenance) -> str:
    """Comment lines for the top of ``config.toml``: what the run simulated, in one sentence
    made from the effective configuration, and a warning that ``description`` predates the
    overrides when there are any."""
    lines = [f"# {describe_config(tomllib.loads(config_toml))}"]
    if provenance.overrides or provenance.sweep:
        lines.append("# (`description` is the scenario file's, written before the overrides "
                     f"in [{TABLE}])")
    return "\n".join(lines) + "\n"


def with_provenance(result: RunResult, provenance: Provenance | None) -> RunResult:
    """``result`` whose ``config.toml`` starts with a one-sentence summary of the effective
    configuration (:func:`header`) and ends with the ``[provenance]`` table."""
    if provenance is None:
        return result
    text = result.config_toml
    return dataclasses.replace(result, config_toml=header(text, provenance) + text
                               + provenance.to_toml())


__all__ = ["TABLE", "Provenance", "git_commit", "header", "with_provenance"]

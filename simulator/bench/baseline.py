"""The baseline a bench run is compared with: where it is, reading it, updating it.

``results/baselines/<suite>.json`` unless ``--baseline`` names another file. An update with
``--only`` replaces the cases that ran and keeps the others.
"""

from __future__ import annotations

from pathlib import Path

from simulator.bench.compare import BaselineError, BenchResults, load_results

BASELINES = Path("results/baselines")
ENV_KEYS = ("python", "numpy", "simpy", "cpu")
"""Environment entries that, when they differ from the baseline's, are worth a note."""


def baseline_path(suite: str, named: str | None) -> Path:
    """The baseline file: the one named, else ``results/baselines/<suite>.json``."""
    return Path(named) if named is not None else BASELINES / f"{suite}.json"


def load_baseline(path: Path, suite: str, *, named: bool,
                  updating: bool) -> BenchResults | None:
    """The baseline's results, or None when there is none yet (a default path that does not
    exist, or a named one about to be created by ``--update-baseline``).

    Raises BaselineError for a named file that does not exist, an unreadable one, or one of
    another suite.
    """
    if not path.exists() and not (named and not updating):
        return None
    baseline = load_results(path)
    if baseline.suite != suite:
        raise BaselineError(f"{path}: a baseline of suite {baseline.suite!r}, not {suite!r}")
    return baseline


def merged(old: BenchResults | None, new: BenchResults, partial: bool) -> BenchResults:
    """The results to store as the new baseline: with ``partial`` (``--only``), the cases
    that ran replace theirs and the others are kept."""
    if old is None or not partial:
        return new
    cases = dict(old.cases)
    cases.update(new.cases)
    return BenchResults(new.suite, cases, new.environment, new.created_utc, new.targets,
                        new.notes)


def environment_changes(baseline: BenchResults, now: BenchResults) -> list[str]:
    """``"numpy 2.1 -> 2.2"`` for each :data:`ENV_KEYS` entry that differs."""
    return [f"{k} {baseline.environment.get(k, '?')} -> {now.environment.get(k, '?')}"
            for k in ENV_KEYS if baseline.environment.get(k) != now.environment.get(k)]


__all__ = ["BASELINES", "ENV_KEYS", "baseline_path", "environment_changes", "load_baseline",
           "merged"]

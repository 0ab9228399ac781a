"""The benchmark suites: which cases exist and how each is run.

- ``ci``: every ``*.toml`` under ``scenarios/ci/`` (or ``--scenarios DIR``), one case each,
  named after the scenario's ``name``. Each runs in its own process; see
  :mod:`simulator.bench.metrics` for what is recorded.
- ``perf``: the measurements behind the performance targets (:mod:`simulator.bench.perf`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from simulator.bench.compare import BaselineError, BenchResults, environment, now_utc
from simulator.bench.metrics import CaseResult, measure_scenario, run_isolated
from simulator.config import ConfigError, read_toml
from simulator.config.bundled import bundled_dir
from simulator.progress import bar as progress_bar

SUITES = ("ci", "perf")
CI_SCENARIOS = bundled_dir("ci")
"""The bundled ``scenarios/ci`` (found from any directory)."""


@dataclass(frozen=True, slots=True)
class ScenarioCase:
    """A ci case: a scenario file and the name its results go under."""

    name: str
    path: Path


def ci_cases(folder: Path = CI_SCENARIOS, only: Sequence[str] = ()) -> list[ScenarioCase]:
    """The scenarios of a ci suite folder, sorted by file name. Raises ConfigError when the
    folder has none, two share a name, or ``only`` names a case that does not exist."""
    files = sorted(Path(folder).glob("*.toml"))
    if not files:
        raise ConfigError(str(folder), "", "no scenario files (*.toml) in this folder")
    cases: list[ScenarioCase] = []
    seen: dict[str, Path] = {}
    for path in files:
        name = str(read_toml(path).get("name", path.stem))
        if name in seen:
            raise ConfigError(str(path), "name", f"{name!r} is also the name of {seen[name]}")
        seen[name] = path
        cases.append(ScenarioCase(name, path))
    if only:
        unknown = sorted(set(only) - set(seen) - {c.path.stem for c in cases})
        if unknown:
            raise ConfigError("--only", "", f"no ci case {unknown[0]!r} (cases: "
                              f"{', '.join(sorted(seen))})")
        cases = [c for c in cases if c.name in only or c.path.stem in only]
    return cases


def run_ci(cases: Sequence[ScenarioCase], overrides: Sequence[str] = (), jobs: int = 1,
           progress: Callable[[str], None] | None = None) -> BenchResults:
    """Run every ci case, each in a fresh process; ``overrides`` (``key=value``) apply to all."""
    from simulator.config import load_scenario

    for case in cases:  # bad input fails here, before anything runs
        load_scenario(case.path, overrides)

    bar = progress_bar(len(cases), "bench ci", "case")

    def done(i: int, res: CaseResult) -> None:
        bar.update(1)
        if progress is not None:
            perf = res.performance
            progress(f"  {res.name:<32} {perf.get('wall_time_s', 0.0):7.2f} s  "
                     f"{perf.get('accesses_per_wall_s', 0.0):>12,.0f} accesses/s  "
                     f"peak RSS {perf.get('peak_rss_mib', 0.0):,.0f} MiB")

    calls = [(c.name, str(c.path), list(overrides)) for c in cases]
    with bar:
        results = run_isolated(measure_scenario, calls, jobs=jobs, on_done=done)
    return BenchResults(suite="ci", cases={r.name: r for r in results},
                        environment=environment(), created_utc=now_utc())


PERF_PARTS = ("trace", "mrc", "aging", "guest")
"""The parts of the perf suite ``--only`` can pick."""


def run_suite(suite: str, *, only: Sequence[str] = (), overrides: Sequence[str] = (),
              scenarios: Path = CI_SCENARIOS, jobs: int = 1, trace: Path | None = None,
              progress: Callable[[str], None] = lambda line: None) -> BenchResults:
    """Run suite ``ci`` (the scenarios of ``scenarios``, ``jobs`` at a time) or ``perf``
    (``trace``: the CloudPhysics trace to replay). Raises ConfigError or BaselineError for bad
    input, before anything runs."""
    if suite == "ci":
        cases = ci_cases(scenarios, only)
        progress(f"bench ci: {len(cases)} scenario(s) from {scenarios}, {jobs} at a time")
        return run_ci(cases, overrides, jobs=jobs, progress=progress)
    from simulator.bench.perf import GUEST_SCENARIO, run_perf
    from simulator.config import load_scenario

    bad = sorted(set(only) - set(PERF_PARTS))
    if bad:
        raise BaselineError(f"--only: no perf part {bad[0]!r} (parts: {', '.join(PERF_PARTS)})")
    load_scenario(GUEST_SCENARIO, overrides)  # bad --set values fail here, before any run
    progress("bench perf: trace replay, aging pass, 64 GiB guest (a few minutes)")
    return run_perf(only, overrides, trace, progress=progress)


__all__ = ["CI_SCENARIOS", "PERF_PARTS", "SUITES", "ScenarioCase", "ci_cases", "run_ci",
           "run_suite"]

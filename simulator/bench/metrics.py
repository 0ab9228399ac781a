"""What a benchmark case measures: deterministic outcome metrics and performance figures.

A *case* is one scenario run (suite ``ci``) or one measurement of suite ``perf``. It yields

- **deterministic** metrics: everything in the run summary that follows from the scenario and
  its seed alone (counts, simulated times, accuracy, the resolved backend and lock). They are
  the same on every machine and every run, so any change is a change of the model;
- **performance** figures: wall time, CPU time, accesses per wall second and peak memory,
  which depend on the machine and its load;
- **info**: identity fields (the run id, a hash of the effective configuration) shown in the
  report but never compared, since adding a scenario key with a default changes them.

Each case runs in a fresh ``spawn`` process (:func:`run_isolated`, a pool of
:func:`simulator.workers.worker_pool`, so an interrupted bench leaves no process behind): the
peak resident set size (``VmHWM``, :func:`maxrss_mib`) is then that run's own, string hashing
gets a fresh seed (so an accidental dependence on set order shows up as a changed metric), and
a crash cannot take the bench down.
"""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from simulator.workers import worker_pool

Scalar = int | float | str | bool | None
"""A metric value as stored in JSON (``None`` = does not apply to this run)."""

PERF_SUMMARY_KEYS = frozenset({"wall_time_s", "accesses_per_wall_s"})
"""Summary columns that depend on the machine: performance figures, not outcome metrics."""

INFO_SUMMARY_KEYS = frozenset({"run_id", "scenario"})
"""Summary columns that identify a run: reported, never compared."""

HIGHER_IS_BETTER = ("accesses_per_wall_s", "ratio_vs_peer")
"""Name parts of performance figures where a larger value is an improvement (throughputs and
ratios to a peer); for every other figure (times, memory) smaller is better."""


def higher_is_better(metric: str) -> bool:
    return any(part in metric for part in HIGHER_IS_BETTER)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The metrics of one benchmark case."""

    name: str
    source: str
    """Where the case comes from: a scenario file, or a description of a perf measurement."""
    deterministic: dict[str, Scalar] = field(default_factory=dict)
    performance: dict[str, float] = field(default_factory=dict)
    info: dict[str, Scalar] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "deterministic": dict(self.deterministic),
                "performance": dict(self.performance), "info": dict(self.info)}

    @staticmethod
    def from_json(name: str, doc: Mapping[str, Any]) -> CaseResult:
        return CaseResult(name=name, source=str(doc.get("source", "")),
                          deterministic=dict(doc.get("deterministic", {})),
                          performance={k: float(v) for k, v in doc.get("performance", {}).items()
                                       if v is not None},
                          info=dict(doc.get("info", {})))


def scalar(value: Any) -> Scalar:
    """A JSON-safe metric value: numpy scalars unwrapped, NaN and infinities as ``None``."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def split_summary(summary: Mapping[str, Any]) -> tuple[dict[str, Scalar], dict[str, Scalar]]:
    """(deterministic metrics, info) of a run summary; performance columns are left out."""
    det: dict[str, Scalar] = {}
    info: dict[str, Scalar] = {}
    for key, value in summary.items():
        if key in PERF_SUMMARY_KEYS:
            continue
        (info if key in INFO_SUMMARY_KEYS else det)[key] = scalar(value)
    return det, info


def maxrss_mib() -> float:
    """This process's peak resident set size so far, in MiB: ``VmHWM`` where there is
    /proc (``ru_maxrss`` would be at least the forking process's: Linux carries it over the
    ``execve`` that starts a spawned worker), else ``ru_maxrss`` (KiB on Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_seconds() -> float:
    """User plus system CPU time of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


@dataclass(slots=True)
class Stopwatch:
    """Wall time, CPU time and the growth of the peak RSS over a stretch of code."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mib: float = 0.0
    peak_rss_delta_mib: float = 0.0
    _t0: float = 0.0
    _c0: float = 0.0
    _r0: float = 0.0

    def __enter__(self) -> Stopwatch:
        self._r0 = maxrss_mib()
        self._c0 = cpu_seconds()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self._t0
        self.cpu_s = cpu_seconds() - self._c0
        self.peak_rss_mib = maxrss_mib()
        self.peak_rss_delta_mib = self.peak_rss_mib - self._r0

    def figures(self) -> dict[str, float]:
        return {"cpu_time_s": self.cpu_s, "peak_rss_mib": self.peak_rss_mib,
                "peak_rss_delta_mib": self.peak_rss_delta_mib}


def measure_scenario(name: str, path: str, overrides: Sequence[str] = ()) -> CaseResult:
    """Run one scenario in this process and collect its metrics (no files written)."""
    from simulator.config import load_scenario
    from simulator.runner import simulate

    sc = load_scenario(path, overrides)
    with Stopwatch() as sw:
        result = simulate(sc)
    det, info = split_summary(result.summary)
    perf = {"wall_time_s": float(result.summary["wall_time_s"]),
            "accesses_per_wall_s": float(result.summary["accesses_per_wall_s"] or 0.0)}
    perf.update(sw.figures())
    det["passes_rows"] = len(result.passes)
    det["timeseries_rows"] = len(result.timeseries)
    return CaseResult(name=name, source=path, deterministic=det, performance=perf, info=info)


def run_isolated(fn: Callable[..., T], calls: Iterable[tuple[Any, ...]], jobs: int = 1,
                 on_done: Callable[[int, T], None] | None = None) -> list[T]:
    """``fn(*args)`` for each argument tuple, each in its own fresh ``spawn`` process.

    Up to ``jobs`` run at once; results come back in call order. ``on_done(index, result)`` is
    called as each finishes (for progress lines). An exception in a child is re-raised here.
    """
    calls = list(calls)
    with worker_pool(jobs, max_tasks_per_child=1) as pool:
        futures = [pool.submit(fn, *args) for args in calls]
        results: list[T] = []
        for i, fut in enumerate(futures):
            res = fut.result()
            if on_done is not None:
                on_done(i, res)
            results.append(res)
    return results


__all__ = [
    "HIGHER_IS_BETTER", "INFO_SUMMARY_KEYS", "PERF_SUMMARY_KEYS", "CaseResult", "Scalar",
    "Stopwatch", "cpu_seconds", "higher_is_better", "maxrss_mib", "measure_scenario",
    "run_isolated", "scalar", "split_summary",
]

"""Miss-ratio curves of a trace: exact LRU (Mattson) and simulated MGLRU (``mglru-sim mrc``).

For each cache size (in pages, or as a fraction of the trace's distinct pages) this reports:

* ``lru_miss_ratio``: exact LRU from one Mattson pass over the whole trace
  (:mod:`simulator.mattson`; cold misses count);
* ``mglru_miss_ratio``: one replay of the trace by a host task under MGLRU, ``(faults_first_touch
  + refaults) / accesses`` of the run's summary. The scenario (defaults, then ``--set``
  overrides) is host-only (``vm.enabled = false``), with ``task.memory`` the distinct pages
  rounded up to 2 MiB, ``host.memory`` the cache size, ``task.workload.kind = "trace"`` and
  ``task.quantum_accesses`` one eighth of the cache (at most 1024) unless set, because a memcg
  can overshoot its limit by one quantum.

How a replay ends: the trace workload is endless (it rewinds), so the replay wraps it in a
one-pass limiter that hands out exactly the trace's records and then schedules a SimPy stop
event (:class:`simpy.core.StopSimulation`, the mechanism ``env.run(until=...)`` itself uses);
``sim.duration_ms`` is only a safety bound (one simulated hour). A replay that hits the bound
first reports the ratio over what it replayed, with a warning.

The sizes run in parallel (a process pool). :func:`write_mrc` writes ``mrc.csv``
(``cache_pages, lru_miss_ratio, mglru_miss_ratio``), ``mrc_lru.csv`` (the whole exact-LRU
curve from the same Mattson pass: every size where it steps, or 2,000 sizes on a log scale),
``mrc.json`` (the trace's name, records and distinct pages) and ``mrc.png`` / ``mrc.svg``
(:func:`simulator.plots.mrc_figure`: the curve, with MGLRU's points on it), each atomically.
With ``host.policy = "lru"`` the simulated column is the machine's exact LRU, a self-check that
must equal the Mattson column.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from simulator.config import (
    PAGE_SIZE,
    ConfigError,
    Scenario,
    apply_overrides,
    scenario_from_dict,
)
from simulator.progress import bar as progress_bar
from simulator.workers import worker_pool

if TYPE_CHECKING:
    from simulator.mattson import MissRatioCurve

MRC_COLUMNS = ("cache_pages", "lru_miss_ratio", "mglru_miss_ratio")
"""The columns of ``mrc.csv``, in order."""

CURVE_POINTS = 2000
"""At most this many sizes in ``mrc_lru.csv`` (every step of the curve when it has fewer)."""

SAFETY_DURATION_MS = 3.6e6
"""``sim.duration_ms`` of a replay unless overridden: the longest a scenario allows."""

TASK_GRANULE = 512 * PAGE_SIZE
"""``task.memory`` is the distinct pages rounded up to whole PTE tables (2 MiB)."""


@dataclass(frozen=True, slots=True)
class Replay:
    """One MGLRU replay of the trace at one cache size."""

    cache_pages: int
    misses: int
    accesses: int
    wall_s: float

    @property
    def miss_ratio(self) -> float:
        return self.misses / self.accesses if self.accesses else math.nan


MAX_SIZES = 1000
"""The most cache sizes one ``mrc`` asks for (each is one replay)."""
MAX_CACHE_PAGES = 2**40
"""The largest cache size in pages (4 PiB)."""


def size_values(text: str) -> list[int | float]:
    """The items of ``--sizes``, checked before anything is read: page counts in
    ``1..MAX_CACHE_PAGES`` and fractions of the distinct pages in (0, 1], at most
    :data:`MAX_SIZES` of them. Raises ValueError."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise ValueError("--sizes: no size given")
    if len(items) > MAX_SIZES:
        raise ValueError(f"--sizes: {len(items):,} sizes; at most {MAX_SIZES:,} (each is a "
                         "replay)")
    values: list[int | float] = []
    for item in items:
        try:
            value = int(item) if item.isdigit() else float(item)
        except ValueError:
            raise ValueError(f"--sizes: {item!r} is neither a page count nor a fraction") \
                from None
        if isinstance(value, float) and not (math.isfinite(value) and 0 < value <= 1):
            raise ValueError(f"--sizes: a fraction of the distinct pages must be in (0, 1], "
                             f"got {item!r} (give larger caches in pages)")
        if isinstance(value, int) and not 1 <= value <= MAX_CACHE_PAGES:
            raise ValueError(f"--sizes: a page count must be in 1..{MAX_CACHE_PAGES}, got "
                             f"{item!r}")
        values.append(value)
    return values


def parse_sizes(text: str, distinct_pages: int) -> list[int]:
    """Cache sizes in pages from ``"49,490"`` (pages) or ``"0.01,0.1"`` (fractions of the
    distinct pages, rounded to the nearest page, at least 1), mixed freely; sorted, unique.
    Raises ValueError (:func:`size_values`)."""
    return sorted({max(1, round(v * distinct_pages)) if isinstance(v, float) else v
                   for v in size_values(text)})


def base_document(trace: Path, trace_format: str, overrides: list[str]) -> dict[str, Any]:
    """The replay scenario before sizing: host-only, a trace-replaying task, then ``--set``."""
    doc: dict[str, Any] = {
        "name": "mrc",
        "sim": {"duration_ms": SAFETY_DURATION_MS, "sample_interval_ms": SAFETY_DURATION_MS,
                "lru_gen_snapshots": 0},
        "vm": {"enabled": False},
        "host": {"memory": TASK_GRANULE},
        "task": {"memory": TASK_GRANULE,
                 "workload": {"kind": "trace", "trace": str(trace.resolve()),
                              "trace_format": trace_format}},
    }
    return apply_overrides(doc, overrides)


def sized_scenario(doc: dict[str, Any], distinct_pages: int, cache_pages: int,
                   quantum_set: bool) -> Scenario:
    """The replay scenario for one cache size. Raises ConfigError."""
    d = apply_overrides(doc, [])
    d["task"]["memory"] = math.ceil(distinct_pages * PAGE_SIZE / TASK_GRANULE) * TASK_GRANULE
    d["host"]["memory"] = cache_pages * PAGE_SIZE
    if not quantum_set:
        d["task"]["quantum_accesses"] = min(1024, max(1, cache_pages // 8))
    return scenario_from_dict(d, f"mrc (cache {cache_pages} pages)")


class OnePass:
    """Wraps the replayed workload: hands out ``records`` touches, then stops the run."""

    name: ClassVar[str] = "trace"
    description: ClassVar[str] = "one pass of a trace, then stop the simulation"

    def __init__(self, inner: Any, records: int, env: Any) -> None:
        self.inner, self.left, self.env = inner, records, env
        self.pages: int = inner.pages

    def prefetchable(self, stream: int) -> int:
        """Touches that may be generated ahead: all but the last (taking it stops the run,
        which must happen at the simulated time of its own quantum)."""
        return max(self.left - 1, 0)

    def next_batch(self, stream: int, n: int) -> tuple[npt.NDArray[np.int64],
                                                        npt.NDArray[np.bool_]]:
        from simpy.core import StopSimulation

        take = min(n, self.left)
        if take <= 0:  # only if the stop below did not end the run at once
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.bool_)
        pages, writes = self.inner.next_batch(stream, take)
        self.left -= take
        if self.left == 0:
            stop = self.env.event()
            stop.callbacks.append(StopSimulation.callback)
            stop.succeed()
        return cast(npt.NDArray[np.int64], pages), cast(npt.NDArray[np.bool_], writes)


def replay_once(sc: Scenario, records: int) -> Replay:
    """Replay the task's trace once under ``sc`` (in this process)."""
    from simulator.host import TASK_MM
    from simulator.machine import Machine
    from simulator.output.summary import summary_row

    def one_pass(actor: str, workload: Any, env: Any) -> Any:
        return OnePass(workload, records, env) if actor == TASK_MM else workload

    if not sc.task_pages:
        raise RuntimeError("the scenario has no host-task workload to replay")
    t0 = time.perf_counter()
    data = Machine(sc, wrap_workload=one_pass).run()
    wall = time.perf_counter() - t0
    row = summary_row(data, wall)
    return Replay(cache_pages=sc.host_pages,
                  misses=int(row["faults_first_touch"]) + int(row["refaults"]),
                  accesses=int(row["accesses"]), wall_s=wall)


@dataclass(frozen=True, slots=True)
class TracePass:
    """What one pass over the trace found: the replay scenario, the counts, the sizes asked."""

    doc: dict[str, Any]
    """The replay scenario before sizing (:func:`base_document`)."""
    records: int
    distinct_pages: int
    sizes: list[int]
    pages: npt.NDArray[np.uint64]
    """Every record's raw page id, in trace order (what Mattson's algorithm reads)."""


def read_trace(trace: Path, trace_format: str, overrides: list[str], sizes: str,
               max_memory: int | None = None) -> TracePass:
    """Read the trace once with the replay scenario's reader options, and parse ``sizes``;
    before reading, refuse a trace whose page ids and Mattson pass would not fit.

    Raises ConfigError (a bad ``--set``, a corrupt or missing trace: TraceError is one),
    ValueError (bad sizes) or ResourceError.
    """
    from simulator.resources import check_estimate, mrc_driver_estimate, trace_records_bound
    from simulator.traces import summarize
    from workloads.trace import TraceParams, trace_reader

    doc = base_document(trace, trace_format, overrides)
    opts = scenario_from_dict(doc, "mrc").task.workload.params_as(TraceParams)
    reader = trace_reader(opts)
    check_estimate(mrc_driver_estimate(trace_records_bound(reader), len(size_values(sizes))),
                   f"mrc of {trace.name}", max_memory)
    summary = summarize(reader, opts.remap, opts.chunk)
    cache_sizes = parse_sizes(sizes, summary.distinct_pages)
    pages = np.concatenate([c.pages for c in reader.chunks(opts.chunk)])
    return TracePass(doc, summary.records, summary.distinct_pages, cache_sizes, pages)


def lru_curve(pages: npt.NDArray[np.uint64]) -> tuple[MissRatioCurve, float]:
    """Exact LRU at every cache size (one Mattson pass), and the seconds it took."""
    from simulator.mattson import miss_ratio_curve

    t0 = time.perf_counter()
    curve = miss_ratio_curve(pages)
    return curve, time.perf_counter() - t0


def lru_miss_ratios(pages: npt.NDArray[np.uint64],
                    sizes: list[int]) -> tuple[npt.NDArray[np.float64], float]:
    """Exact LRU's miss ratio at each size (one Mattson pass), and the seconds it took."""
    curve, seconds = lru_curve(pages)
    return curve.miss_ratio(sizes), seconds


def curve_frame(curve: MissRatioCurve, max_points: int = CURVE_POINTS) -> pd.DataFrame:
    """``mrc_lru.csv``: exact LRU's miss ratio from 1 page to every distinct page, at each
    size where it steps (every distinct stack distance), or at ``max_points`` sizes spread
    evenly on a log scale when there are more."""
    top = max(1, curve.distinct_pages)
    steps = np.unique(np.concatenate([[1, top], curve.sorted_distances]))
    if len(steps) > max_points:
        steps = np.unique(np.concatenate([
            np.rint(np.geomspace(1, top, max_points)).astype(np.int64), [top]]))
    steps = steps[(steps >= 1) & (steps <= top)]
    return pd.DataFrame({"cache_pages": steps.astype(np.int64),
                         "lru_miss_ratio": curve.miss_ratio(steps)})


def mglru_replays(tp: TracePass, jobs: int, overrides: Sequence[str] = (),
                  max_memory: int | None = None) -> tuple[dict[int, Replay], list[str]]:
    """One MGLRU replay per size, ``jobs`` at a time: the replays and the warnings to show
    (a size whose scenario is invalid, a replay cut short by ``sim.duration_ms``).
    ``overrides`` are the ``--set`` of :func:`read_trace` (one of ``task.quantum_accesses``
    keeps the quantum from being sized to the cache). Raises ResourceError, before any replay,
    if ``jobs`` of them would not fit."""
    from simulator.resources import check_parallel

    quantum_set = any(s.split("=", 1)[0].strip() == "task.quantum_accesses" for s in overrides)
    warnings: list[str] = []
    scenarios: dict[int, Scenario] = {}
    for size in tp.sizes:
        try:
            scenarios[size] = sized_scenario(tp.doc, tp.distinct_pages, size, quantum_set)
        except ConfigError as e:
            warnings.append(f"no MGLRU replay at {size} pages: {e}")
    check_parallel(list(scenarios.values()), max_memory, jobs, driver=tp.pages.nbytes)
    out: dict[int, Replay] = {}
    with progress_bar(len(scenarios), "MGLRU replays", "size") as bar:
        if jobs == 1 or len(scenarios) <= 1:
            for size, sc in scenarios.items():
                out[size] = replay_once(sc, tp.records)
                bar.update(1)
        else:
            with worker_pool(min(jobs, len(scenarios))) as pool:
                futures = {pool.submit(replay_once, sc, tp.records): size
                           for size, sc in scenarios.items()}
                for f in as_completed(futures):
                    out[futures[f]] = f.result()
                    bar.update(1)
            out = {size: out[size] for size in scenarios}  # size order, as before
    warnings += [f"the replay at {size} pages stopped after {r.accesses:,} of "
                 f"{tp.records:,} records (sim.duration_ms)"
                 for size, r in out.items() if r.accesses < tp.records]
    return out, warnings


def mrc_frame(sizes: list[int], lru: npt.NDArray[np.float64],
              replays: dict[int, Replay]) -> pd.DataFrame:
    """The ``mrc.csv`` table: one row per size (``nan`` where no replay ran)."""
    return pd.DataFrame({
        "cache_pages": np.asarray(sizes, dtype=np.int64),
        "lru_miss_ratio": lru,
        "mglru_miss_ratio": [replays[s].miss_ratio if s in replays else math.nan
                             for s in sizes],
    }, columns=list(MRC_COLUMNS))


def write_mrc(frame: pd.DataFrame, out: Path, curve: pd.DataFrame | None = None,
              about: dict[str, Any] | None = None) -> list[Path]:
    """``mrc.csv``, the whole exact-LRU curve ``mrc_lru.csv`` and what the trace is
    (``mrc.json``: name, records, distinct pages) when given, and the figure (PNG and SVG)
    under ``out``, each atomically."""
    from simulator.output import atomic_write
    from simulator.plots import mrc_figure
    from simulator.plots.style import save

    def csv(table: pd.DataFrame) -> str:
        return table.to_csv(index=False, float_format="%.6f", lineterminator="\n")

    written = [atomic_write(out / "mrc.csv", csv(frame))]
    if curve is not None:
        written.append(atomic_write(out / "mrc_lru.csv", csv(curve)))
    if about is not None:
        written.append(atomic_write(out / "mrc.json", json.dumps(about, indent=2) + "\n"))
    figures = save(mrc_figure(frame, curve, about), out, "mrc")
    return [*written, figures["png"], figures["svg"]]


__all__ = ["CURVE_POINTS", "MAX_CACHE_PAGES", "MAX_SIZES", "MRC_COLUMNS", "OnePass", "Replay",
           "TracePass", "base_document", "curve_frame", "lru_curve", "lru_miss_ratios",
           "mglru_replays", "mrc_frame", "parse_sizes", "read_trace", "replay_once",
           "size_values", "sized_scenario", "write_mrc"]

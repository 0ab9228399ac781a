"""``mglru-sim mrc TRACE --sizes ...``: exact LRU and simulated MGLRU miss-ratio curves.

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

The sizes run in parallel (``--jobs``, a process pool). Output: a table on stdout, and under
``--out`` ``mrc.csv`` (``cache_pages, lru_miss_ratio, mglru_miss_ratio``) and ``mrc.png`` /
``mrc.svg`` (:func:`simulator.plots.mrc_figure`), each written atomically. With
``--set host.policy=lru`` the simulated column is the machine's exact LRU, a self-check that
must equal the Mattson column.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, cast

import numpy as np
import numpy.typing as npt

from simulator.config import (
    PAGE_SIZE,
    ConfigError,
    Scenario,
    apply_overrides,
    scenario_from_dict,
)

MRC_COLUMNS = ("cache_pages", "lru_miss_ratio", "mglru_miss_ratio")
"""The columns of ``mrc.csv``, in order."""

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


def parse_sizes(text: str, distinct_pages: int) -> list[int]:
    """Cache sizes in pages from ``"49,490"`` (pages) or ``"0.01,0.1"`` (fractions of the
    distinct pages, rounded to the nearest page, at least 1), mixed freely; sorted, unique.
    Raises ValueError."""
    sizes: set[int] = set()
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        try:
            value = int(item) if item.isdigit() else float(item)
        except ValueError:
            raise ValueError(f"--sizes: {item!r} is neither a page count nor a fraction") \
                from None
        if isinstance(value, float):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"--sizes: a fraction must be > 0, got {item!r}")
            sizes.add(max(1, round(value * distinct_pages)))
        elif value < 1:
            raise ValueError(f"--sizes: a page count must be >= 1, got {item!r}")
        else:
            sizes.add(value)
    if not sizes:
        raise ValueError("--sizes: no size given")
    return sorted(sizes)


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
    from simulator.machine import Machine
    from simulator.output.summary import summary_row

    def one_pass(actor: str, workload: Any, env: Any) -> Any:
        return OnePass(workload, records, env) if actor == "task" else workload

    if not sc.task_pages:
        raise RuntimeError("the scenario has no host-task workload to replay")
    t0 = time.perf_counter()
    data = Machine(sc, wrap_workload=one_pass).run()
    wall = time.perf_counter() - t0
    row = summary_row(data, wall)
    return Replay(cache_pages=sc.host_pages,
                  misses=int(row["faults_first_touch"]) + int(row["refaults"]),
                  accesses=int(row["accesses"]), wall_s=wall)


def register(subparsers: Any) -> None:
    """Add the ``mrc`` command."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "mrc", help="exact LRU (Mattson) and simulated MGLRU miss-ratio curves of a trace",
        description="Miss ratio at each cache size: exact LRU by Mattson's stack algorithm, "
                    "MGLRU by replaying the trace once in a host-only scenario per size.")
    p.add_argument("trace", metavar="TRACE", help="trace file (csv, npy, npz, "
                   "oracleGeneral, lackey)")
    p.add_argument("--sizes", required=True, metavar="LIST",
                   help="cache sizes: page counts (49,490,4897) or fractions of the distinct "
                        "pages (0.01,0.1)")
    p.add_argument("--format", default="auto",
                   help="trace format (default: from the file name)")
    p.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, metavar="N",
                   help="parallel replays (default: the number of cores; 1: in this process)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="where to write mrc.csv, mrc.png, mrc.svg (default: "
                        "results/mrc/<trace name>)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario key of the replays, e.g. mglru.look_around=false "
                        "or task.workload.trace_column=addr")
    p.add_argument("--no-mglru", action="store_true", help="exact LRU only (no replays)")
    p.set_defaults(func=cmd_mrc)


def _fail(message: str) -> int:
    print(f"mglru-sim: error: {message}", file=sys.stderr)
    return 2


def cmd_mrc(args: argparse.Namespace) -> int:
    """Compute, print and write the curves."""
    from simulator.traces import TraceError, summarize
    from workloads.trace import TraceParams, trace_reader

    if args.jobs < 1:
        return _fail(f"--jobs must be >= 1, got {args.jobs}")
    trace = Path(args.trace)
    try:
        doc = base_document(trace, args.format, args.set)
        wl = scenario_from_dict(doc, "mrc").task.workload.params_as(TraceParams)
        reader = trace_reader(wl)
        summary = summarize(reader, wl.remap, wl.chunk)
        sizes = parse_sizes(args.sizes, summary.distinct_pages)
        pages = np.concatenate([c.pages for c in reader.chunks(wl.chunk)])
    except (TraceError, ConfigError, ValueError) as e:
        return _fail(str(e))
    from simulator.mattson import miss_ratio_curve

    t0 = time.perf_counter()
    lru = miss_ratio_curve(pages).miss_ratio(sizes)
    mattson_s = time.perf_counter() - t0
    del pages
    replays = {} if args.no_mglru else _replays(doc, summary.distinct_pages,
                                                summary.records, sizes, args)
    frame = _frame(sizes, lru, replays)
    print(f"trace {trace}: {summary.records:,} records, {summary.distinct_pages:,} distinct "
          f"pages; Mattson {mattson_s:.2f} s ({summary.records / max(mattson_s, 1e-9):,.0f} "
          "accesses/s)")
    print(format_table(frame, replays))
    out = Path(args.out) if args.out else Path("results") / "mrc" / trace.name
    try:
        written = write_outputs(frame, out)
    except OSError as e:
        return _fail(f"{out}: cannot write: {e.strerror or e}")
    print("\n" + "\n".join(f"wrote {p}" for p in written))
    return 0


def _replays(doc: dict[str, Any], distinct: int, records: int, sizes: list[int],
             args: argparse.Namespace) -> dict[int, Replay]:
    quantum_set = any(s.split("=", 1)[0].strip() == "task.quantum_accesses" for s in args.set)
    scenarios: dict[int, Scenario] = {}
    for size in sizes:
        try:
            scenarios[size] = sized_scenario(doc, distinct, size, quantum_set)
        except ConfigError as e:
            print(f"mglru-sim: warning: no MGLRU replay at {size} pages: {e}", file=sys.stderr)
    out: dict[int, Replay] = {}
    if args.jobs == 1 or len(scenarios) <= 1:
        out = {size: replay_once(sc, records) for size, sc in scenarios.items()}
    else:
        with ProcessPoolExecutor(max_workers=min(args.jobs, len(scenarios))) as pool:
            futures = {size: pool.submit(replay_once, sc, records)
                       for size, sc in scenarios.items()}
            out = {size: f.result() for size, f in futures.items()}
    for size, r in out.items():
        if r.accesses < records:
            print(f"mglru-sim: warning: the replay at {size} pages stopped after "
                  f"{r.accesses:,} of {records:,} records (sim.duration_ms)", file=sys.stderr)
    return out


def _frame(sizes: list[int], lru: npt.NDArray[np.float64],
           replays: dict[int, Replay]) -> Any:
    import pandas as pd

    return pd.DataFrame({
        "cache_pages": np.asarray(sizes, dtype=np.int64),
        "lru_miss_ratio": lru,
        "mglru_miss_ratio": [replays[s].miss_ratio if s in replays else math.nan
                             for s in sizes],
    }, columns=list(MRC_COLUMNS))


def format_table(frame: Any, replays: dict[int, Replay]) -> str:
    """The table ``mrc`` prints: the three csv columns, then replay accesses/s."""
    head = f"{'cache_pages':>12}  {'lru_miss_ratio':>14}  {'mglru_miss_ratio':>16}  " \
           f"{'replay accesses/s':>17}"
    lines = [head]
    for row in frame.itertuples(index=False):
        mg = "-" if math.isnan(row.mglru_miss_ratio) else f"{row.mglru_miss_ratio:.6f}"
        r = replays.get(int(row.cache_pages))
        rate = "-" if r is None else f"{r.accesses / max(r.wall_s, 1e-9):,.0f}"
        lines.append(f"{int(row.cache_pages):>12,}  {row.lru_miss_ratio:>14.6f}  {mg:>16}  "
                     f"{rate:>17}")
    return "\n".join(lines)


def write_outputs(frame: Any, out: Path) -> list[Path]:
    """``mrc.csv`` and the figure (PNG and SVG) under ``out``, each atomically."""
    from simulator.output import atomic_write
    from simulator.plots import mrc_figure
    from simulator.plots.style import save

    csv_path = atomic_write(out / "mrc.csv", frame.to_csv(index=False, float_format="%.6f",
                                                          lineterminator="\n"))
    figures = save(mrc_figure(frame), out, "mrc")
    return [csv_path, figures["png"], figures["svg"]]


__all__ = ["MRC_COLUMNS", "OnePass", "Replay", "base_document", "cmd_mrc", "format_table",
           "parse_sizes", "register", "replay_once", "sized_scenario", "write_outputs"]

"""Parameter sweeps: expand a scenario's ``[sweep]`` table, run every point, collect one table.

A ``[sweep]`` table maps dotted scenario keys to lists of values; the runs are their cartesian
product, in file order (the first key varies slowest). An optional ``[sweep.zip]`` table holds
keys whose lists have equal length and vary together; it counts as one factor at its place in the
table. Bare dotted keys (``vm.vcpus = [1, 2]``, which TOML nests) work like quoted ones
(``"vm.vcpus" = [1, 2]``). Every expanded point is validated exactly like a scenario file, so a
bad value fails the whole sweep before anything runs (``ConfigError`` naming the key).

Each run's id is :func:`simulator.config.run_id_of` of its effective scenario, so a sweep run
twice finds the same folders ``OUT/<scenario>/<run_id>/``; ``resume`` skips those that carry the
completion marker ``write_run`` writes last. Runs execute in this process, in a local process
pool, or on Dask (``dask.distributed``: a ``LocalCluster`` or an existing scheduler). Wherever a
run executes, its folder is written atomically by ``runner.write_run``; on a cluster without a
shared ``OUT`` the worker sends the result back and the driver writes the folder. A failing run
becomes a ``status = "failed"`` row and never stops the sweep.

The driver alone writes ``OUT/<scenario>/sweep.csv`` (and ``sweep.parquet`` when pyarrow
imports): one row per run sorted by ``run_index``, then ``run_id``, the varied keys, ``status``,
``error`` and the summary columns. It rewrites it (temporary file, then ``os.replace``) every
``CSV_REFRESH_S`` while runs finish, and once at the end, also after Ctrl-C.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import itertools
import json
import multiprocessing
import numbers
import os
import sys
import time
import traceback
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from tqdm import tqdm

from simulator.config import (
    ConfigError,
    Scenario,
    apply_overrides,
    read_toml,
    run_id_of,
    scenario_from_dict,
)
from simulator.metrics import SUMMARY_COLUMNS
from simulator.runner import COMPLETE_MARKER, RunResult, simulate, write_run

Engine = Literal["local", "dask"]

ZIP_KEY = "zip"
"""The ``[sweep.zip]`` sub-table: keys that vary together."""

LEAD_COLUMNS = ("run_index", "run_id")
STATUS_COLUMNS = ("status", "error")
WALL_TIME_COLUMNS = ("wall_time_s", "accesses_per_wall_s")
"""Columns that depend on the machine, not on the configuration (excluded when comparing)."""

CSV_REFRESH_S = 10.0
"""How often a running sweep rewrites ``sweep.csv`` with the rows it has so far."""

CSV_NAME = "sweep.csv"
PARQUET_NAME = "sweep.parquet"
ERRORS_NAME = "sweep_errors.txt"


# --------------------------------------------------------------------------------------------
# Expansion
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SweepPoint:
    """One run of a sweep: its place, the values it varies and its effective scenario."""

    run_index: int
    run_id: str
    factors: Mapping[str, Any]
    scenario: Scenario


@dataclass(frozen=True, slots=True)
class Sweep:
    """An expanded sweep: the scenario name, the varied keys (column order) and the runs."""

    name: str
    source: str
    keys: tuple[str, ...]
    points: tuple[SweepPoint, ...]


def _flatten(table: Mapping[str, Any], prefix: str, source: str,
             where: str = "sweep.") -> dict[str, list[Any]]:
    """Dotted key -> non-empty list, from a table that may nest (bare dotted TOML keys)."""
    out: dict[str, list[Any]] = {}
    for key, value in table.items():
        dotted = prefix + key
        if isinstance(value, Mapping):
            out.update(_flatten(value, dotted + ".", source, where))
        elif not isinstance(value, list):
            raise ConfigError(source, where + dotted,
                              f"expected a list of values to sweep, got {value!r}")
        elif not value:
            raise ConfigError(source, where + dotted, "empty list: nothing to sweep")
        else:
            out[dotted] = value
    return out


def _factors(sweep: Mapping[str, Any], source: str) -> list[list[dict[str, Any]]]:
    """The sweep as factors in file order; each factor is its list of {key: value} levels."""
    factors: list[list[dict[str, Any]]] = []
    seen: set[str] = set()

    def claim(keys: Sequence[str]) -> None:
        for key in keys:
            if key == "name":
                # All runs of one sweep share OUT/<name>/ and its sweep.csv.
                raise ConfigError(source, "sweep.name", "the scenario name cannot be swept")
            if key in seen:
                raise ConfigError(source, f"sweep.{key}", "swept twice")
            seen.add(key)

    for key, value in sweep.items():
        if key == ZIP_KEY:
            if not isinstance(value, Mapping) or not value:
                raise ConfigError(source, "sweep.zip",
                                  "expected a table of equally long lists ([sweep.zip])")
            group = _flatten(value, "", source, "sweep.zip.")
            lengths = {k: len(v) for k, v in group.items()}
            if len(set(lengths.values())) > 1:
                shown = ", ".join(f"{k} has {n}" for k, n in lengths.items())
                raise ConfigError(source, "sweep.zip",
                                  f"lists must have equal lengths to vary together ({shown})")
            claim(list(group))
            n = next(iter(lengths.values()))
            factors.append([{k: v[i] for k, v in group.items()} for i in range(n)])
        else:
            flat = _flatten({key: value}, "", source)
            claim(list(flat))
            factors.extend([{k: v} for v in values] for k, values in flat.items())
    return factors


def _set_dotted(doc: dict[str, Any], dotted: str, value: Any, source: str) -> None:
    node = doc
    parts = dotted.split(".")
    for i, part in enumerate(parts[:-1]):
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(source, f"sweep.{dotted}",
                              f"'{'.'.join(parts[: i + 1])}' is not a table")
    node[parts[-1]] = value


def _copy(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) if isinstance(v, Mapping) else v for k, v in doc.items()}


def expand_sweep(doc: Mapping[str, Any], source: str = "<scenario>") -> Sweep:
    """Expand ``doc``'s ``[sweep]`` table into validated runs, in a deterministic order.

    Args:
        doc: A parsed scenario document (``--set`` overrides already applied).
        source: The file name that error messages name.

    Returns:
        The sweep; a document without ``[sweep]`` gives one run with no varied keys.

    Raises:
        ConfigError: A malformed ``[sweep]`` table, a value the scenario key does not accept,
            or two runs with the same effective configuration.
    """
    sweep = doc.get("sweep", {})
    if not isinstance(sweep, Mapping):
        raise ConfigError(source, "sweep", f"expected a table, got {sweep!r}")
    base = _copy({k: v for k, v in doc.items() if k != "sweep"})
    factors = _factors(sweep, source)
    keys = tuple(k for factor in factors for k in factor[0])
    points: list[SweepPoint] = []
    first_index: dict[str, int] = {}
    for index, combo in enumerate(itertools.product(*factors)):
        values = {k: v for level in combo for k, v in level.items()}
        run_doc = _copy(base)
        for key, value in values.items():
            _set_dotted(run_doc, key, value, source)
        try:
            sc = scenario_from_dict(run_doc, source)
        except ConfigError as e:
            shown = ", ".join(f"{k} = {v!r}" for k, v in values.items())
            raise ConfigError(source, e.key, f"{e.message} (sweep run {index}: {shown})") from None
        run_id = run_id_of(sc)
        if run_id in first_index:
            raise ConfigError(source, "sweep",
                              f"runs {first_index[run_id]} and {index} have the same effective "
                              f"configuration (run id {run_id}); remove the duplicate value")
        first_index[run_id] = index
        points.append(SweepPoint(index, run_id, values, sc))
    name = points[0].scenario.name
    return Sweep(name=name, source=source, keys=keys, points=tuple(points))


def load_sweep(path: str | Path, overrides: Sequence[str] = ()) -> Sweep:
    """Read a scenario file, apply ``--set`` overrides to its base, and expand its sweep."""
    doc = apply_overrides(read_toml(path), overrides)
    return expand_sweep(doc, str(path))


# --------------------------------------------------------------------------------------------
# One run, wherever it executes
# --------------------------------------------------------------------------------------------


@functools.cache
def code_fingerprint() -> str:
    """A hash of this installation's model sources (``simulator`` and ``workloads``).

    Run ids depend on the configuration only, so a worker with other code would file different
    numbers under the same id; each task carries the driver's fingerprint to catch that.
    """
    import workloads

    h = hashlib.sha256()
    for pkg in (Path(__file__).parent, Path(workloads.__file__).parent):
        for path in sorted(pkg.rglob("*.py")):
            h.update(path.relative_to(pkg.parent).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class RunTask:
    """What a worker needs for one run. ``folder`` None: send the result back instead."""

    run_index: int
    run_id: str
    scenario: Scenario
    folder: str | None
    fingerprint: str


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What a worker sends back: the summary, or the error of a failed run."""

    run_index: int
    run_id: str
    summary: dict[str, Any] | None
    error: str | None = None
    traceback: str | None = None
    result: RunResult | None = None


def execute_run(task: RunTask) -> RunOutcome:
    """Simulate one run and write its folder (or return it); never raises for a run's error."""
    try:
        if task.fingerprint != code_fingerprint():
            raise RuntimeError(f"this worker's mglru-sim code ({code_fingerprint()}) differs "
                               f"from the driver's ({task.fingerprint}); install the same "
                               "version everywhere")
        result = simulate(task.scenario)
        if result.summary["run_id"] != task.run_id:
            raise RuntimeError(f"run id {result.summary['run_id']} != expected {task.run_id}")
        if task.folder is None:
            return RunOutcome(task.run_index, task.run_id, result.summary, result=result)
        write_run(result, Path(task.folder))
        return RunOutcome(task.run_index, task.run_id, result.summary)
    except Exception as e:  # a failed run is data, not the end of the sweep
        message = " ".join(f"{type(e).__name__}: {e}".split())
        return RunOutcome(task.run_index, task.run_id, None, error=message,
                          traceback=traceback.format_exc())


# --------------------------------------------------------------------------------------------
# Executors: each yields outcomes as runs finish, in any order
# --------------------------------------------------------------------------------------------

Outcomes = Generator[RunOutcome, None, None]
Executor = Callable[[Sequence[RunTask]], Outcomes]


def _run_in_process(tasks: Sequence[RunTask]) -> Outcomes:
    for task in tasks:
        yield execute_run(task)


def _pool_context() -> multiprocessing.context.BaseContext:
    # forkserver: children do not inherit the driver's threads (tqdm's monitor) and locks as
    # fork would, and import the simulator once in the server rather than once per child.
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["simulator.sweep"])
        return ctx
    return multiprocessing.get_context("spawn")


def local_executor(jobs: int) -> Executor:
    """Runs in this process (``jobs == 1``) or in a pool of ``jobs`` local processes."""
    if jobs == 1:
        return _run_in_process

    def run(tasks: Sequence[RunTask]) -> Outcomes:
        if not tasks:
            return
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=_pool_context())
        pending: dict[Future[RunOutcome], RunTask] = {}
        try:
            pending = {pool.submit(execute_run, t): t for t in tasks}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=lambda f: pending[f].run_index):
                    yield _outcome_of(fut, pending.pop(fut))
        finally:
            pool.shutdown(wait=not pending, cancel_futures=True)

    return run


def _outcome_of(fut: Any, task: RunTask) -> RunOutcome:
    """The outcome of a finished future, also when the worker itself died."""
    try:
        outcome = fut.result()
    except Exception as e:
        message = " ".join(f"worker lost: {type(e).__name__}: {e}".split())
        return RunOutcome(task.run_index, task.run_id, None, error=message,
                          traceback="".join(traceback.format_exception(e)))
    assert isinstance(outcome, RunOutcome)
    return outcome


def dask_executor(jobs: int, address: str | None = None) -> Executor:
    """Runs on Dask: the scheduler at ``address``, or a new ``LocalCluster`` of ``jobs`` workers.

    Raises:
        ConfigError: dask.distributed is not installed, or the scheduler cannot be reached.
    """
    try:
        import distributed
    except ImportError:
        raise ConfigError("--engine dask", "",
                          "needs dask.distributed: pip install 'mglru-sim[dask]'") from None

    def run(tasks: Sequence[RunTask]) -> Outcomes:
        if not tasks:
            return
        with _dask_client(distributed, jobs, address) as client:
            futures = client.map(execute_run, list(tasks), pure=False)
            by_key = {f.key: t for f, t in zip(futures, tasks, strict=True)}
            try:
                # distributed ships no annotations for as_completed
                for fut in distributed.as_completed(futures):  # type: ignore[no-untyped-call]
                    yield _outcome_of(fut, by_key[fut.key])
            finally:
                client.cancel(futures)

    return run


@contextlib.contextmanager
def _dask_client(distributed: Any, jobs: int, address: str | None) -> Iterator[Any]:
    """A ``distributed.Client`` (on a new ``LocalCluster`` if no address), closed on exit."""
    if address is None:
        # One single-threaded process per worker: the model is pure Python and holds the GIL.
        with distributed.LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client:
            yield client
        return
    try:
        client = distributed.Client(address, timeout="20s")
    except (OSError, TimeoutError) as e:
        raise ConfigError("--address", "",
                          f"cannot reach the Dask scheduler at {address}: {e}") from None
    with client:
        if not client.scheduler_info().get("workers"):
            # Otherwise the sweep waits silently until a `dask worker` joins.
            print(f"mglru-sim: the Dask scheduler at {address} has no workers yet; waiting for "
                  "`dask worker` processes to join", file=sys.stderr)
        yield client


def make_executor(engine: Engine, jobs: int, address: str | None = None) -> Executor:
    """The executor for ``--engine``/``--jobs``/``--address``.

    Raises:
        ConfigError: ``jobs`` < 1, an unknown engine, or an address without ``engine="dask"``.
    """
    if jobs < 1:
        raise ConfigError("--jobs", "", f"must be at least 1, got {jobs}")
    if engine == "dask":
        return dask_executor(jobs, address)
    if engine != "local":
        raise ConfigError("--engine", "", f"expected local or dask, got {engine!r}")
    if address is not None:
        raise ConfigError("--address", "", "needs --engine dask")
    return local_executor(jobs)


# --------------------------------------------------------------------------------------------
# The driver: resume, progress, sweep.csv
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class SweepReport:
    """What a sweep did: the table it wrote and how many runs ran, were resumed or failed."""

    sweep: Sweep
    csv_path: Path
    parquet_path: Path | None = None
    executed: int = 0
    resumed: int = 0
    failed: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)
    errors_path: Path | None = None


def completed_summary(folder: Path) -> dict[str, Any] | None:
    """The summary of a complete run folder, or None if it must be (re)done."""
    if not (folder / COMPLETE_MARKER).is_file():
        return None
    try:
        summary = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    return summary if isinstance(summary, dict) else None


def sweep_row(point: SweepPoint, outcome: RunOutcome | dict[str, Any]) -> dict[str, Any]:
    """One ``sweep.csv`` row: index, id, varied keys, status and error, then the summary."""
    if isinstance(outcome, RunOutcome):
        summary, error = outcome.summary, outcome.error
    else:
        summary, error = outcome, None
    row: dict[str, Any] = {"run_index": point.run_index, "run_id": point.run_id}
    row.update(point.factors)
    row["status"] = "ok" if error is None else "failed"
    row["error"] = error
    for key, value in (summary or {}).items():
        row.setdefault(key, value)
    return row


def sweep_frame(sweep: Sweep, rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The rows as a table sorted by ``run_index``, with deterministic columns.

    The contract summary columns are always present (empty for failed runs); optional ones
    follow in the order they first appear in ``run_index`` order, so the columns do not depend
    on which run finished first.
    """
    ordered = sorted(rows, key=lambda r: int(r["run_index"]))
    columns = [*LEAD_COLUMNS, *sweep.keys, *STATUS_COLUMNS]
    columns += [c for c in SUMMARY_COLUMNS if c not in columns]
    known = set(columns)
    for row in ordered:
        for key in row:
            if key not in known:
                known.add(key)
                columns.append(key)
    frame = pd.DataFrame(ordered, columns=columns)
    # A failed run's empty cells would turn integer columns into floats (1 -> 1.0).
    return frame.astype({c: "Int64" for c in columns if _all_int(r.get(c) for r in ordered)})


def _all_int(values: Iterable[Any]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, numbers.Integral)
                                 and not isinstance(v, bool | np.bool_) for v in present)


def _write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_tables(sweep: Sweep, rows: Sequence[dict[str, Any]],
                 folder: Path) -> tuple[Path, Path | None]:
    """Write ``sweep.csv`` (and ``sweep.parquet`` if pyarrow imports) atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = sweep_frame(sweep, rows)
    csv_path = folder / CSV_NAME
    _write_atomic(csv_path, lambda p: frame.to_csv(p, index=False))
    if importlib.util.find_spec("pyarrow") is None:
        return csv_path, None
    parquet_path = folder / PARQUET_NAME
    # Object columns mix None, numbers and strings across runs; Parquet wants one type each.
    mixed = frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object})
    _write_atomic(parquet_path, lambda p: mixed.to_parquet(p, index=False))
    return csv_path, parquet_path


def _write_errors(folder: Path, outcomes: Sequence[RunOutcome]) -> Path | None:
    path = folder / ERRORS_NAME
    failed = sorted((o for o in outcomes if o.error is not None), key=lambda o: o.run_index)
    if not failed:
        path.unlink(missing_ok=True)
        return None
    text = "\n".join(f"=== run {o.run_index} ({o.run_id}): {o.error}\n{o.traceback or ''}"
                     for o in failed)
    _write_atomic(path, lambda p: p.write_text(text))
    return path


def run_sweep(sweep: Sweep, out: str | Path, executor: Executor, *, resume: bool = False,
              worker_writes: bool = True, progress: bool = True) -> SweepReport:
    """Run every point of ``sweep`` and write its run folders and ``sweep.csv``.

    Args:
        sweep: The expanded sweep (:func:`load_sweep`).
        out: The results root; runs go to ``out/<scenario>/<run_id>/``.
        executor: Where runs execute (:func:`make_executor`).
        resume: Skip runs whose folder is complete; otherwise every run is recomputed.
        worker_writes: Workers write their run folders (``out`` is the same directory for
            them); False: they send results back and this process writes the folders.
        progress: Draw a progress bar (completed/total, ETA) on stderr.

    Returns:
        The report; ``failed`` counts the runs that raised.
    """
    folder = Path(out) / sweep.name
    report = SweepReport(sweep=sweep, csv_path=folder / CSV_NAME)
    points = {p.run_index: p for p in sweep.points}
    rows, tasks = _plan(sweep, folder, resume, worker_writes)
    report.resumed = len(rows)
    outcomes: list[RunOutcome] = []
    # Redrawing a bar only makes sense on a terminal; in a log, one line a minute is enough.
    tty = sys.stderr.isatty()
    bar = tqdm(total=len(sweep.points), initial=len(rows), desc=sweep.name, unit="run",
               file=sys.stderr, disable=not progress, dynamic_ncols=tty,
               mininterval=0.1 if tty else 60.0)
    last_write = time.monotonic()
    stream = executor(tasks)
    try:
        for outcome in stream:
            if outcome.result is not None:
                outcome = _write_back(outcome, folder / outcome.run_id)
            outcomes.append(outcome)
            rows.append(sweep_row(points[outcome.run_index], outcome))
            report.executed += 1
            if outcome.error is not None:
                report.failed += 1
                bar.set_postfix(failed=report.failed)
            bar.update(1)
            if time.monotonic() - last_write > CSV_REFRESH_S:
                write_tables(sweep, rows, folder)
                last_write = time.monotonic()
    except ConfigError:
        bar.leave = False  # bad input (an unreachable scheduler): the error line alone
        raise
    finally:
        # Now, not when the traceback is freed: stops the pool or the LocalCluster.
        stream.close()
        bar.close()
        # Also on Ctrl-C: the table then holds every run that finished. With nothing to
        # show (stopped before the first run ended), an earlier table is left as it was.
        if rows:
            report.csv_path, report.parquet_path = write_tables(sweep, rows, folder)
            report.errors_path = _write_errors(folder, outcomes)
        report.rows = sorted(rows, key=lambda r: int(r["run_index"]))
    return report


def _plan(sweep: Sweep, folder: Path, resume: bool,
          worker_writes: bool) -> tuple[list[dict[str, Any]], list[RunTask]]:
    """The rows of runs that are already complete (with ``resume``) and the tasks to run."""
    rows: list[dict[str, Any]] = []
    tasks: list[RunTask] = []
    for point in sweep.points:
        run_folder = folder / point.run_id
        done = completed_summary(run_folder) if resume else None
        if done is not None:
            rows.append(sweep_row(point, done))
            continue
        # Absolute: workers (a LocalCluster, or a shared file system) may have another cwd.
        target = str(run_folder.resolve()) if worker_writes else None
        tasks.append(RunTask(point.run_index, point.run_id, point.scenario, target,
                             code_fingerprint()))
    return rows, tasks


def _write_back(outcome: RunOutcome, run_folder: Path) -> RunOutcome:
    """Write a run folder that a remote worker sent back as a result."""
    assert outcome.result is not None
    try:
        write_run(outcome.result, run_folder)
    except OSError as e:
        return RunOutcome(outcome.run_index, outcome.run_id, None,
                          error=f"writing {run_folder}: {e}", traceback=traceback.format_exc())
    return RunOutcome(outcome.run_index, outcome.run_id, outcome.summary)


def exit_code(report: SweepReport) -> int:
    """The number of failed runs, capped at 125 (126 and up mean other things to shells)."""
    return min(report.failed, 125)

"""The sweep driver: resume, progress, the tables while runs finish.

:func:`run_sweep` plans the runs (``resume`` skips those whose folder carries the completion
marker the run-folder writer puts there last), hands the rest to an executor
(:mod:`simulator.sweep.executors`), draws a progress bar, writes the run folders that remote
workers sent back, and rewrites ``sweep.csv`` every ``CSV_REFRESH_S`` while runs finish and once
at the end, also after Ctrl-C.
"""

from __future__ import annotations

import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from simulator.config import ConfigError
from simulator.output.paths import folder_under, probe
from simulator.output.run_folder import check_replaceable, complete_summary, write_run
from simulator.sweep.executors import Executor
from simulator.sweep.expand import Sweep
from simulator.sweep.tables import CSV_NAME, sweep_row, write_errors, write_tables
from simulator.sweep.tasks import RunOutcome, RunTask, code_fingerprint, failed

CSV_REFRESH_S = 10.0
"""How often a running sweep rewrites ``sweep.csv`` with the rows it has so far."""


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
    folder = probe(folder_under(out, sweep.name))
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
            report.errors_path = write_errors(folder, outcomes)
        report.rows = sorted(rows, key=lambda r: int(r["run_index"]))
    return report


def _plan(sweep: Sweep, folder: Path, resume: bool,
          worker_writes: bool) -> tuple[list[dict[str, Any]], list[RunTask]]:
    """The rows of runs that are already complete (with ``resume``) and the tasks to run."""
    rows: list[dict[str, Any]] = []
    tasks: list[RunTask] = []
    for point in sweep.points:
        run_folder = folder_under(folder, point.run_id)
        done = complete_summary(run_folder) if resume else None
        if done is not None:
            rows.append(sweep_row(point, done))
            continue
        if run_folder.is_dir():  # refused now rather than after the run
            check_replaceable(run_folder)
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
        return failed(outcome, f"writing {run_folder}: {e}", traceback.format_exc())
    return RunOutcome(outcome.run_index, outcome.run_id, outcome.summary)


def exit_code(report: SweepReport) -> int:
    """The number of failed runs, capped at 125 (126 and up mean other things to shells)."""
    return min(report.failed, 125)


__all__ = ["CSV_REFRESH_S", "SweepReport", "exit_code", "run_sweep"]

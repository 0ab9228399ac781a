"""The sweep driver: resume, progress, the tables while runs finish.

:func:`run_sweep` plans the runs (``resume`` skips those whose folder carries the completion
marker the run-folder writer puts there last), hands the rest to an executor
(:mod:`simulator.sweep.executors`), draws a progress bar, writes the run folders that remote
workers sent back, and rewrites ``sweep.csv`` every ``CSV_REFRESH_S`` while runs finish and once
at the end. On Ctrl-C or SIGTERM it stops dispatching, ends its workers (the executor kills
them), adds the runs a worker completed but could not report, writes ``sweep.csv`` with exactly
the finished runs, and re-raises (the command exits 130 or 143).
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.config import ConfigError
from simulator.output.paths import folder_under, probe
from simulator.output.run_folder import (
    COMPLETE_MARKER,
    check_replaceable,
    complete_summary,
    write_run,
)
from simulator.progress import bar as progress_bar
from simulator.provenance import Provenance
from simulator.sweep.executors import Executor
from simulator.sweep.expand import Sweep, SweepPoint
from simulator.sweep.tables import (
    CSV_NAME,
    sweep_row,
    write_errors,
    write_long_tables,
    write_tables,
)
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
    long_tables: list[Path] = field(default_factory=list)
    """``sweep_passes`` and ``sweep_timeseries`` (Parquet or CSV), when any run has rows."""


def run_sweep(sweep: Sweep, out: str | Path, executor: Executor, *, resume: bool = False,
              worker_writes: bool = True, progress: bool = True,
              provenance: Provenance | None = None) -> SweepReport:
    """Run every point of ``sweep`` and write its run folders and ``sweep.csv``.

    Args:
        sweep: The expanded sweep (:func:`load_sweep`).
        out: The results root; runs go to ``out/<scenario>/<run_id>/``.
        executor: Where runs execute (:func:`make_executor`).
        resume: Skip runs whose folder is complete; otherwise every run is recomputed.
        worker_writes: Workers write their run folders (``out`` is the same directory for
            them); False: they send results back and this process writes the folders.
        progress: Draw a progress bar (completed/total, ETA) on stderr, if stderr is a
            terminal and ``--quiet`` was not given (:mod:`simulator.progress`).
        provenance: The scenario file and ``--set`` of the sweep; each run's ``config.toml``
            records them and its swept values.

    Returns:
        The report; ``failed`` counts the runs that raised.
    """
    folder = probe(folder_under(out, sweep.name))
    report = SweepReport(sweep=sweep, csv_path=folder / CSV_NAME)
    rows, tasks = _plan(sweep, folder, resume, worker_writes, provenance)
    report.resumed = len(rows)
    collect = _Collector(report, folder, rows, progress)
    stream = executor(tasks)
    try:
        for outcome in stream:
            collect.add(outcome)
    except ConfigError:
        collect.bar.leave = False  # bad input (an unreachable scheduler): the error line alone
        raise
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: stop the workers, keep what finished
        stream.close()
        collect.add_finished_on_disk(tasks)
        raise
    finally:
        # Now, not when the traceback is freed: stops the pool or the LocalCluster.
        stream.close()
        collect.close()
    return report


class _Collector:
    """The rows, outcomes and progress bar of a running sweep, and its tables."""

    def __init__(self, report: SweepReport, folder: Path, rows: list[dict[str, Any]],
                 progress: bool) -> None:
        self.report, self.folder, self.rows = report, folder, rows
        self.points = {p.run_index: p for p in report.sweep.points}
        self.outcomes: list[RunOutcome] = []
        self.bar = progress_bar(len(self.points), report.sweep.name, "run", show=progress,
                                initial=len(rows))
        self.last_write = time.monotonic()
        self.started = time.time()

    def add(self, outcome: RunOutcome) -> None:
        """A run finished: its row, the bar, and ``sweep.csv`` every ``CSV_REFRESH_S``."""
        if outcome.result is not None:
            outcome = _write_back(outcome, self.folder / outcome.run_id)
        self.outcomes.append(outcome)
        self.rows.append(sweep_row(self.points[outcome.run_index], outcome))
        self.report.executed += 1
        if outcome.error is not None:
            self.report.failed += 1
            self.bar.set_postfix(failed=self.report.failed)
        self.bar.update(1)
        if time.monotonic() - self.last_write > CSV_REFRESH_S:
            write_tables(self.report.sweep, self.rows, self.folder)
            self.last_write = time.monotonic()

    def add_finished_on_disk(self, tasks: list[RunTask]) -> None:
        """The runs of ``tasks`` whose worker completed the run folder (during this sweep)
        but was stopped before it could report back."""
        reported = {o.run_index for o in self.outcomes}
        for task in tasks:
            if task.folder is None or task.run_index in reported:
                continue
            folder = Path(task.folder)
            summary = complete_summary(folder)
            try:
                fresh = (folder / COMPLETE_MARKER).stat().st_mtime >= self.started
            except OSError:
                fresh = False
            if summary is not None and fresh:
                self.rows.append(sweep_row(self.points[task.run_index], summary))
                self.report.executed += 1

    def close(self) -> None:
        """The bar, and the tables: also after an interruption, when they then hold every
        run that finished. With nothing to show (stopped before the first run ended), an
        earlier table is left as it was."""
        self.bar.close()
        report = self.report
        if self.rows:
            report.csv_path, report.parquet_path = write_tables(report.sweep, self.rows,
                                                                self.folder)
            report.errors_path = write_errors(self.folder, self.outcomes)
            report.long_tables = write_long_tables(report.sweep, self.rows, self.folder)
        report.rows = sorted(self.rows, key=lambda r: int(r["run_index"]))


def point_provenance(provenance: Provenance | None, point: SweepPoint) -> Provenance | None:
    """The provenance of one run: the sweep's, with the run's swept values."""
    if provenance is None:
        return None
    values = tuple(f"{k}={factor_text(v)}" for k, v in point.factors.items())
    return dataclasses.replace(provenance, sweep=values)


def factor_text(value: Any) -> str:
    """A swept value as written in a scenario file: ``192MiB``, ``2``, ``true``."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _plan(sweep: Sweep, folder: Path, resume: bool, worker_writes: bool,
          provenance: Provenance | None) -> tuple[list[dict[str, Any]], list[RunTask]]:
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
                             code_fingerprint(), point_provenance(provenance, point)))
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


__all__ = ["CSV_REFRESH_S", "SweepReport", "exit_code", "factor_text", "point_provenance",
           "run_sweep"]

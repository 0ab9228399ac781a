"""Parameter sweeps: expand a scenario's ``[sweep]`` table, run every point, collect one table.

- :mod:`.expand`: ``[sweep]`` (cartesian product, ``[sweep.zip]`` keys that vary together)
  into validated runs, each with the run id of its effective scenario;
- :mod:`.tasks`: one run, wherever it executes (:func:`execute_run`);
- :mod:`.executors`: in this process, a local process pool, or Dask;
- :mod:`.driver`: resume, progress and the tables while runs finish (:func:`run_sweep`);
- :mod:`.tables`: ``sweep.csv``, ``sweep.parquet`` and ``sweep_errors.txt``.

A sweep run twice finds the same folders ``OUT/<scenario>/<run_id>/``; ``resume`` skips those
that are complete. A failing run becomes a ``status = "failed"`` row and never stops the sweep.
"""

from __future__ import annotations

from simulator.sweep.driver import CSV_REFRESH_S, SweepReport, exit_code, run_sweep
from simulator.sweep.executors import (
    ENGINES,
    Engine,
    Executor,
    dask_executor,
    local_executor,
    make_executor,
)
from simulator.sweep.expand import (
    ZIP_KEY,
    Sweep,
    SweepPoint,
    expand_sweep,
    load_sweep,
    shadowed,
)
from simulator.sweep.tables import (
    CSV_NAME,
    ERRORS_NAME,
    PARQUET_NAME,
    WALL_TIME_COLUMNS,
    sweep_frame,
    sweep_row,
    write_tables,
)
from simulator.sweep.tasks import RunOutcome, RunTask, code_fingerprint, execute_run

__all__ = [
    "CSV_NAME", "CSV_REFRESH_S", "ENGINES", "ERRORS_NAME", "PARQUET_NAME", "WALL_TIME_COLUMNS",
    "ZIP_KEY", "Engine", "Executor", "RunOutcome", "RunTask", "Sweep", "SweepPoint",
    "SweepReport", "code_fingerprint", "dask_executor", "execute_run", "exit_code",
    "expand_sweep", "load_sweep", "local_executor", "make_executor", "run_sweep", "shadowed",
    "sweep_frame", "sweep_row", "write_tables",
]

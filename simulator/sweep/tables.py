"""``sweep.csv`` (and ``sweep.parquet``) and ``sweep_errors.txt``: what a sweep found.

One row per run sorted by ``run_index``, then ``run_id``, the varied keys, ``status``, ``error``
and the summary columns. The driver alone writes them, each atomically
(:func:`simulator.output.atomic_write`), so a reader never sees half a table.
"""

from __future__ import annotations

import importlib.util
import numbers
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulator.metrics import SUMMARY_COLUMNS
from simulator.output import atomic_write
from simulator.sweep.expand import Sweep, SweepPoint
from simulator.sweep.tasks import RunOutcome

LEAD_COLUMNS = ("run_index", "run_id")
STATUS_COLUMNS = ("status", "error")
WALL_TIME_COLUMNS = ("wall_time_s", "accesses_per_wall_s")
"""Columns that depend on the machine, not on the configuration (excluded when comparing)."""

CSV_NAME = "sweep.csv"
PARQUET_NAME = "sweep.parquet"
ERRORS_NAME = "sweep_errors.txt"


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


def write_tables(sweep: Sweep, rows: Sequence[dict[str, Any]],
                 folder: Path) -> tuple[Path, Path | None]:
    """Write ``sweep.csv`` (and ``sweep.parquet`` if pyarrow imports) atomically."""
    frame = sweep_frame(sweep, rows)
    csv_path = atomic_write(folder / CSV_NAME, lambda p: frame.to_csv(p, index=False))
    if importlib.util.find_spec("pyarrow") is None:
        return csv_path, None
    # Object columns mix None, numbers and strings across runs; Parquet wants one type each.
    mixed = frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object})
    parquet_path = atomic_write(folder / PARQUET_NAME,
                                lambda p: mixed.to_parquet(p, index=False))
    return csv_path, parquet_path


def write_errors(folder: Path, outcomes: Sequence[RunOutcome]) -> Path | None:
    """``sweep_errors.txt``: each failed run's error and traceback (removed when none failed)."""
    path = folder / ERRORS_NAME
    failed = sorted((o for o in outcomes if o.error is not None), key=lambda o: o.run_index)
    if not failed:
        path.unlink(missing_ok=True)
        return None
    return atomic_write(path, "\n".join(
        f"=== run {o.run_index} ({o.run_id}): {o.error}\n{o.traceback or ''}" for o in failed))


__all__ = ["CSV_NAME", "ERRORS_NAME", "LEAD_COLUMNS", "PARQUET_NAME", "STATUS_COLUMNS",
           "WALL_TIME_COLUMNS", "sweep_frame", "sweep_row", "write_errors", "write_tables"]

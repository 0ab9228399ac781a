"""``sweep.csv`` (and ``sweep.parquet``), the long tables and ``sweep_errors.txt``.

``sweep.csv``: one row per run sorted by ``run_index``, then ``run_id``, the varied keys,
``status``, ``error`` and the summary columns. The long tables ``sweep_passes`` and
``sweep_timeseries`` (Parquet when pyarrow imports, CSV otherwise) concatenate every finished
run's ``passes.csv`` and ``timeseries.csv``: ``run_id``, the varied keys as written in the
sweep, then the run's own columns, ready for ``groupby`` or a seaborn ``hue``. The driver alone
writes them, each atomically (:func:`simulator.output.atomic_write`), so a reader never sees
half a table.
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

LONG_TABLES = ("passes", "timeseries")
"""The per-run tables concatenated into ``sweep_<name>.parquet`` (or ``.csv``)."""

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
    if not has_parquet():
        return csv_path, None
    # Object columns mix None, numbers and strings across runs; Parquet wants one type each.
    mixed = frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object})
    parquet_path = atomic_write(folder / PARQUET_NAME,
                                lambda p: mixed.to_parquet(p, index=False))
    return csv_path, parquet_path


def has_parquet() -> bool:
    """Whether pyarrow imports (Parquet files are written then)."""
    return importlib.util.find_spec("pyarrow") is not None


def long_table(sweep: Sweep, rows: Sequence[dict[str, Any]], folder: Path,
               name: str) -> pd.DataFrame | None:
    """Every finished run's ``<name>.csv`` under ``folder``, with ``run_id`` and the varied
    keys first, in ``run_index`` order; None when no run has one."""
    frames = []
    for row in sorted(rows, key=lambda r: int(r["run_index"])):
        path = folder / str(row["run_id"]) / f"{name}.csv"
        if row.get("status") != "ok" or not path.is_file() or path.stat().st_size == 0:
            continue
        frame = pd.read_csv(path).drop(columns="run_id", errors="ignore")
        lead = {"run_id": row["run_id"], **{k: row.get(k) for k in sweep.keys}}
        frames.append(frame.assign(**lead)[[*lead, *frame.columns]])
    return pd.concat(frames, ignore_index=True) if frames else None


def write_long_tables(sweep: Sweep, rows: Sequence[dict[str, Any]], folder: Path) -> list[Path]:
    """``sweep_passes`` and ``sweep_timeseries`` (:data:`LONG_TABLES`), each atomically."""
    written = []
    for name in LONG_TABLES:
        frame = long_table(sweep, rows, folder, name)
        if frame is None:
            continue
        written.append(_write_frame(frame, folder / f"sweep_{name}"))
    return written


def _write_frame(frame: pd.DataFrame, stem: Path) -> Path:
    """``frame`` as ``stem.parquet`` (pyarrow) or ``stem.csv``, atomically."""
    if not has_parquet():
        return atomic_write(stem.with_suffix(".csv"), lambda p: frame.to_csv(p, index=False))
    mixed = frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object})
    return atomic_write(stem.with_suffix(".parquet"), lambda p: mixed.to_parquet(p, index=False))


def write_errors(folder: Path, outcomes: Sequence[RunOutcome]) -> Path | None:
    """``sweep_errors.txt``: each failed run's error and traceback (removed when none failed)."""
    path = folder / ERRORS_NAME
    failed = sorted((o for o in outcomes if o.error is not None), key=lambda o: o.run_index)
    if not failed:
        path.unlink(missing_ok=True)
        return None
    return atomic_write(path, "\n".join(
        f"=== run {o.run_index} ({o.run_id}): {o.error}\n{o.traceback or ''}" for o in failed))


__all__ = ["CSV_NAME", "ERRORS_NAME", "LEAD_COLUMNS", "LONG_TABLES", "PARQUET_NAME",
           "STATUS_COLUMNS", "WALL_TIME_COLUMNS", "has_parquet", "long_table", "sweep_frame",
           "sweep_row", "write_errors", "write_long_tables", "write_tables"]

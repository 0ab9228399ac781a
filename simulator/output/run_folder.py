"""A run's tables in memory (:class:`RunResult`) and its run folder on disk.

A run folder ``<out>/<scenario>/<run_id>/`` holds ``summary.json``, ``summary.csv`` (one row),
``passes.csv``, ``timeseries.csv`` (both with a leading ``run_id`` column), ``lru_gen.txt`` and
``config.toml`` (the effective configuration, seed included), any extra files a command adds
(the selftest's ``phases.csv``), then the ``.complete`` marker, written last. The folder is
built under a temporary name and renamed into place once
(:func:`~simulator.output.atomic.atomic_folder`), so a crash or Ctrl-C never leaves a
half-written run folder behind, and ``sweep --resume`` trusts a folder exactly when its marker
is there.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.config import Scenario, to_toml
from simulator.metrics import PASS_COLUMNS, TIMESERIES_COLUMNS
from simulator.output.atomic import Writer, atomic_folder, atomic_write
from simulator.output.summary import summary_row
from simulator.rundata import RunData

COMPLETE_MARKER = ".complete"
SUMMARY_JSON = "summary.json"


@dataclass(frozen=True, slots=True)
class RunResult:
    """A finished run: its summary row and the frames behind it."""

    summary: dict[str, Any]
    passes: pd.DataFrame
    timeseries: pd.DataFrame
    lru_gen: str
    config_toml: str


def run_result(data: RunData, wall_time_s: float,
               summary: dict[str, Any] | None = None) -> RunResult:
    """The tables of a run (``summary`` replaces the standard summary row if given)."""
    return RunResult(
        summary=summary_row(data, wall_time_s) if summary is None else summary,
        passes=pd.DataFrame(data.passes, columns=list(PASS_COLUMNS)),
        timeseries=pd.DataFrame(data.timeseries, columns=list(TIMESERIES_COLUMNS)),
        lru_gen="\n".join(data.lru_gen),
        config_toml=to_toml(data.scenario, units=True),
    )


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if hasattr(v, "item"):
        return v.item()
    return v


def _csv(frame: pd.DataFrame) -> Writer:
    return lambda path: frame.to_csv(path, index=False)


def with_run_id(frame: pd.DataFrame, run_id: Any) -> pd.DataFrame:
    """``frame`` with a leading ``run_id`` column, so rows of several runs can be concatenated
    (every per-run CSV carries it)."""
    if "run_id" in frame.columns:
        return frame
    return frame.assign(run_id=run_id)[["run_id", *frame.columns]]


def write_run(result: RunResult, folder: Path,
              extra: Mapping[str, bytes | str | Writer] | None = None) -> Path:
    """Write a run folder atomically, ``extra`` files (name → data) before the marker."""
    summary = {k: _json_value(v) for k, v in result.summary.items()}
    files: dict[str, bytes | str | Writer] = {
        SUMMARY_JSON: json.dumps(summary, indent=2) + "\n",
        "summary.csv": _csv(pd.DataFrame([result.summary])),
        "passes.csv": _csv(with_run_id(result.passes, result.summary.get("run_id"))),
        "timeseries.csv": _csv(with_run_id(result.timeseries, result.summary.get("run_id"))),
        "lru_gen.txt": result.lru_gen,
        "config.toml": result.config_toml,
        **(extra or {}),
    }
    with atomic_folder(folder) as staging:
        for name, data in files.items():
            atomic_write(staging / name, data)
        atomic_write(staging / COMPLETE_MARKER, "ok\n")
    return Path(folder)


def run_folder(out: Path, sc: Scenario, summary: Mapping[str, Any]) -> Path:
    """Where a run of ``sc`` goes under the results root ``out``."""
    return Path(out) / sc.name / str(summary["run_id"])


def complete_summary(folder: Path) -> dict[str, Any] | None:
    """The summary of a complete run folder, or None if it must be (re)done."""
    if not (folder / COMPLETE_MARKER).is_file():
        return None
    try:
        summary = json.loads((folder / SUMMARY_JSON).read_text())
    except (OSError, ValueError):
        return None
    return summary if isinstance(summary, dict) else None


__all__ = ["COMPLETE_MARKER", "RunResult", "complete_summary", "run_folder", "run_result",
           "with_run_id", "write_run"]

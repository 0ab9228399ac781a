"""A run's tables in memory (:class:`RunResult`) and its run folder on disk.

A run folder ``<out>/<scenario>/<run_id>/`` holds ``summary.json``, ``summary.csv`` (one row),
``passes.csv``, ``timeseries.csv`` (both with a leading ``run_id`` column), ``lru_gen.txt`` and
``config.toml`` (the effective configuration, seed included), any extra files a command adds
(the selftest's ``phases.csv``, ``run``'s figures and ``report.html``), then the ``.complete``
marker, written last, which lists every file of the folder. The folder is built under a
temporary name and renamed into place once (:func:`~simulator.output.atomic.atomic_folder`), so
a crash or Ctrl-C never leaves a half-written run folder behind, and ``sweep --resume`` trusts a
folder exactly when its marker is there and every file it lists is. Files a user put into a run
folder are never deleted: a rerun refuses to replace such a folder (:func:`check_replaceable`).
"""

from __future__ import annotations

import fnmatch
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.config import Scenario, to_toml
from simulator.metrics import PASS_COLUMNS, TIMESERIES_COLUMNS
from simulator.output.atomic import Writer, atomic_folder, atomic_write
from simulator.output.errors import OutputError
from simulator.output.paths import folder_under, probe
from simulator.output.stale import is_temporary
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


REQUIRED = (SUMMARY_JSON, "summary.csv", "passes.csv", "timeseries.csv", "lru_gen.txt",
            "config.toml")
"""The files every run folder has; the marker lists any more (figures, report, extras)."""

OWN_PATTERNS = (COMPLETE_MARKER, *REQUIRED, "report.html", "figures/*.png", "figures/*.svg",
                "phases.csv", "output.txt")
"""What mglru-sim writes into a run folder, also before ``.complete`` listed it."""

Finish = Callable[[Path, Path], object]
"""Adds files to a run folder being built: ``finish(staging, folder)`` (the figures and
``report.html``), before the marker is written."""


def write_run(result: RunResult, folder: Path,
              extra: Mapping[str, bytes | str | Writer] | None = None,
              finish: Finish | None = None) -> Path:
    """Write a run folder atomically: the tables, ``extra`` files (name → data), whatever
    ``finish`` adds, then the marker listing every file. The whole folder appears at once.

    Raises OutputError (and keeps the old folder) if a folder already there holds files
    mglru-sim did not write, or if the folder cannot be written.
    """
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
    with atomic_folder(folder, replaceable=check_replaceable) as staging:
        for name, data in files.items():
            atomic_write(staging / name, data)
        if finish is not None:
            finish(staging, Path(folder))
        atomic_write(staging / COMPLETE_MARKER, "ok\n" + "".join(
            f"{name}\n" for name in _files(staging) if name != COMPLETE_MARKER))
    return Path(folder)


def _files(folder: Path) -> list[str]:
    """Every file below ``folder``, as sorted relative paths (temporaries left out)."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if not p.is_dir() and not is_temporary(p.name))


def manifest(folder: Path) -> list[str] | None:
    """The files the marker of a complete run folder lists (empty for a marker of an older
    version, which listed none), or None if the folder has no marker."""
    try:
        lines = (folder / COMPLETE_MARKER).read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return [line for line in lines[1:] if line]


def foreign_files(folder: Path) -> list[str]:
    """Files in an existing run folder that mglru-sim did not write (a user's notes)."""
    listed = set(manifest(folder) or ())
    return [name for name in _files(folder) if name not in listed
            and not any(fnmatch.fnmatchcase(name, pattern) for pattern in OWN_PATTERNS)]


def check_replaceable(folder: Path) -> None:
    """Raise OutputError if ``folder`` cannot be replaced by a new run: it holds files
    mglru-sim did not write (they are never deleted silently)."""
    foreign = foreign_files(folder)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3
                                          else "")
        raise OutputError(str(folder), f"holds files mglru-sim did not write ({shown}); "
                          "move them away to rerun this run (nothing was replaced)")


def run_folder(out: Path, sc: Scenario, summary: Mapping[str, Any]) -> Path:
    """Where a run of ``sc`` goes under the results root ``out``: ``out/<name>/<run id>``,
    checked (:func:`simulator.output.paths.folder_under`). Raises OutputError."""
    return folder_under(out, sc.name, str(summary["run_id"]))


def prepare_run_folder(out: Path, sc: Scenario, run_id: str) -> Path:
    """Check, before a run, that its folder can be written: the path rule, a location that
    can be created, no foreign files in an earlier folder. Raises OutputError."""
    folder = folder_under(out, sc.name, run_id)
    probe(folder.parent)
    if folder.is_dir():
        check_replaceable(folder)
    return folder


def complete_summary(folder: Path) -> dict[str, Any] | None:
    """The summary of a complete run folder, or None if it must be (re)done: the marker is
    there and every file it lists (and every file a run folder has) is a file."""
    listed = manifest(folder)
    if listed is None:
        return None
    if not all((folder / name).is_file() for name in (*REQUIRED, *listed)):
        return None
    try:
        summary = json.loads((folder / SUMMARY_JSON).read_text())
    except (OSError, ValueError):
        return None
    return summary if isinstance(summary, dict) else None


__all__ = ["COMPLETE_MARKER", "OWN_PATTERNS", "REQUIRED", "Finish", "RunResult",
           "check_replaceable", "complete_summary", "foreign_files", "manifest",
           "prepare_run_folder", "run_folder", "run_result", "with_run_id", "write_run"]

"""Read saved results (run folders, sweep.csv, mrc.csv, calibration.csv) into tidy frames.

Plots and the report work from files only, never by re-simulating (DESIGN §4, aesthetics P11),
so this module is the one place that knows the on-disk layout the runner and the sweep command
write. A results folder is either one run folder (it holds ``summary.csv``) or any folder with
run folders somewhere below it, with or without the ``sweep.csv`` a sweep writes next to them.
Anything unreadable raises :class:`ResultsError`, whose message names the file and what was
expected, so the CLI can print one line and exit 2.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

SUMMARY_FILE = "summary.csv"
SWEEP_FILE = "sweep.csv"
MRC_FILE = "mrc.csv"
MRC_CURVE_FILE = "mrc_lru.csv"
MRC_ABOUT_FILE = "mrc.json"
CALIBRATION_FILE = "calibration.csv"

PASS_NEEDED = ("pass", "duration_ns", "lock_wait_ns", "ptes_scanned",
               "young_tp", "young_fp", "young_fn", "young_tn")
TIMESERIES_NEEDED = ("t_ns", "gen0_pages", "gen1_pages", "gen2_pages", "gen3_pages",
                     "refaults", "evictions", "vcpu_running_ns", "vcpu_fault_ns",
                     "vcpu_lock_wait_ns", "vcpu_stall_ns")
MRC_NEEDED = ("cache_pages", "lru_miss_ratio", "mglru_miss_ratio")
CALIBRATION_NEEDED = ("label", "published", "simulated")

FACTORS: tuple[str, ...] = ("backend", "notifier", "aging_lock", "vcpus", "workload",
                            "guest_pages", "host_pages", "scenario", "seed")
"""Summary columns that describe a run's configuration rather than measure it."""

DOTTED_TO_SUMMARY: dict[str, str] = {
    "vm.backend": "backend", "mglru.notifier": "notifier", "vm.aging_lock": "aging_lock",
    "vm.vcpus": "vcpus", "workload.kind": "workload", "vm.memory": "guest_pages",
    "host.memory": "host_pages", "sim.seed": "seed", "name": "scenario",
}
"""Sweep keys whose effect a summary column already records (``aging_lock`` resolved)."""


class ResultsError(ValueError):
    """A results folder is missing or holds nothing readable; ``str()`` names the path."""


@dataclass(frozen=True, slots=True)
class SavedRun:
    """One run folder as written by ``simulator.runner.write_run``."""

    folder: Path
    summary: dict[str, Any]
    passes: pd.DataFrame
    timeseries: pd.DataFrame
    lru_gen: str
    config_toml: str

    @property
    def run_id(self) -> str:
        """The run id (the folder name if the summary lacks one)."""
        return str(self.summary.get("run_id") or self.folder.name)


@dataclass(frozen=True, slots=True)
class Results:
    """Everything under one results folder that figures and the report are made from."""

    root: Path
    runs: tuple[SavedRun, ...]
    table: pd.DataFrame
    """One row per run: ``sweep.csv`` if present, else the runs' summaries, concatenated."""
    varied: tuple[str, ...]
    """Columns of ``table`` that describe the configuration and differ between runs."""
    mrc: pd.DataFrame | None
    calibration: pd.DataFrame | None
    mrc_curve: pd.DataFrame | None = None
    """The whole exact-LRU curve (``mrc_lru.csv``), if the folder has it."""
    mrc_about: dict[str, Any] | None = None
    """The trace the MRC is of (``mrc.json``: trace, records, distinct_pages)."""

    @property
    def is_run(self) -> bool:
        """True when the folder is a single run folder."""
        return (self.root / SUMMARY_FILE).is_file()


def read_csv(path: Path, needed: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a CSV file, checking it has the ``needed`` columns."""
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame()
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise ResultsError(f"{path}: not a readable CSV file ({e})") from None
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ResultsError(f"{path}: missing column(s) {', '.join(missing)}")
    return frame


def _text(path: Path) -> str:
    return path.read_text() if path.is_file() else ""


def load_run(folder: Path) -> SavedRun:
    """Read one run folder; only ``summary.csv`` is required, the rest may be absent."""
    summary = read_csv(folder / SUMMARY_FILE, ("run_id", "backend"))
    if len(summary) != 1:
        raise ResultsError(f"{folder / SUMMARY_FILE}: expected one row, found {len(summary)}")

    def optional(name: str, needed: tuple[str, ...]) -> pd.DataFrame:
        path = folder / name
        if not path.is_file():
            return pd.DataFrame(columns=list(needed))
        frame = read_csv(path, () if path.stat().st_size == 0 else needed)
        return frame if len(frame.columns) else pd.DataFrame(columns=list(needed))

    return SavedRun(
        folder=folder,
        summary={str(k): v for k, v in summary.iloc[0].to_dict().items()},
        passes=optional("passes.csv", PASS_NEEDED),
        timeseries=optional("timeseries.csv", TIMESERIES_NEEDED),
        lru_gen=_text(folder / "lru_gen.txt"),
        config_toml=_text(folder / "config.toml"),
    )


def find_run_folders(root: Path) -> list[Path]:
    """Run folders at or below ``root``, sorted; temporary (dot) folders are skipped."""
    found = sorted(p.parent for p in root.rglob(SUMMARY_FILE))
    # the runner builds a run folder under a ".name.*" temporary name before renaming it
    return [p for p in found if not any(part.startswith(".") for part in p.relative_to(root).parts)]


def varied_columns(table: pd.DataFrame) -> tuple[str, ...]:
    """Configuration columns that take more than one value: summary factors, then sweep keys."""
    def varies(col: str) -> bool:
        return col in table.columns and table[col].nunique(dropna=True) > 1

    factors = [c for c in FACTORS if varies(c)]
    dotted = [c for c in table.columns
              if "." in c and c not in DOTTED_TO_SUMMARY and varies(c)]
    return (*factors, *dotted)


def _with_scanned(table: pd.DataFrame, runs: tuple[SavedRun, ...]) -> pd.DataFrame:
    # The summary has no aging PTE count (only eviction's pgscan); the runs' passes.csv do.
    if "aging_ptes_scanned" in table.columns or "run_id" not in table.columns:
        return table
    scanned = {r.run_id: float(pd.to_numeric(r.passes["ptes_scanned"]).sum()) for r in runs}
    table = table.copy()
    table["aging_ptes_scanned"] = table["run_id"].astype(str).map(scanned)
    return table


def _optional_table(path: Path, needed: tuple[str, ...]) -> pd.DataFrame | None:
    return read_csv(path, needed) if path.is_file() else None


def _about(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ResultsError(f"{path}: not a readable JSON file ({e})") from None
    return doc if isinstance(doc, dict) else None


def load_results(root: Path) -> Results:
    """Read a run folder, a sweep folder, or a folder with run folders below it."""
    root = Path(root)
    if not root.is_dir():
        raise ResultsError(f"{root}: no such results directory")
    folders = [root] if (root / SUMMARY_FILE).is_file() else find_run_folders(root)
    runs = tuple(load_run(f) for f in folders)
    mrc = _optional_table(root / MRC_FILE, MRC_NEEDED)
    calibration = _optional_table(root / CALIBRATION_FILE, CALIBRATION_NEEDED)
    if (root / SWEEP_FILE).is_file():
        table = read_csv(root / SWEEP_FILE, ("run_id", "backend"))
    elif runs:
        table = pd.DataFrame([r.summary for r in runs])
    elif mrc is not None or calibration is not None:  # an `mrc` or calibration folder
        table = pd.DataFrame(columns=["run_id", "backend"])
    else:
        raise ResultsError(f"{root}: no run folder ({SUMMARY_FILE}), {SWEEP_FILE}, {MRC_FILE} "
                           f"or {CALIBRATION_FILE} in or below it")
    table = _with_scanned(table, runs)
    return Results(root=root, runs=runs, table=table, varied=varied_columns(table), mrc=mrc,
                   calibration=calibration,
                   mrc_curve=_optional_table(root / MRC_CURVE_FILE, MRC_NEEDED[:2]),
                   mrc_about=_about(root / MRC_ABOUT_FILE))

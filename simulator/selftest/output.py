"""The selftest's results as tables and as a run folder.

A selftest run folder has the files of every run folder (``runner.write_run``: summary,
passes, time series, ``lru_gen`` snapshots, effective configuration) plus ``phases.csv``
(``phase, seconds, ns``: one row per printed phase, and with ``-p`` the ``vcpu wall time`` and
the mean aging pass) and ``output.txt`` (what the command printed). It is built under a
temporary name and renamed into place, so it is complete or absent.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.config import to_toml
from simulator.metrics import PASS_COLUMNS, TIMESERIES_COLUMNS
from simulator.runner import RunResult, summary_row, write_run
from simulator.selftest.driver import SelftestResult

PHASE_COLUMNS = ("phase", "seconds", "ns")


def run_id(result: SelftestResult) -> str:
    """Stable id of the configuration and the selftest options."""
    text = to_toml(result.scenario) + repr(sorted(asdict(result.params).items()))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def phases_frame(result: SelftestResult) -> pd.DataFrame:
    """``phases.csv``: every timed phase, then the ``-p`` results."""
    rows = [(p.name, p.ns / 1e9, p.ns) for p in result.phases]
    if result.vcpu_wall_ns is not None:
        rows.append(("vcpu wall time", result.vcpu_wall_ns / 1e9, result.vcpu_wall_ns))
    avg = result.aging_avg_ns
    if avg is not None:
        rows.append(("lru_gen avg pass duration", avg / 1e9, avg))
    return pd.DataFrame(rows, columns=list(PHASE_COLUMNS))


def summary(result: SelftestResult) -> dict[str, Any]:
    """The run's summary row (DESIGN §5 columns) plus the selftest's own columns."""
    row = summary_row(result.data, result.wall_time_s)
    row["run_id"] = run_id(result)
    p = result.params
    row.update(
        selftest_mode=p.mode, selftest_benchmark=p.benchmark, selftest_overlap=p.overlap,
        selftest_warn_only=p.warn_only, selftest_bytes_per_vcpu=p.bytes_per_vcpu,
        selftest_test_pages=p.test_pages, selftest_passed=result.passed,
        selftest_failure=result.failure, selftest_warnings=len(result.warnings),
        selftest_vcpu_wall_ns=result.vcpu_wall_ns, selftest_aging_passes=result.aging_passes,
        selftest_aging_avg_ns=result.aging_avg_ns,
    )
    for phase in result.phases:
        key = phase.name.lower().replace(" (", "_").replace(")", "").replace(" ", "_")
        row[f"phase_{key}_ns"] = phase.ns
    return row


def run_result(result: SelftestResult) -> RunResult:
    """The generic run tables of a selftest run."""
    data = result.data
    return RunResult(
        summary=summary(result),
        passes=pd.DataFrame(data.passes, columns=list(PASS_COLUMNS)),
        timeseries=pd.DataFrame(data.timeseries, columns=list(TIMESERIES_COLUMNS)),
        lru_gen="\n".join(data.lru_gen),
        config_toml=to_toml(result.scenario),
    )


def write_selftest_run(result: SelftestResult, out: Path) -> Path:
    """Write ``out/<scenario>/<run_id>/`` atomically; returns the folder."""
    folder = Path(out) / result.scenario.name / run_id(result)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        built = write_run(run_result(result), staging / "run")
        phases_frame(result).to_csv(built / "phases.csv", index=False)
        (built / "output.txt").write_text("\n".join(result.lines) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(built, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder

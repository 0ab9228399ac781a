"""The selftest's results as tables and as a run folder.

A selftest run folder has the files of every run folder (``simulator.output.write_run``:
summary, passes, time series, ``lru_gen`` snapshots, effective configuration) plus
``phases.csv`` (``phase, seconds, ns``: one row per printed phase, and with ``-p`` the ``vcpu
wall time`` and the mean aging pass) and ``output.txt`` (what the command printed), all before
the ``.complete`` marker. It is built under a temporary name and renamed into place, so it is
complete or absent.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.config import to_toml
from simulator.output.paths import folder_under
from simulator.output.run_folder import run_result, with_run_id, write_run
from simulator.output.summary import summary_row
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


def write_selftest_run(result: SelftestResult, out: Path) -> Path:
    """Write ``out/<scenario>/<run_id>/`` atomically; returns the folder."""
    folder = folder_under(out, result.scenario.name, run_id(result))
    phases = with_run_id(phases_frame(result), run_id(result))
    return write_run(run_result(result.data, result.wall_time_s, summary(result)), folder,
                     extra={"phases.csv": lambda path: phases.to_csv(path, index=False),
                            "output.txt": "\n".join(result.lines) + "\n"})

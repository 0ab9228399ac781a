"""What a report says first: what was simulated, what was swept, and which runs stand out.

Made from the saved effective configuration (``config.toml``, after every ``--set``) and the
swept keys as the sweep wrote them, never from a scenario's hand-written ``description``,
which overrides can make wrong; that description is quoted as the scenario file's.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from typing import Any

import pandas as pd

from simulator.describe import describe_config
from simulator.plots import Results, SavedRun
from simulator.plots.factors import Factor, factors_of, prepare

PROVENANCE = "provenance"
"""``config.toml``'s table of how the run was made (:mod:`simulator.provenance`, which this
module does not import: reports never load the model)."""


def _config(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}


def run_lines(run: SavedRun) -> list[str]:
    """The effective configuration in one sentence, the scenario file, its description and the
    overrides (from ``[provenance]``)."""
    doc = _config(run.config_toml)
    if not doc:
        return []
    lines = [describe_config(doc)]
    prov = doc.get(PROVENANCE, {})
    if isinstance(prov, dict) and prov.get("scenario"):
        lines.append(f"Scenario file: {prov['scenario']}.")
    overrides = [*(prov.get("set", []) if isinstance(prov, dict) else [])]
    if overrides:
        lines.append("Overrides (--set): " + ", ".join(map(str, overrides)) + ".")
    if doc.get("description"):
        when = " (written before the overrides)" if overrides else ""
        lines.append(f"The scenario file describes itself{when} as: “{doc['description']}”.")
    return lines


def swept_text(factors: Sequence[Factor]) -> list[str]:
    """``host.memory = 24MiB, 16MiB`` per factor (zip groups side by side), values as
    written, in sweep order."""
    out = []
    for f in factors:
        for i, key in enumerate(f.keys):
            out.append(f"{key} = " + ", ".join(level[i] for level in f.levels))
    return out


def sweep_lines(results: Results) -> list[str]:
    """Runs, swept keys with their values as written, and the first run's configuration."""
    table = results.table
    lines = [f"{len(table)} runs."]
    swept = swept_text(factors_of(table))
    if swept:
        lines.append("Swept (values as written in the sweep): " + "; ".join(swept) + ".")
    ordered = prepare(table)
    first_id = str(ordered["run_id"].iloc[0]) if "run_id" in ordered and len(ordered) else ""
    run = next((r for r in results.runs if r.run_id == first_id),
               results.runs[0] if results.runs else None)
    if run is not None:
        first = run_lines(run)
        if first:
            lines.append(f"Run {run.run_id}: {first[0]}")
            lines += first[1:]
    return lines


def run_values(results: Results) -> dict[str, str]:
    """``run_id`` → ``key=value, ...`` of its swept keys (values as written)."""
    table = prepare(results.table)
    factors = factors_of(table)
    keys = [k for f in factors for k in f.keys]
    if "run_id" not in table.columns or not keys:
        return {}
    return {str(row["run_id"]): ", ".join(f"{k}={row[k]}" for k in keys)
            for _, row in table.iterrows()}


def notable_runs(results: Results) -> list[str]:
    """Failed runs and runs without an aging pass, by id and swept values."""
    table = prepare(results.table)
    if "run_id" not in table.columns or len(table) <= 1:
        return []
    values = run_values(results)
    lines = []
    if "status" in table.columns:
        failed = table[table["status"].astype(str) != "ok"]
        lines += [f"Run {r} failed ({values.get(str(r), '')}): see sweep_errors.txt."
                  for r in failed["run_id"]]
    passes = pd.to_numeric(table.get("aging_passes", pd.Series(dtype=float)), errors="coerce")
    idle = table[passes == 0]
    lines += [f"Run {r} made no aging pass ({values.get(str(r), '')}): its aging and accuracy "
              "metrics are empty, drawn as crosses on the x axis." for r in idle["run_id"]]
    return lines


__all__ = ["notable_runs", "run_lines", "run_values", "sweep_lines", "swept_text"]

"""Seeds-aware summaries and the one number formatter every finding goes through.

A question's answer compares configurations; each configuration ran with several seeds. This
module reduces ``sweep.csv`` rows to one line per configuration (mean, sample standard
deviation, min and max over the seeds) and decides whether two configurations differ by more
than their seed-to-seed noise. Every number that reaches ``findings.md`` is formatted by
:func:`fmt`, and the tables behind the findings are written with the same formatter, so a test
can check that every number in the text appears in a table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd


def fmt(x: float | int | None) -> str:
    """Three significant digits; thousands grouped; '-' for a missing value."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    v = float(x)
    if v != 0 and abs(v) >= 1000:
        return f"{v:,.0f}"
    if v == int(v) and abs(v) < 1000:
        return str(int(v))
    return f"{v:.3g}"


@dataclass(frozen=True, slots=True)
class Spread:
    """One metric of one configuration over its seeds."""

    mean: float
    sd: float
    lo: float
    hi: float
    n: int

    def differs_from(self, other: Spread) -> bool:
        """A real difference: the means are further apart than twice the pooled seed
        standard deviation, and the seed ranges do not overlap."""
        pooled = math.sqrt((self.sd ** 2 + other.sd ** 2) / 2) if self.n > 1 else 0.0
        apart = abs(self.mean - other.mean) > 2 * pooled
        disjoint = self.hi < other.lo or other.hi < self.lo
        return apart and disjoint


def spreads(df: pd.DataFrame, by: Sequence[str], metrics: Sequence[str]
            ) -> dict[tuple[object, ...], dict[str, Spread]]:
    """Per configuration (the ``by`` columns), each metric's spread over the seeds."""
    out: dict[tuple[object, ...], dict[str, Spread]] = {}
    ok = df[df.get("status", "ok") == "ok"] if "status" in df else df
    for key, group in ok.groupby(list(by), sort=False, dropna=False):
        k = key if isinstance(key, tuple) else (key,)
        out[k] = {}
        for m in metrics:
            values = pd.to_numeric(group[m], errors="coerce").dropna()
            if values.empty:
                continue
            out[k][m] = Spread(float(values.mean()),
                               float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                               float(values.min()), float(values.max()), len(values))
    return out


def table(df: pd.DataFrame, by: Sequence[str], metrics: dict[str, tuple[str, float]]
          ) -> tuple[pd.DataFrame, dict[tuple[object, ...], dict[str, Spread]]]:
    """The formatted table behind a finding: one row per configuration, for each metric its
    mean and its seed standard deviation (``± sd``), in the metric's display unit.

    ``metrics`` maps a summary column to (display name, divisor), e.g.
    ``{"aging_pass_mean_ns": ("aging pass (ms)", 1e6)}``. Returns the table (strings, as
    written) and the spreads in display units.
    """
    sp = spreads(df, by, list(metrics))
    rows = []
    scaled: dict[tuple[object, ...], dict[str, Spread]] = {}
    for key, per in sp.items():
        row: dict[str, str] = {b: str(v) for b, v in zip(by, key, strict=True)}
        scaled[key] = {}
        for col, (name, div) in metrics.items():
            s = per.get(col)
            if s is None:
                row[name] = row[f"{name} ± sd"] = "-"
                continue
            s = Spread(s.mean / div, s.sd / div, s.lo / div, s.hi / div, s.n)
            scaled[key][col] = s
            row[name] = fmt(s.mean)
            row[f"{name} ± sd"] = fmt(s.sd)
        row["seeds"] = str(max((s.n for s in per.values()), default=0))
        rows.append(row)
    return pd.DataFrame(rows), scaled

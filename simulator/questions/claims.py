"""From ``sweep.csv`` to estimates, stated changes and checkable conclusions.

Every analysis goes through this module, so every answer is written the same way:

- :func:`runs_table` reduces the runs to one row per configuration: its kernel release and
  backend, the keys it sets against its release (a what-if, ``kernel_deviations``), and per
  metric the mean over the seeds printed to the digits its 95 % interval supports, with the
  interval's half-width or "deterministic";
- :class:`Effects` states a change between two configurations (:func:`prose.change`), adds
  the strings it printed to the question's *effects* table (so every number of a sentence is
  a cell of a table) and records the change's direction as :class:`Conclusion` s for the
  sensitivity pass;
- :func:`direction` is that direction: "raises", "lowers" or "leaves unchanged" (within
  :data:`FLAT`), one conclusion each, exactly one of which holds in any run set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from simulator.questions.estimate import Effect, Estimate, digits_for, fmt_mean, grouped
from simulator.questions.prose import change, half_width_text, percent_text, printed
from simulator.questions.sensitivity import Conclusion

FLAT = 0.01
"""A relative change within ±1 % counts as "unchanged" for a conclusion's direction (the
sentence itself prints whatever the digits show)."""

Key = tuple[object, ...]
Estimates = dict[Key, dict[str, Estimate]]


def ok_rows(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"] == "ok"] if "status" in df else df


def estimates(df: pd.DataFrame, by: Sequence[str],
              metrics: Mapping[str, tuple[str, float]]) -> Estimates:
    """Per configuration (the ``by`` columns), each metric's estimate over the seeds, in the
    metric's display unit (``metrics``: column -> (display name, divisor))."""
    out: Estimates = {}
    for key, group in ok_rows(df).groupby(list(by), sort=False, dropna=False):
        k = key if isinstance(key, tuple) else (key,)
        out[k] = {}
        for col, (_, div) in metrics.items():
            if col not in group:
                continue
            values = pd.to_numeric(group[col], errors="coerce").dropna()
            if not values.empty:
                out[k][col] = Estimate.of([float(v) / div for v in values])
    return out


def era(df: pd.DataFrame, by: Sequence[str]) -> dict[Key, tuple[str, str, str]]:
    """Per configuration: (kernel release, backend, what-if keys or ``"none"``)."""
    out: dict[Key, tuple[str, str, str]] = {}
    rows = ok_rows(df)
    for key, group in rows.groupby(list(by), sort=False, dropna=False):
        k = key if isinstance(key, tuple) else (key,)
        first = group.iloc[0]
        release = str(first.get("kernel", first.get("kernel.release", "?")))
        backend = str(first.get("vm.backend", first.get("kernel_backend", "x86_tdp")))
        dev = first.get("kernel_deviations", "")
        dev = "none" if not isinstance(dev, str) or not dev or dev == "nan" else dev
        out[k] = (release, backend, dev)
    return out


def runs_table(df: pd.DataFrame, by: Sequence[str], metrics: Mapping[str, tuple[str, float]]
               ) -> tuple[pd.DataFrame, Estimates, dict[Key, tuple[str, str, str]]]:
    """The table behind a finding: one row per configuration, its release, backend and
    what-ifs, each metric's mean and the half-width of its 95 % interval over the seeds."""
    est, eras = estimates(df, by, metrics), era(df, by)
    rows = []
    for key, per in est.items():
        release, backend, dev = eras[key]
        row: dict[str, str] = {"release": release}
        if "vm.backend" not in by:
            row["backend"] = backend
        row |= {b: str(v) for b, v in zip(by, key, strict=True)}
        row["set against the release"] = dev
        for col, (name, _) in metrics.items():
            e = per.get(col)
            if e is None:
                row[name] = row[f"{name} ±95%"] = "-"
                continue
            row[name] = fmt_mean(e)
            h = e.half_width
            row[f"{name} ±95%"] = ("deterministic" if e.deterministic else "-" if math.isnan(h)
                                   else grouped(round(h, digits_for(h)), digits_for(h)))
        row["seeds"] = str(max((e.n for e in per.values()), default=0))
        rows.append(row)
    return pd.DataFrame(rows), est, eras


def direction(where: str, metric: str, effect: Effect) -> list[Conclusion]:
    """Three conclusions about ``effect``'s direction; exactly one holds."""
    rel, d = effect.relative, effect.diff
    if math.isnan(rel) or math.isinf(rel):
        up, down = d > 0, d < 0
        value = d
    else:
        up, down = rel > FLAT, rel < -FLAT
        value = 100.0 * rel
    return [Conclusion(f"{where}: {metric} up", f"{where}: raises {metric}", up, value),
            Conclusion(f"{where}: {metric} down", f"{where}: lowers {metric}", down, value),
            Conclusion(f"{where}: {metric} flat",
                       f"{where}: leaves {metric} unchanged (within {FLAT:.0%})",
                       not up and not down, value)]


@dataclass(slots=True)
class Effects:
    """The changes a finding states: their table rows and their conclusions."""

    rows: list[dict[str, str]] = field(default_factory=list)
    conclusions: list[Conclusion] = field(default_factory=list)
    unresolved: set[str] = field(default_factory=set)
    """Conclusion keys whose effect the seeds do not resolve (interval includes zero)."""

    def say(self, context: Mapping[str, str], where: str, metric: str, effect: Effect,
            unit: str = "", integer: bool = False, conclude: bool = True) -> str:
        """The sentence fragment for ``effect`` (``"raises X from a to b (...)"``); its
        strings go to a row of the effects table, keyed by ``context`` (which must name the
        release and backend) and its direction to the conclusions (keyed by ``where``)."""
        a, b, d = printed(effect, integer)
        resolved = ("deterministic" if effect.deterministic else
                    "yes" if effect.resolved else "no")
        self.rows.append({**context, "metric": metric + (f" ({unit})" if unit else ""),
                          "before": a, "after": b, "change": d,
                          "change (%)": percent_text(effect),
                          "±95% of the change": half_width_text(effect),
                          "resolved": resolved,
                          "seeds": str(min(effect.before.n, effect.after.n))})
        if conclude:
            found = direction(where, metric, effect)
            self.conclusions += found
            if resolved == "no":
                self.unresolved |= {c.key for c in found}
        return change(metric, effect, unit, integer)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)


def binary(key: str, holds: bool, value: float, yes: str, no: str) -> list[Conclusion]:
    """A claim and its negation as two conclusions (``yes`` holds when ``holds``)."""
    return [Conclusion(f"{key}: yes", yes, holds, value),
            Conclusion(f"{key}: no", no, not holds, value)]


__all__ = ["FLAT", "Effects", "binary", "direction", "era", "estimates", "ok_rows",
           "runs_table"]

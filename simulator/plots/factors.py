"""What a set of runs varies, and the part each varied key plays in a comparison figure.

A *factor* is a set of swept keys that vary together (one key, or the keys of a
``[sweep.zip]`` group, found as keys whose values determine each other), with its levels in
the order the sweep wrote them. Keys are named as the scenario names them (``host.memory``)
and values are shown as written (``192MiB``): from ``sweep.csv``'s swept-key columns, or, for a
folder of runs without one, from the summary columns that record a key (``host_pages`` becomes
``host.memory`` in units).

:func:`assign_roles` gives every factor a part, so no figure averages over a factor that
varies: the factor the figure is about takes the colour (and marker), a numeric one the x
axis, the next ones the columns and rows of small multiples, the rest the line style. Seeds
(``sim.seed`` alone) are replicates: a figure shows their mean and range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from simulator.humanize import size_text
from simulator.plots.style import BACKEND_ORDER, NOTIFIER_ORDER
from simulator.units import PAGE_SIZE, parse_size

REPLICATE_KEYS = frozenset({"sim.seed"})
"""Keys whose levels are repetitions of the same configuration."""

SUMMARY_KEYS: dict[str, str] = {
    "backend": "vm.backend", "notifier": "mglru.notifier", "aging_lock": "vm.aging_lock",
    "vcpus": "vm.vcpus", "workload": "workload.kind", "guest_pages": "vm.memory",
    "host_pages": "host.memory", "seed": "sim.seed",
}
"""Summary columns that record a scenario key, for results without ``sweep.csv``."""

DESIGN_KEYS = ("mglru.notifier", "vm.backend", "vm.aging_lock", "kernel.release",
               "host.policy", "mglru.unreliable_fallback", "vm.tlb_flush_on_age")
"""Keys that name a design under comparison: a figure is about the first one swept."""

KNOWN_ORDER = {"vm.backend": BACKEND_ORDER, "mglru.notifier": NOTIFIER_ORDER}


@dataclass(frozen=True, slots=True)
class Factor:
    """Keys that vary together, and their levels (one text per key) in sweep order."""

    keys: tuple[str, ...]
    levels: tuple[tuple[str, ...], ...]

    @property
    def name(self) -> str:
        return ", ".join(self.keys)

    def label(self, level: tuple[str, ...]) -> str:
        """``host.memory=192MiB`` (``, ``-joined for several keys)."""
        return ", ".join(f"{k}={v}" for k, v in zip(self.keys, level, strict=True))

    def short(self, level: tuple[str, ...]) -> str:
        """The values alone (``192MiB``), for tick labels under an axis named by the keys."""
        return ", ".join(level)

    @property
    def numeric(self) -> bool:
        """Every value of every key is a number or a size."""
        return all(_number(v) is not None for level in self.levels for v in level)

    def index(self, frame: pd.DataFrame) -> pd.Series:
        """Each row's level number (``-1`` if a row has no level)."""
        lookup = {level: i for i, level in enumerate(self.levels)}
        keys = frame[list(self.keys)].astype(str).itertuples(index=False, name=None)
        return pd.Series([lookup.get(tuple(k), -1) for k in keys], index=frame.index)


@dataclass(frozen=True, slots=True)
class Roles:
    """The part each factor plays in a figure (None: no factor in that part)."""

    hue: Factor | None
    x: Factor | None
    col: Factor | None
    row: Factor | None
    style: Factor | None
    replicate: Factor | None

    def factors(self) -> list[Factor]:
        return [f for f in (self.hue, self.x, self.col, self.row, self.style) if f is not None]


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return float(parse_size(text))
    except ValueError:
        return None


def _text(value: object) -> str:
    """A value as a scenario file writes it: ``2`` (not ``2.0``), ``true``, ``192MiB``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    return text.lower() if text in ("True", "False") else text


def key_columns(table: pd.DataFrame) -> pd.DataFrame:
    """One text column per swept key: ``sweep.csv``'s dotted columns, else the summary columns
    that record a key (page counts as sizes), rows in ``run_index`` order when there is one."""
    if "run_index" in table.columns:
        table = table.sort_values("run_index", kind="stable")
    dotted = [c for c in table.columns if "." in c]
    if dotted:
        return table[dotted].map(lambda v: "" if _missing(v) else _text(v))
    out = pd.DataFrame(index=table.index)
    for col, key in SUMMARY_KEYS.items():
        if col in table.columns:
            values = table[col]
            if col.endswith("_pages"):
                values = values.map(lambda v: v if _missing(v) else size_text(int(v) * PAGE_SIZE))
            out[key] = values.map(lambda v: "" if _missing(v) else _text(v))
    return out


def _missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def _levels(keys: Sequence[str], cols: pd.DataFrame,
            sweep_order: bool) -> tuple[tuple[str, ...], ...]:
    seen = list(dict.fromkeys(cols[list(keys)].itertuples(index=False, name=None)))
    if sweep_order or len(keys) > 1:
        return tuple(seen)
    key = keys[0]
    order = KNOWN_ORDER.get(key, ())
    if all(_number(v[0]) is not None for v in seen):
        return tuple(sorted(seen, key=lambda v: _number(v[0]) or 0.0))
    return tuple(sorted(seen, key=lambda v: (v[0] not in order,
                                             order.index(v[0]) if v[0] in order else 0, v[0])))


def prepare(table: pd.DataFrame) -> pd.DataFrame:
    """The table in ``run_index`` order with one text column per swept key (values as
    written), which :class:`Factor` reads."""
    if "run_index" in table.columns:
        table = table.sort_values("run_index", kind="stable")
    cols = key_columns(table)
    return table.assign(**{k: cols[k] for k in cols.columns})


def factors_of(table: pd.DataFrame) -> list[Factor]:
    """The factors of a results table, in sweep order: keys with more than one value, grouped
    when their values determine each other (a zip group)."""
    cols = key_columns(table)
    varying = [k for k in cols.columns if cols[k].nunique() > 1]
    groups: list[list[str]] = []
    for key in varying:
        for group in groups:
            pairs = cols[[group[0], key]].drop_duplicates()
            if len(pairs) == cols[key].nunique() == cols[group[0]].nunique():
                group.append(key)
                break
        else:
            groups.append([key])
    # sweep.csv's keys keep the sweep's order (first appearance); summary-derived ones sort
    sweep_order = any("." in c for c in table.columns)
    return [Factor(tuple(g), _levels(g, cols, sweep_order)) for g in groups]


def _combined(factors: Sequence[Factor], cols: pd.DataFrame) -> Factor | None:
    if not factors:
        return None
    if len(factors) == 1:
        return factors[0]
    keys = tuple(k for f in factors for k in f.keys)
    return Factor(keys, _levels(keys, cols, True))


def assign_roles(table: pd.DataFrame, factors: Sequence[Factor]) -> Roles:
    """The part of each factor: seeds replicate; the first design factor (else the first
    factor) is the hue; the first numeric factor left (else the next) the x axis; then
    columns, rows, and every factor left together as the line style."""
    replicate = next((f for f in factors if set(f.keys) <= REPLICATE_KEYS), None)
    rest = [f for f in factors if f is not replicate]
    hue = next((f for key in DESIGN_KEYS for f in rest if key in f.keys), None)
    hue = hue or (rest[0] if rest else None)
    rest = [f for f in rest if f is not hue]
    x = next((f for f in rest if f.numeric), rest[0] if rest else None)
    rest = [f for f in rest if f is not x]
    col = rest.pop(0) if rest else None
    row = rest.pop(0) if rest else None
    return Roles(hue, x, col, row, _combined(rest, key_columns(table)), replicate)


__all__ = ["DESIGN_KEYS", "REPLICATE_KEYS", "SUMMARY_KEYS", "Factor", "Roles", "assign_roles",
           "factors_of", "key_columns", "prepare"]

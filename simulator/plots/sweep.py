"""Figures that compare runs: backend x notifier panels, accuracy vs cost, vCPU scaling.

Input is the one-row-per-run table (``sweep.csv`` or the runs' summaries). A *series* is one
combination of the configuration columns that vary in the sweep (backend, aging lock, ...),
drawn in its backend's colour; the notifier design picks the marker and line style, the aging
lock the marker fill, and several series of one backend get distinct hatches. Repeated seeds of
a series are averaged, with min-max error bars, so a seed sweep reads as a spread, not as noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import ScalarFormatter
from matplotlib.typing import FillStyleType

from simulator.plots.style import (
    BACKEND_ORDER,
    LOCK_FILL,
    NOTIFIER_ORDER,
    backend_colour,
    new_figure,
    notifier_mark,
    ordered,
    styled,
)

HATCHES = ("", "//", "..", "xx", "\\\\", "--", "++", "oo")
SHORT = {"aging_lock": "lock", "vcpus": "vCPUs", "guest_pages": "guest pages",
         "host_pages": "host pages"}

PANELS: tuple[tuple[str, str], ...] = (
    ("aging_pass_mean_us", "aging pass, mean (µs)"),
    ("vcpu_lock_wait_pct", "vCPU lock wait (% of time)"),
    ("young_precision", "young precision (0-1)"),
    ("young_recall", "young recall (0-1)"),
    ("refaults", "refaults (4 KiB pages)"),
    ("notifier_calls_per_page", "notifier calls per page scanned"),
)
"""The backend x notifier comparison panels: (column of :func:`derive`, y-axis label)."""


def _col(table: pd.DataFrame, col: str) -> pd.Series:
    if col not in table.columns:
        return pd.Series(np.nan, index=table.index, dtype=float)
    return pd.to_numeric(table[col], errors="coerce").astype(float)


def derive(table: pd.DataFrame) -> pd.DataFrame:
    """The derived metric columns the figures plot (units in the names) added to the table.

    Rows without a backend (a sweep records a failed run with its error and no summary) are
    dropped: they have nothing to plot.
    """
    if "backend" in table.columns:
        table = table.dropna(subset=["backend"])
    out = table.copy()
    out["aging_pass_mean_us"] = _col(table, "aging_pass_mean_ns") / 1e3
    out["aging_cpu_ms"] = _col(table, "aging_cpu_ns") / 1e6
    wall = _col(table, "vcpu_wall_ns")
    out["vcpu_lock_wait_pct"] = (100 * _col(table, "vcpu_lock_wait_ns") / wall).where(wall > 0)
    # pages scanned: PTEs the aging walk read (passes.csv) plus folios eviction scanned (pgscan);
    # look-around PTEs are not counted anywhere, so per_page can exceed one call per page
    scanned = _col(table, "aging_ptes_scanned") + _col(table, "pgscan")
    out["notifier_calls_per_page"] = (_col(table, "notifier_calls") / scanned).where(scanned > 0)
    return out


@dataclass(frozen=True, slots=True)
class Series:
    """The runs of one configuration combination, and how to draw them."""

    label: str
    backend: str
    notifier: str
    """The notifier design, or "" when the series spans several designs."""
    lock: str
    """The aging lock, or "" when it does not tell series apart."""
    rows: pd.DataFrame

    @property
    def fillstyle(self) -> FillStyleType:
        """Marker fill: full unless the aging lock tells series apart."""
        return LOCK_FILL.get(self.lock, "full")


def _fmt(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _sort_key(value: object) -> tuple[int, float, str]:
    if isinstance(value, int | float | np.integer | np.floating):
        return 0, float(value), ""
    return 1, 0.0, str(value)


def series_of(table: pd.DataFrame, varied: Sequence[str], exclude: Sequence[str]) -> list[Series]:
    """Split runs into series keyed by backend, notifier and the varied columns not excluded.

    Seeds never split series (they are replicates). Series come in backend order, then
    notifier order, then by label.
    """
    keys = [k for k in dict.fromkeys(("backend", "notifier", *varied))
            if k in table.columns and k not in ("seed", *exclude)]
    table = table.dropna(subset=["backend"])
    if "notifier" in table.columns:
        # a run without a VM has no notifier; keep it, under a name that says so
        table = table.assign(notifier=table["notifier"].fillna("n/a"))
    if table.empty or "backend" not in keys:
        return []
    backends = ordered(table["backend"], BACKEND_ORDER)
    notifiers = ["", *ordered(table.get("notifier", pd.Series(dtype=str)), NOTIFIER_ORDER)]
    out = []
    for key, rows in table.groupby(keys, sort=False, dropna=False):
        values = dict(zip(keys, key, strict=True))
        backend, notifier = str(values["backend"]), str(values.get("notifier", ""))
        rest = [k for k in keys[1:] if k != "notifier"]
        label = ", ".join([backend, *([notifier] if notifier else []),
                           *(f"{SHORT.get(k, k)}={_fmt(values[k])}" for k in rest)])
        # numbers sort as numbers, so "vCPUs=2" comes before "vCPUs=16"
        order = (backends.index(backend), notifiers.index(notifier),
                 *(_sort_key(values[k]) for k in rest))
        out.append((order, Series(label, backend, notifier, str(values.get("aging_lock", "")),
                                  rows)))
    return [s for _, s in sorted(out, key=lambda t: t[0])]


def _note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4")


def _hatches(groups: list[Series]) -> list[str]:
    # the n-th series of a backend gets the n-th hatch, so colour still means backend
    seen: dict[str, int] = {}
    out = []
    for s in groups:
        out.append(HATCHES[seen.get(s.backend, 0) % len(HATCHES)])
        seen[s.backend] = seen.get(s.backend, 0) + 1
    return out


def _bar_panel(ax: Axes, groups: list[Series], notifiers: list[str], column: str) -> None:
    width = 0.8 / max(len(groups), 1)
    drawn = False
    for i, (s, hatch) in enumerate(zip(groups, _hatches(groups), strict=True)):
        offset = (i - (len(groups) - 1) / 2) * width
        xs, ys, err_lo, err_hi = [], [], [], []
        for j, notifier in enumerate(notifiers):
            v = s.rows.loc[s.rows["notifier"] == notifier, column].dropna()
            if not v.empty:
                xs.append(j + offset)
                ys.append(v.mean())
                err_lo.append(v.mean() - v.min())
                err_hi.append(v.max() - v.mean())
        if xs:
            drawn = True
            spread = any(err_lo) or any(err_hi)
            ax.bar(xs, ys, width, yerr=[err_lo, err_hi] if spread else None, capsize=3,
                   color=backend_colour(s.backend), edgecolor="white", hatch=hatch,
                   label=s.label)
    if not drawn:
        _note(ax, "not in these results")
    ax.set_xticks(range(len(notifiers)), notifiers)
    ax.set_xlabel("notifier design")


@styled
def backend_notifier_figure(table: pd.DataFrame, varied: Sequence[str]) -> Figure:
    """Backend x notifier comparison: one panel per metric, notifier designs along x."""
    table = derive(table)
    groups = series_of(table, varied, exclude=("notifier",))
    notifiers = ordered(table["notifier"].fillna("n/a"), NOTIFIER_ORDER)
    fig = new_figure((13.3, 7.5))
    axes = fig.subplots(2, 3).ravel()
    for ax, (column, label) in zip(axes, PANELS, strict=True):
        _bar_panel(ax, groups, notifiers, column)
        ax.set_ylabel(label)
    handles = [Patch(facecolor=backend_colour(s.backend), edgecolor="white", hatch=h,
                     label=s.label) for s, h in zip(groups, _hatches(groups), strict=True)]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4))
    fig.suptitle("Backends and notifier designs (mean over seeds, bars: min-max)")
    return fig


def pareto_front(cost: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Indices of the runs no other run beats on both axes (lower cost, higher value), by cost."""
    order = np.lexsort((-value, cost))
    front, best = [], -np.inf
    for i in order:
        if value[i] > best:
            front.append(int(i))
            best = value[i]
    return np.asarray(front, dtype=int)


def _style_handles(groups: list[Series]) -> list[Line2D]:
    backends = ordered([s.backend for s in groups], BACKEND_ORDER)
    notifiers = ordered([s.notifier for s in groups], NOTIFIER_ORDER)
    locks = sorted({s.lock for s in groups} - {""})
    handles = [Line2D([], [], color=backend_colour(b), marker="o", linestyle="none", label=b)
               for b in backends]
    handles += [Line2D([], [], color="0.35", marker=notifier_mark(n).marker, linestyle="none",
                       label=f"notifier {n}") for n in notifiers]
    if len(locks) > 1:
        handles += [Line2D([], [], color="0.35", marker="o", linestyle="none",
                           fillstyle=LOCK_FILL.get(lock, "full"), label=f"lock {lock}")
                    for lock in locks]
    return handles


@styled
def accuracy_cost_figure(table: pd.DataFrame, varied: Sequence[str]) -> Figure:
    """Each run a point: aging CPU time against young F1, with the Pareto front marked."""
    table = derive(table)
    fig = new_figure()
    ax = fig.add_subplot()
    points = table.dropna(subset=["aging_cpu_ms", "young_f1", "backend"])
    points = points.assign(young_f1=_col(points, "young_f1"))
    groups = series_of(points, varied, exclude=("seed",))
    for s in groups:
        mark = notifier_mark(s.notifier)
        ax.plot(s.rows["aging_cpu_ms"], s.rows["young_f1"], linestyle="none",
                marker=mark.marker, markersize=9, color=backend_colour(s.backend),
                fillstyle=s.fillstyle, label=s.label)
    handles = _style_handles(groups)
    if len(points):
        cost, f1 = points["aging_cpu_ms"].to_numpy(float), points["young_f1"].to_numpy(float)
        front = pareto_front(cost, f1)
        ax.step(cost[front], f1[front], where="post", color="black", linestyle="--",
                linewidth=1.2, zorder=1)
        ax.plot(cost[front], f1[front], linestyle="none", marker="o", markersize=16,
                markerfacecolor="none", markeredgecolor="black", zorder=1)
        handles.append(Line2D([], [], color="black", linestyle="--", marker="o",
                              markerfacecolor="none", label="Pareto front"))
        positive = cost[cost > 0]
        if positive.size and positive.max() / positive.min() > 100:
            ax.set_xscale("log")
        ax.legend(handles=handles, loc="best")
    else:
        _note(ax, "no run with both aging CPU time and young F1")
    ax.set_xlabel("aging CPU time (ms, whole run)")
    ax.set_ylabel("young F1 (0-1, higher is better)")
    ax.set_title("Accuracy versus cost of aging, one point per run")
    return fig


@styled
def vcpu_scaling_figure(table: pd.DataFrame, varied: Sequence[str]) -> Figure:
    """Aging pass time and vCPU lock wait against vCPUs, like the selftest's ``-p`` table."""
    table = derive(table)
    fig = new_figure()
    pass_ax, wait_ax = fig.subplots(1, 2)
    groups = series_of(table, varied, exclude=("vcpus",))
    for s in groups:
        mark = notifier_mark(s.notifier)
        means = s.rows.groupby("vcpus")[["aging_pass_mean_us", "vcpu_lock_wait_pct"]].mean()
        for ax, col in ((pass_ax, "aging_pass_mean_us"), (wait_ax, "vcpu_lock_wait_pct")):
            ax.plot(means.index.to_numpy(float), means[col].to_numpy(float),
                    color=backend_colour(s.backend), marker=mark.marker,
                    linestyle=mark.linestyle, fillstyle=s.fillstyle,
                    markersize=8, label=s.label)
    vcpus = sorted(float(v) for v in _col(table, "vcpus").dropna().unique())
    for ax in (pass_ax, wait_ax):
        ax.set_xscale("log", base=2)
        ax.set_xticks(vcpus)
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.set_xlabel("vCPUs")
    pass_ax.set_ylabel("aging pass, mean (µs)")
    wait_ax.set_ylabel("vCPU mmu_lock wait (% of vCPU time)")
    handles, labels = pass_ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 3))
    fig.suptitle("Scaling with vCPUs (cf. access_tracking_perf_test -p)")
    return fig

"""Figures that compare runs: one per metric family, and the accuracy-cost trade-off.

Input is the one-row-per-run table (``sweep.csv`` or the runs' summaries). Each family figure
(:data:`FAMILIES`: aging cost, vCPU impact, young-bit accuracy, refaults and miss ratio) draws
its metrics on small multiples (:mod:`simulator.plots.facets`) with every varied factor in a
part of its own (:func:`simulator.plots.factors.assign_roles`), so nothing is averaged over a
factor that varies; seeds are replicates (mean, min-max bar). Runs that failed are named in the
title; runs without a value (no aging pass) are crosses on the x axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.typing import FillStyleType

from simulator.plots.facets import (
    Legend,
    Metric,
    facet_figure,
    figure_size,
    grid,
    legend_entries,
    look,
    panel_title,
    wrapped,
)
from simulator.plots.factors import Roles, assign_roles, factors_of, prepare
from simulator.plots.style import new_figure, styled


def _col(table: pd.DataFrame, col: str) -> pd.Series:
    if col not in table.columns:
        return pd.Series(np.nan, index=table.index, dtype=float)
    return pd.to_numeric(table[col], errors="coerce").astype(float)


def _share(table: pd.DataFrame, col: str) -> pd.Series:
    """``col`` as a percentage of all vCPU time (NaN without vCPUs)."""
    wall = _col(table, "vcpu_wall_ns")
    return (100 * _col(table, col) / wall).where(wall > 0)


@dataclass(frozen=True, slots=True)
class Family:
    """A figure of related metrics: its file stem, caption and metrics."""

    name: str
    caption: str
    metrics: tuple[Metric, ...]


FAMILIES: tuple[Family, ...] = (
    Family("sweep_aging_cost", "Aging cost: mean aging pass and aging CPU time of the run", (
        Metric("aging_pass_mean", "aging pass, mean (ms)",
               lambda t: _col(t, "aging_pass_mean_ns") / 1e6, needs_aging=True),
        Metric("aging_cpu", "aging CPU, whole run (ms)", lambda t: _col(t, "aging_cpu_ns") / 1e6),
    )),
    Family("sweep_vcpu_impact", "vCPU impact: mmu_lock wait and direct reclaim", (
        Metric("vcpu_lock_wait", "vCPU mmu_lock wait (% of vCPU time)",
               lambda t: _share(t, "vcpu_lock_wait_ns")),
        Metric("vcpu_reclaim", "vCPU direct reclaim (% of vCPU time)",
               lambda t: _share(t, "vcpu_direct_reclaim_ns")),
    )),
    Family("sweep_accuracy", "Young-bit accuracy: precision and recall against the truth", (
        Metric("young_precision", "young precision (0-1)",
               lambda t: _col(t, "young_precision"), needs_aging=True),
        Metric("young_recall", "young recall (0-1)",
               lambda t: _col(t, "young_recall"), needs_aging=True),
    )),
    Family("sweep_refaults", "Refaults and miss ratio", (
        Metric("refaults", "refaults (thousand pages)", lambda t: _col(t, "refaults") / 1e3),
        Metric("miss_ratio", "miss ratio (0-1)", lambda t: _col(t, "miss_ratio")),
    )),
)
"""The comparison figures, one per metric family."""


def ok_runs(table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The runs that finished (with the swept keys as text), and a note naming the others."""
    frame = prepare(table)
    failed = frame["status"].astype(str) != "ok" if "status" in frame.columns else \
        pd.Series(False, index=frame.index)
    if "backend" in frame.columns:
        failed |= frame["backend"].isna()
    notes = []
    if failed.any():
        ids = ", ".join(frame.loc[failed, "run_id"].astype(str)) if "run_id" in frame else ""
        notes.append(f"{int(failed.sum())} failed run(s) not shown: {ids} "
                     "(see sweep_errors.txt)")
    return frame[~failed], notes


def roles_of(table: pd.DataFrame) -> Roles:
    """The roles of the table's factors (:func:`assign_roles`)."""
    return assign_roles(table, factors_of(table))


def _title(caption: str, roles: Roles) -> str:
    seeds = " (mean over seeds, bar: min-max)" if roles.replicate is not None else ""
    return caption + seeds


@styled
def family_figure(table: pd.DataFrame, family: Family) -> Figure:
    """One metric family on small multiples of the varied factors."""
    frame, notes = ok_runs(table)
    roles = roles_of(frame)
    return facet_figure(frame, roles, family.metrics, _title(family.caption, roles), notes)


def pareto_front(cost: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Indices of the runs no other run beats on both axes (lower cost, higher value), by cost."""
    order = np.lexsort((-value, cost))
    front, best = [], -np.inf
    for i in order:
        if value[i] > best:
            front.append(int(i))
            best = value[i]
    return np.asarray(front, dtype=int)


FILLS: tuple[FillStyleType, ...] = ("full", "none", "left", "bottom", "right", "top")
"""Marker fills of the style factor's levels in the trade-off figure."""


def _tradeoff_panel(ax: Axes, frame: pd.DataFrame, roles: Roles, legend: Legend) -> None:
    cost = _col(frame, "aging_cpu_ns") / 1e6
    f1 = _col(frame, "young_f1")
    hues = roles.hue.index(frame) if roles.hue is not None else pd.Series(0, frame.index)
    sizes = roles.x.index(frame) if roles.x is not None else pd.Series(0, frame.index)
    fills = roles.style.index(frame) if roles.style is not None else pd.Series(0, frame.index)
    for i in frame.index:
        lk = look(roles.hue, int(hues[i]))
        if np.isnan(f1[i]) or np.isnan(cost[i]):
            continue
        ax.plot(cost[i], f1[i], linestyle="none", marker=lk.marker, color=lk.colour,
                markersize=6 + 3 * int(sizes[i]), fillstyle=FILLS[int(fills[i]) % len(FILLS)])
    good = frame.index[~(np.isnan(f1) | np.isnan(cost))]
    if len(good):
        front = pareto_front(cost[good].to_numpy(), f1[good].to_numpy())
        ax.step(cost[good].to_numpy()[front], f1[good].to_numpy()[front], where="post",
                color="black", linestyle="--", linewidth=1.0, zorder=1)
        legend.add("Pareto front (lower cost, higher F1)",
                   Line2D([], [], color="black", linestyle="--"))
    dropped = len(frame) - len(good)
    if dropped:
        ax.text(0.98, 0.02, f"{dropped} run(s) without F1 (no aging pass)", ha="right",
                va="bottom", transform=ax.transAxes, fontsize="small", color="0.35")


def _size_entries(roles: Roles, legend: Legend) -> None:
    if roles.x is not None:
        for i, level in enumerate(roles.x.levels):
            legend.add(f"{roles.x.label(level)} (marker size)",
                       Line2D([], [], linestyle="none", marker="o", color="0.4",
                              markersize=6 + 3 * i))
    if roles.style is not None:
        for i, level in enumerate(roles.style.levels):
            # darker and mid-sized: not to be read as one of the size entries above
            fill = FILLS[i % len(FILLS)]
            legend.add(f"{roles.style.label(level)} (marker fill: {fill})",
                       Line2D([], [], linestyle="none", marker="o", color="0.15",
                              markersize=7.5, fillstyle=fill))


@styled
def tradeoff_figure(table: pd.DataFrame) -> Figure:
    """Each run a point: aging CPU time against young F1, with each panel's Pareto front."""
    frame, notes = ok_runs(table)
    roles = roles_of(frame)
    # the x factor is shown by marker size and the style factor by fill: one block of panels
    fig = new_figure(figure_size(roles, 1))
    axes = grid(fig, roles, 1)
    cols = roles.col.index(frame) if roles.col is not None else pd.Series(0, frame.index)
    rows = roles.row.index(frame) if roles.row is not None else pd.Series(0, frame.index)
    legend = Legend()
    legend_entries(Roles(roles.hue, None, None, None, None, None), legend, seeds=False)
    _size_entries(roles, legend)
    for (r, c), ax in np.ndenumerate(axes):
        _tradeoff_panel(ax, frame[(cols == c) & (rows == r)], roles, legend)
        ax.set_title(panel_title(roles, c, r), fontsize="medium")
        ax.set_ylim(-0.02, 1.02)
        if r == axes.shape[0] - 1:
            ax.set_xlabel("aging CPU time (ms, whole run)")
        if c == 0:
            ax.set_ylabel("young F1 (0-1)")
    legend.draw(fig)
    fig.suptitle(wrapped(fig, ["Accuracy against the cost of aging, one point per run", *notes]))
    return fig


__all__ = ["FAMILIES", "Family", "family_figure", "ok_runs", "pareto_front", "roles_of",
           "tradeoff_figure"]

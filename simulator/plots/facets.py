"""Small multiples of runs: one panel per column/row level, one colour per hue level.

:func:`facet_figure` draws one or more metrics of a results table on a grid: a block of rows
per metric (times the row factor's levels), a column per level of the column factor. In each
panel the x axis holds the x factor's levels (or the hue's, when nothing else varies), every
hue level has its own colour and marker, the style factor its line style; seeds (replicates)
are drawn as their mean with a min-max bar. A run that has no value for a metric (no aging
pass, or a run without a VM for a vCPU metric) is drawn as a cross on the x axis, never
left out in silence. The one legend sits outside the axes, below the grid, where the
constrained layout keeps it inside the figure.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.typing import LineStyleType

from simulator.plots.factors import Factor, Roles
from simulator.plots.style import Look, level_look, new_figure

LINESTYLES: tuple[LineStyleType, ...] = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)),
                                         (0, (1, 3)))
"""Line styles of the style factor's levels (distinct up to six)."""
MISSING_MARK = "x"


@dataclass(frozen=True, slots=True)
class Metric:
    """One quantity of the runs: how to compute it from the table, and its axis label with the
    unit. ``needs_aging``: undefined (not zero) when a run made no aging pass."""

    name: str
    label: str
    value: Callable[[pd.DataFrame], pd.Series]
    needs_aging: bool = False


@dataclass(slots=True)
class Legend:
    """The figure legend's entries, collected while drawing, each label once."""

    handles: dict[str, Artist] = field(default_factory=dict)

    def add(self, label: str, handle: Artist) -> None:
        self.handles.setdefault(label, handle)

    def draw(self, fig: Figure) -> None:
        # below the grid: the title keeps the top, and long key=value labels the full width
        if self.handles:
            # a small-font character is about 0.07 in, a handle and the gaps about 0.8 in
            longest = max(len(label) for label in self.handles)
            fit = int(fig.get_figwidth() * 0.9 // (0.07 * longest + 0.8))
            ncols = max(1, min(len(self.handles), fit))
            fig.legend(list(self.handles.values()), list(self.handles),
                       loc="outside lower center", ncols=ncols, fontsize="small")


def look(f: Factor | None, i: int) -> Look:
    """The colour and marker of level ``i`` of the hue factor ``f``."""
    if f is None:
        return level_look(None, None, 0)
    return level_look(f.keys, f.levels[i][0] if len(f.keys) == 1 else None, i)


def _level(f: Factor | None, frame: pd.DataFrame) -> pd.Series:
    return f.index(frame) if f is not None else pd.Series(0, index=frame.index)


def _count(f: Factor | None) -> int:
    return len(f.levels) if f is not None else 1


def grid(fig: Figure, roles: Roles, blocks: int) -> np.ndarray:
    """The axes: ``blocks`` x row levels rows, column levels columns (y shared per row)."""
    nrows, ncols = blocks * _count(roles.row), _count(roles.col)
    axes: np.ndarray = fig.subplots(nrows, ncols, squeeze=False, sharey="row")
    return axes


def figure_size(roles: Roles, blocks: int) -> tuple[float, float]:
    """Inches: a panel of about 3.6 x 2.6, plus room for the legend and titles."""
    ncols, nrows = _count(roles.col), blocks * _count(roles.row)
    return (min(max(3.6 * ncols + 1.0, 7.0), 22.0), min(2.6 * nrows + 2.2, 28.0))


def panel_title(roles: Roles, ci: int, ri: int) -> str:
    parts = [f.label(f.levels[i]) for f, i in ((roles.col, ci), (roles.row, ri)) if f is not None]
    return "\n".join(parts)


def x_axis(roles: Roles) -> Factor | None:
    """The factor along x: the x factor, else the hue (one position per colour)."""
    return roles.x if roles.x is not None else roles.hue


def _dodge(roles: Roles, hi: int, si: int = 0) -> float:
    # hue (and style) levels side by side at one x position, so their markers and bars do
    # not overlap
    if roles.x is None:
        return 0.0
    styles = _count(roles.style)
    n, i = _count(roles.hue) * styles, hi * styles + si
    return (i - (n - 1) / 2) * min(0.12, 0.6 / max(n, 1))


def _points(rows: pd.DataFrame, values: pd.Series,
            xs: pd.Series) -> tuple[list[int], list[float], list[float], list[float], list[int]]:
    """Per x level: mean, min and max over the rows' values, and the x levels where rows
    exist but have no value (drawn as crosses)."""
    pos, mean, lo, hi, missing = [], [], [], [], []
    for x in sorted(set(xs[rows.index])):
        v = values[rows.index[xs[rows.index] == x]].dropna()
        if v.empty:
            missing.append(x)
            continue
        pos.append(x)
        mean.append(float(v.mean()))
        lo.append(float(v.min()))
        hi.append(float(v.max()))
    return pos, mean, lo, hi, missing


def draw_panel(ax: Axes, frame: pd.DataFrame, roles: Roles, metric: Metric,
               legend: Legend) -> None:
    """One metric for the runs of one panel, a line (or markers) per hue and style level."""
    values = metric.value(frame)
    xs = _level(x_axis(roles), frame)
    hues, styles = _level(roles.hue, frame), _level(roles.style, frame)
    connect = roles.x is not None
    for hi in range(_count(roles.hue)):
        lk = look(roles.hue, hi)
        for si in range(_count(roles.style)):
            rows = frame[(hues == hi) & (styles == si)]
            if rows.empty:
                continue
            pos, mean, lo, hi_, missing = _points(rows, values, xs)
            x = np.asarray(pos, dtype=float) + _dodge(roles, hi, si)
            style = LINESTYLES[si % len(LINESTYLES)]
            ax.plot(x, mean, color=lk.colour, marker=lk.marker, markersize=6,
                    linestyle=style if connect else "none", linewidth=1.4)
            spread = np.asarray(hi_) - np.asarray(lo)
            if spread.size and spread.max() > 0:
                ax.vlines(x, lo, hi_, color=lk.colour, linewidth=1.0, alpha=0.7)
            if missing:
                _mark_missing(ax, np.asarray(missing, float) + _dodge(roles, hi, si), lk.colour,
                              _why_missing(rows, xs, missing, metric), legend)


def _why_missing(rows: pd.DataFrame, xs: pd.Series, missing: Sequence[int],
                 metric: Metric) -> str:
    at = rows[xs[rows.index].isin(missing)]
    passes = pd.to_numeric(at.get("aging_passes", pd.Series(dtype=float)), errors="coerce")
    if metric.needs_aging and len(passes) and (passes.fillna(0) == 0).all():
        return "no aging pass in the run (no value)"
    return "no value for this run (not applicable)"


def _mark_missing(ax: Axes, x: np.ndarray, colour: str, why: str, legend: Legend) -> None:
    # on the x axis (axes coordinates in y), so the cross shows whatever the y range
    ax.plot(x, np.zeros_like(x), linestyle="none", marker=MISSING_MARK, markersize=8,
            markeredgewidth=2, color=colour, transform=ax.get_xaxis_transform(), clip_on=False)
    legend.add(f"× {why}", Line2D([], [], linestyle="none", marker=MISSING_MARK, color="0.3",
                                  markeredgewidth=2))


def legend_entries(roles: Roles, legend: Legend, seeds: bool) -> None:
    """Hue levels (colour and marker), style levels (line style), and the seed bar."""
    if roles.hue is not None:
        for i, level in enumerate(roles.hue.levels):
            lk = look(roles.hue, i)
            legend.add(roles.hue.label(level), Line2D([], [], color=lk.colour,
                                                      marker=lk.marker))
    if roles.style is not None:
        for i, level in enumerate(roles.style.levels):
            legend.add(roles.style.label(level), Line2D([], [], color="0.3",
                                                        linestyle=LINESTYLES[i % len(LINESTYLES)]))
    if seeds:
        legend.add("mean over seeds; bar: min-max", Line2D([], [], color="0.3", marker="|",
                                                           linestyle="none", markersize=12))


def label_axes(axes: np.ndarray, roles: Roles, metrics: Sequence[Metric]) -> None:
    """Ticks named by the x factor's values, the axis by its keys; y labels on the left."""
    xf = x_axis(roles)
    nrow = _count(roles.row)
    for (r, c), ax in np.ndenumerate(axes):
        ax.set_title(panel_title(roles, c, r % nrow), fontsize="medium")
        if xf is not None:
            ax.set_xticks(range(len(xf.levels)), [xf.short(v) for v in xf.levels],
                          rotation=30 if sum(len(xf.short(v)) for v in xf.levels) > 40 else 0)
            ax.set_xlim(-0.5, len(xf.levels) - 0.5)
        else:
            ax.set_xticks([0], ["all runs"])
        if r == axes.shape[0] - 1:
            ax.set_xlabel(xf.name if xf is not None else "")
        if c == 0:
            ax.set_ylabel(metrics[r // nrow].label)
        ax.set_ylim(bottom=0)


def facet_figure(frame: pd.DataFrame, roles: Roles, metrics: Sequence[Metric], title: str,
                 notes: Sequence[str] = ()) -> Figure:
    """``metrics`` of the runs in ``frame`` on small multiples (see the module doc)."""
    fig = new_figure(figure_size(roles, len(metrics)))
    axes = grid(fig, roles, len(metrics))
    cols, rows = _level(roles.col, frame), _level(roles.row, frame)
    legend = Legend()
    nrow = _count(roles.row)
    for (r, c), ax in np.ndenumerate(axes):
        panel = frame[(cols == c) & (rows == r % nrow)]
        draw_panel(ax, panel, roles, metrics[r // nrow], legend)
    label_axes(axes, roles, metrics)
    seeds = roles.replicate is not None
    entries = Legend()
    legend_entries(roles, entries, seeds)
    entries.handles.update(legend.handles)
    entries.draw(fig)
    fig.suptitle(wrapped(fig, [title, *notes]))
    return fig


def wrapped(fig: Figure, lines: Sequence[str]) -> str:
    """Title lines wrapped to the figure's width (a title character is about 0.11 in), so a
    long title never runs off the canvas."""
    width = max(20, int(fig.get_figwidth() / 0.11))
    return "\n".join(part for line in lines for part in textwrap.wrap(line, width))


__all__ = ["LINESTYLES", "Legend", "Metric", "draw_panel", "facet_figure", "figure_size",
           "grid", "label_axes", "legend_entries", "look", "panel_title", "wrapped", "x_axis"]

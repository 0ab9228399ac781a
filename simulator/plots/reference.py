"""Figures against a yardstick: miss-ratio curves and published-versus-simulated calibration.

``mrc.csv`` (``cache_pages, lru_miss_ratio, mglru_miss_ratio``) holds exact LRU (Mattson's
stack algorithm) and MGLRU's miss ratio at the replayed sizes, ``mrc_lru.csv`` the whole exact
LRU curve from the same pass, ``mrc.json`` the trace's name and size. ``calibration.csv``
(``label, published, simulated``, optional ``unit``) pairs each published number, for example a
row of the v4 ``access_tracking_perf_test -p`` table, with the simulator's value for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from simulator.humanize import size
from simulator.plots.style import OKABE_ITO, new_figure, styled
from simulator.units import PAGE_SIZE


def _numeric(frame: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)


def mrc_title(about: Mapping[str, Any] | None) -> str:
    """``Miss-ratio curve: NAME`` and, on a second line, ``113,872 records, 48,974 distinct
    pages (191 MiB)``."""
    if not about:
        return "Miss-ratio curve"
    distinct = int(about.get("distinct_pages", 0))
    return (f"Miss-ratio curve: {about.get('trace', '?')}\n{int(about.get('records', 0)):,} "
            f"records, {distinct:,} distinct pages ({size(distinct * PAGE_SIZE)})")


def _bytes_axis(ax: Axes, log: bool) -> None:
    """Cache sizes in bytes shown in binary units (4 KiB, 1 MiB, 256 MiB); on a log scale
    the ticks fall on powers of 16, which are whole binary units."""
    if log:
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(LogLocator(base=16, numticks=12))
        ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: size(v)))


@styled
def mrc_figure(mrc: pd.DataFrame, curve: pd.DataFrame | None = None,
               about: Mapping[str, Any] | None = None) -> Figure:
    """Miss ratio against cache size: the whole exact-LRU curve (``curve``, from the Mattson
    pass) and MGLRU's simulated points on it, plus exact LRU at those sizes. Without
    ``curve``, the LRU values at the requested sizes are joined by lines."""
    fig = new_figure()
    ax = fig.add_subplot()
    mrc = mrc.sort_values("cache_pages")
    x = _numeric(mrc, "cache_pages") * PAGE_SIZE
    whole = curve is not None and not curve.empty
    if curve is not None and whole:
        ax.plot(_numeric(curve, "cache_pages") * PAGE_SIZE, _numeric(curve, "lru_miss_ratio"),
                drawstyle="steps-post", color=OKABE_ITO["black"], linewidth=1.5,
                label="exact LRU, every size (Mattson)")
        ax.plot(x, _numeric(mrc, "lru_miss_ratio"), "o", color=OKABE_ITO["black"],
                fillstyle="none", markersize=7, label="exact LRU at the replayed sizes")
    else:
        ax.plot(x, _numeric(mrc, "lru_miss_ratio"), "o-", color=OKABE_ITO["black"],
                label="exact LRU (Mattson)")
    ax.plot(x, _numeric(mrc, "mglru_miss_ratio"), "s", color=OKABE_ITO["vermillion"],
            markersize=8, label="MGLRU (simulated replay)")
    positive = x[x > 0]
    # MRC sizes are usually chosen on a log scale (fractions of the footprint)
    _bytes_axis(ax, whole or bool(positive.size and positive.max() / positive.min() >= 20))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("cache size (4 KiB pages, binary units)")
    ax.set_ylabel("miss ratio (0-1)")
    fig.suptitle(mrc_title(about))
    fig.legend(loc="outside lower center", ncols=3, fontsize="small")
    return fig


@styled
def calibration_figure(calibration: pd.DataFrame) -> Figure:
    """Published and simulated values side by side per row, and their ratio."""
    fig = new_figure((10.0, max(4.0, 1.2 + 0.55 * len(calibration))))
    values, ratio_ax = fig.subplots(1, 2, sharey=True, width_ratios=(3, 2))
    labels = calibration["label"].astype(str).tolist()
    published, simulated = _numeric(calibration, "published"), _numeric(calibration, "simulated")
    y = np.arange(len(labels))
    values.barh(y - 0.2, published, 0.4, color=OKABE_ITO["black"], label="published")
    values.barh(y + 0.2, simulated, 0.4, color=OKABE_ITO["sky_blue"], label="simulated")
    values.set_yticks(y, labels)
    values.invert_yaxis()  # first CSV row on top, as in the table it came from
    positive = np.concatenate([published, simulated])
    positive = positive[positive > 0]
    if positive.size and positive.max() / positive.min() > 100:
        values.set_xscale("log")
    units: list[str] = (sorted(calibration["unit"].dropna().astype(str).unique())
                        if "unit" in calibration.columns else [])
    values.set_xlabel(f"value ({units[0]})" if len(units) == 1 else "value (unit as labelled)")
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = simulated / published
    ratio_ax.scatter(ratio, y, color=OKABE_ITO["blue"], zorder=3, label="simulated / published")
    ratio_ax.axvline(1.0, color="0.3", linestyle="--", linewidth=1, label="agreement (1.0)")
    finite = ratio[np.isfinite(ratio) & (ratio > 0)]
    if finite.size and (finite.max() > 10 or finite.min() < 0.1):
        ratio_ax.set_xscale("log")
    ratio_ax.set_xlabel("simulated / published (ratio)")
    # one legend for both panels, below them: bars and points may fill either panel
    fig.legend(loc="outside lower center", ncols=4, fontsize="small")
    fig.suptitle("Calibration: published versus simulated")
    return fig

"""Figures against a yardstick: miss-ratio curves and published-versus-simulated calibration.

``mrc.csv`` (``cache_pages, lru_miss_ratio, mglru_miss_ratio``) holds the exact LRU curve
(Mattson's stack algorithm) and MGLRU's miss ratio at the same sizes. ``calibration.csv``
(``label, published, simulated``, optional ``unit``) pairs each published number, for example a
row of the v4 ``access_tracking_perf_test -p`` table, with the simulator's value for it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simulator.plots.style import OKABE_ITO, new_figure, styled


def _numeric(frame: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)


@styled
def mrc_figure(mrc: pd.DataFrame) -> Figure:
    """Miss ratio against cache size: exact LRU and MGLRU."""
    fig = new_figure()
    ax = fig.add_subplot()
    mrc = mrc.sort_values("cache_pages")
    size = _numeric(mrc, "cache_pages")
    ax.plot(size, _numeric(mrc, "lru_miss_ratio"), "-", color=OKABE_ITO["black"],
            label="LRU (exact, Mattson)")
    ax.plot(size, _numeric(mrc, "mglru_miss_ratio"), "s--", color=OKABE_ITO["vermillion"],
            label="MGLRU (simulated)")
    positive = size[size > 0]
    # MRC sizes are usually chosen on a log scale (fractions of the footprint)
    if positive.size and positive.max() / positive.min() >= 20:
        ax.set_xscale("log")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("cache size (4 KiB pages)")
    ax.set_ylabel("miss ratio (0-1)")
    ax.set_title("Miss-ratio curve")
    ax.legend(loc="upper right")
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
    values.legend(loc="lower right")
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = simulated / published
    ratio_ax.scatter(ratio, y, color=OKABE_ITO["blue"], zorder=3, label="simulated / published")
    ratio_ax.axvline(1.0, color="0.3", linestyle="--", linewidth=1, label="agreement (1.0)")
    finite = ratio[np.isfinite(ratio) & (ratio > 0)]
    if finite.size and (finite.max() > 10 or finite.min() < 0.1):
        ratio_ax.set_xscale("log")
    ratio_ax.set_xlabel("simulated / published (ratio)")
    ratio_ax.legend(loc="lower right")
    fig.suptitle("Calibration: published versus simulated")
    return fig

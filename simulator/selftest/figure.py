"""The shape of the calibration: the v4 ``-p`` table against vCPUs, published and simulated.

Left: mean aging pass against vCPUs (log-log), write-locked and lockless, with a slope-1 guide
(near linear) to show the locked pass growing faster. Right: how much each kind of aging slows
the slowest vCPU relative to no aging. Published values are points, simulated ones lines.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simulator.plots.style import OKABE_ITO, new_figure, styled

VARIANTS = (("write", "write-locked", OKABE_ITO["vermillion"]),
            ("none", "lockless", OKABE_ITO["blue"]))


def _series(df: pd.DataFrame, metric: str, variant: str, column: str) -> pd.Series:
    sel = df[(df["dataset"] == "v4") & (df["metric"] == metric) & (df["variant"] == variant)]
    return sel.set_index("vcpus")[column].sort_index().astype(float)


@styled
def calibration_shape_figure(df: pd.DataFrame) -> Figure:
    """Pass time and vCPU slowdown against vCPUs from a ``calibration.csv`` table."""
    fig = new_figure((10.0, 4.2))
    passes, slow = fig.subplots(1, 2)
    for variant, name, colour in VARIANTS:
        pub = _series(df, "aging_pass", variant, "published")
        sim = _series(df, "aging_pass", variant, "simulated")
        passes.plot(pub.index, pub.to_numpy(), "o", color=colour, label=f"{name}, published")
        passes.plot(sim.index, sim.to_numpy(), "-", color=colour, label=f"{name}, simulated")
        for column, mark in (("published", "o"), ("simulated", "-")):
            base = _series(df, "vcpu_wall", "off", column)
            wall = _series(df, "vcpu_wall", variant, column)
            pct = (wall / base - 1.0) * 100.0
            slow.plot(pct.index, pct.to_numpy(), mark, color=colour,
                      label=f"{name}, {column}")
    pub = _series(df, "aging_pass", "none", "published")
    x = np.array([pub.index.min(), pub.index.max()], dtype=float)
    passes.plot(x, pub.iloc[0] * x / x[0], ":", color="0.5", label="slope 1 (linear)")
    passes.set_xscale("log", base=2)
    passes.set_yscale("log")
    passes.set_xlabel("vCPUs (1 GiB each)")
    passes.set_ylabel("mean aging pass (s)")
    passes.set_title("Aging pass while vCPUs fault in memory")
    passes.legend(loc="upper left", fontsize="small")
    slow.axhline(0.0, color="0.3", linewidth=1)
    slow.set_xscale("log", base=2)
    slow.set_xlabel("vCPUs (1 GiB each)")
    slow.set_ylabel("slowest vCPU, vs no aging (%)")
    slow.set_title("vCPU slowdown from aging")
    slow.legend(loc="upper left", fontsize="small")
    fig.suptitle("access_tracking_perf_test -p, x86 TDP MMU (v4 table)")
    return fig

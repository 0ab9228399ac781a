"""Figures of one run: generations, aging passes, vCPU time, young-bit accuracy, reclaim.

Each function takes one :class:`~simulator.plots.data.SavedRun` and returns a Figure. Time on
the x axis is simulated time in milliseconds; the time series are cumulative counters sampled
every ``sim.sample_interval_ms``, so rates are differences between samples. A run without aging
passes (no memory pressure) still gets every figure, with a note in place of empty axes, so a
report always has the same sections.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from simulator.plots.data import SavedRun
from simulator.plots.style import (
    CONFUSION_COLOURS,
    GEN_COLOURS,
    OKABE_ITO,
    VCPU_COLOURS,
    new_figure,
    styled,
)
from simulator.units import PAGE_SIZE

MIB = 2**20
NS_PER_MS = 1e6
NS_PER_US = 1e3
GEN_LABELS = ("max_seq (youngest)", "max_seq-1", "max_seq-2", "max_seq-3 (oldest)")
VCPU_COLUMNS = {"running": "vcpu_running_ns", "faulting": "vcpu_fault_ns",
                "mmu_lock wait": "vcpu_lock_wait_ns", "stalled (reclaim)": "vcpu_stall_ns"}


def _title(run: SavedRun, what: str) -> str:
    s = run.summary
    if pd.isna(s.get("vcpus")):  # MGLRU with a host task alone
        return f"{what}: no VM ({run.run_id})"
    return (f"{what}: {s.get('backend')}, {s.get('notifier')}, {int(s['vcpus'])} vCPUs "
            f"({run.run_id})")


def _legend_right(ax: Axes, **kwargs: object) -> None:
    """The axes' legend outside it, to its right: it hides no data, and the constrained layout
    makes room for it inside the figure."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
              **kwargs)


def _note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4")


def _numeric(frame: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)


def _time_ms(run: SavedRun) -> np.ndarray:
    return _numeric(run.timeseries, "t_ns") / NS_PER_MS


@styled
def generations_figure(run: SavedRun) -> Figure:
    """Generation sizes over time, stacked youngest at the bottom, like successive lru_gen reads."""
    fig = new_figure()
    ax = fig.add_subplot()
    ts = run.timeseries
    if ts.empty:
        _note(ax, "no time series in this run")
    else:
        sizes = [_numeric(ts, f"gen{k}_pages") * PAGE_SIZE / MIB for k in range(4)]
        ax.stackplot(_time_ms(run), sizes, labels=GEN_LABELS, colors=GEN_COLOURS, alpha=0.95)
        _legend_right(ax, title="generation", reverse=True)
    ax.set_xlabel("simulated time (ms)")
    ax.set_ylabel("memory in generation (MiB)")
    ax.set_title(_title(run, "MGLRU generation sizes"))
    return fig


@styled
def aging_passes_figure(run: SavedRun) -> Figure:
    """Duration of each aging pass, with the part spent waiting for kvm->mmu_lock."""
    fig = new_figure()
    ax = fig.add_subplot()
    passes = run.passes
    if passes.empty:
        _note(ax, "no aging pass in this run (no memory pressure?)")
    else:
        x = _numeric(passes, "pass")
        duration = _numeric(passes, "duration_ns") / NS_PER_US
        wait = _numeric(passes, "lock_wait_ns") / NS_PER_US
        ax.bar(x, duration, color=OKABE_ITO["blue"], label="pass duration")
        ax.bar(x, wait, color=OKABE_ITO["vermillion"], label="of which mmu_lock wait")
        positive = duration[duration > 0]
        # passes range from an empty walk (~0.2 us) to a full one: a linear axis hides the former
        if positive.size and positive.max() / positive.min() > 100:
            ax.set_yscale("log")
        _legend_right(ax)
    ax.set_xlabel("aging pass (number)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("pass duration (µs)")
    ax.set_title(_title(run, "Aging pass duration"))
    return fig


@styled
def vcpu_time_figure(run: SavedRun) -> Figure:
    """Where vCPU time went: share per sample interval over time, and the run's totals."""
    fig = new_figure()
    over_time, total = fig.subplots(1, 2, width_ratios=(3, 1))
    ts = run.timeseries
    if ts.empty:
        _note(over_time, "no time series in this run")
    else:
        cum = np.vstack([_numeric(ts, c) for c in VCPU_COLUMNS.values()])
        step = np.diff(cum, axis=1, prepend=0.0)
        spent = step.sum(axis=0)
        share = np.divide(100 * step, spent, out=np.zeros_like(step), where=spent > 0)
        over_time.stackplot(_time_ms(run), share, labels=list(VCPU_COLUMNS),
                            colors=list(VCPU_COLOURS.values()), step="pre")
        over_time.set_ylim(0, 100)
    over_time.set_xlabel("simulated time (ms)")
    over_time.set_ylabel("share of vCPU time in interval (%)")
    totals = {label: float(pd.to_numeric(pd.Series([run.summary.get(col)]), errors="coerce")
                           .fillna(0.0).iloc[0]) / NS_PER_MS
              for label, col in VCPU_COLUMNS.items()}
    whole = sum(totals.values())
    bottom = 0.0
    for label, value in totals.items():
        total.bar(["whole run"], [value], bottom=bottom, color=VCPU_COLOURS[label], label=label)
        bottom += value
    total.set_ylabel("vCPU time, all vCPUs (ms)")
    # lock wait is often a sliver of a percent: the legend gives every share as a number
    shares = [f"{label} ({100 * v / whole:.3g} %)" if whole else label
              for label, v in totals.items()]
    fig.legend(handles=total.containers, labels=shares, loc="outside lower center",
               ncols=len(VCPU_COLUMNS))
    fig.suptitle(_title(run, "vCPU time"))
    return fig


def precision_recall(passes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per-pass precision TP/(TP+FP) and recall TP/(TP+FN); NaN where undefined."""
    tp, fp, fn = (_numeric(passes, f"young_{k}") for k in ("tp", "fp", "fn"))
    with np.errstate(invalid="ignore", divide="ignore"):
        return tp / (tp + fp), tp / (tp + fn)


@styled
def young_confusion_figure(run: SavedRun) -> Figure:
    """Young/old decisions of each aging pass against the truth, with precision and recall."""
    fig = new_figure()
    counts, scores = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    passes = run.passes
    if passes.empty:
        _note(counts, "no aging pass in this run")
    else:
        x = _numeric(passes, "pass")
        bottom = np.zeros(len(passes))
        for key, colour in CONFUSION_COLOURS.items():
            n = _numeric(passes, f"young_{key.lower()}")
            counts.bar(x, n, bottom=bottom, color=colour, label=key)
            bottom += np.nan_to_num(n)
        _legend_right(counts, title="decision vs truth")
        precision, recall = precision_recall(passes)
        scores.plot(x, precision, "o-", color=OKABE_ITO["blue"], label="precision (per pass)")
        scores.plot(x, recall, "s--", color=OKABE_ITO["reddish_purple"], label="recall (per pass)")
        for col, colour in (("young_precision", OKABE_ITO["blue"]),
                            ("young_recall", OKABE_ITO["reddish_purple"])):
            value = pd.to_numeric(pd.Series([run.summary.get(col)]), errors="coerce").iloc[0]
            if pd.notna(value):  # the whole run, aging walk plus eviction-time decisions
                scores.axhline(float(value), color=colour, linewidth=1, alpha=0.6,
                               label=col.removeprefix("young_") + " (whole run)")
        _legend_right(scores)
    counts.set_ylabel("PTE decisions (pages)")
    scores.set_ylim(-0.02, 1.02)
    scores.set_ylabel("ratio (0-1)")
    scores.set_xlabel("aging pass (number)")
    scores.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(_title(run, "Young-bit accuracy of the aging walk"))
    return fig


@styled
def reclaim_figure(run: SavedRun) -> Figure:
    """Evictions and refaults: cumulative, and per millisecond of simulated time."""
    fig = new_figure()
    cumulative, rate = fig.subplots(1, 2)
    ts = run.timeseries
    if ts.empty:
        _note(cumulative, "no time series in this run")
    else:
        t = _time_ms(run)
        for col, colour, style in (("evictions", OKABE_ITO["blue"], "-"),
                                   ("refaults", OKABE_ITO["vermillion"], "--")):
            y = _numeric(ts, col)
            cumulative.plot(t, y, style, color=colour, label=col)
            dt, dy = np.diff(t), np.diff(y)
            # a rate belongs to the interval it was measured over: plot it at the interval end
            per_ms = np.divide(dy, dt, out=np.full_like(dy, np.nan), where=dt > 0)
            rate.plot(t[1:], per_ms, style, color=colour, label=col)
        _legend_right(rate)  # one legend: both panels draw the same two series
    cumulative.set_xlabel("simulated time (ms)")
    cumulative.set_ylabel("cumulative (4 KiB pages)")
    rate.set_xlabel("simulated time (ms)")
    rate.set_ylabel("rate (pages / ms)")
    fig.suptitle(_title(run, "Evictions and refaults"))
    return fig

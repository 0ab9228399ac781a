"""Figures built from the committed fixture results (tests/fixtures/results, see make_fixtures.py).

The tests inspect the Figure objects (axes, labels, plotted series, legend entries, colours),
not just the files, and never re-simulate.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from simulator import plots
from simulator.plots import BACKEND_COLOURS, NOTIFIER_MARKS, ResultsError, load_results
from simulator.plots.style import backend_colour, notifier_mark
from simulator.plots.sweep import derive, series_of

FIXTURES = Path(__file__).parent / "fixtures" / "results"
RUN, SWEEP = FIXTURES / "run", FIXTURES / "sweep"


@pytest.fixture(scope="module")
def run_results() -> plots.Results:
    return load_results(RUN)


@pytest.fixture(scope="module")
def sweep_results() -> plots.Results:
    return load_results(SWEEP)


@pytest.fixture(scope="module")
def saved(run_results: plots.Results) -> plots.SavedRun:
    return run_results.runs[0]


def legend_labels(fig: Figure) -> list[str]:
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes)]
    return [t.get_text() for lg in legends if lg is not None for t in lg.get_texts()]


def xs(line: Line2D) -> np.ndarray:
    return np.asarray(line.get_xdata(), dtype=float)


def ys(line: Line2D) -> np.ndarray:
    return np.asarray(line.get_ydata(), dtype=float)


# --- reading results ---------------------------------------------------------------------


def test_load_run_folder(run_results: plots.Results, saved: plots.SavedRun) -> None:
    assert run_results.is_run
    assert len(run_results.runs) == 1 and len(run_results.table) == 1
    assert saved.run_id == json.loads((RUN / "summary.json").read_text())["run_id"]
    assert len(saved.passes) == len(pd.read_csv(RUN / "passes.csv")) > 0
    assert "[vm]" in saved.config_toml and "# t_ns=" in saved.lru_gen
    assert run_results.mrc is not None and run_results.calibration is None


def test_load_sweep_folder(sweep_results: plots.Results) -> None:
    assert not sweep_results.is_run
    assert len(sweep_results.runs) == len(sweep_results.table) == 8
    assert sweep_results.varied == ("notifier", "aging_lock", "vcpus")
    assert (sweep_results.table["aging_ptes_scanned"] > 0).all()
    assert sweep_results.calibration is not None and sweep_results.mrc is None


def test_load_without_sweep_csv(tmp_path: Path, sweep_results: plots.Results) -> None:
    copy = tmp_path / "runs"
    shutil.copytree(SWEEP, copy)
    (copy / "sweep.csv").unlink()
    loaded = load_results(copy)
    assert sorted(loaded.table["run_id"]) == sorted(sweep_results.table["run_id"])
    assert loaded.varied == sweep_results.varied


def test_bad_results_dirs(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="nope"):
        load_results(tmp_path / "nope")
    with pytest.raises(ResultsError, match="no run folder"):
        load_results(tmp_path)
    (tmp_path / "summary.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ResultsError, match=r"summary\.csv: missing column\(s\) run_id, backend"):
        load_results(tmp_path)


# --- per-run figures ---------------------------------------------------------------------


def test_generations(saved: plots.SavedRun) -> None:
    fig = plots.generations_figure(saved)
    assert isinstance(fig.canvas, FigureCanvasAgg)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "simulated time (ms)" and "pages" in ax.get_ylabel()
    layers = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(layers) == 4
    assert len(legend_labels(fig)) == 4
    # the top of the stack is the sum of the four generations at every sample
    total = saved.timeseries[[f"gen{k}_pages" for k in range(4)]].sum(axis=1)
    assert ax.get_ylim()[1] >= total.max()


def test_aging_passes(saved: plots.SavedRun) -> None:
    fig = plots.aging_passes_figure(saved)
    (ax,) = fig.axes
    assert "(µs)" in ax.get_ylabel() and "pass" in ax.get_xlabel()
    assert [len(c) for c in ax.containers] == [len(saved.passes)] * 2
    heights = [p.get_height() for p in ax.containers[0]]
    np.testing.assert_allclose(heights, saved.passes["duration_ns"] / 1e3)
    assert legend_labels(fig) == ["pass duration", "of which mmu_lock wait"]


def test_vcpu_time(saved: plots.SavedRun) -> None:
    fig = plots.vcpu_time_figure(saved)
    over_time, total = fig.axes
    assert len(over_time.collections) == 4 and "(%)" in over_time.get_ylabel()
    assert len(total.containers) == 4 and "(ms)" in total.get_ylabel()
    labels = legend_labels(fig)
    assert [x.split(" (")[0] for x in labels] == [
        "running", "faulting", "mmu_lock wait", "stalled"]
    shares = [float(x.rsplit("(", 1)[1].removesuffix(" %)")) for x in labels]
    assert sum(shares) == pytest.approx(100, abs=0.1)
    top = sum(c[0].get_height() for c in total.containers)
    assert top == pytest.approx(saved.summary["vcpu_wall_ns"] / 1e6)


def test_young_confusion(saved: plots.SavedRun) -> None:
    fig = plots.young_confusion_figure(saved)
    counts, scores = fig.axes
    assert [len(c) for c in counts.containers] == [len(saved.passes)] * 4
    assert {"TP", "FP", "FN", "TN"} <= set(legend_labels(fig))
    assert len(scores.lines) == 4  # precision and recall per pass, and for the whole run
    p = saved.passes
    recall = p["young_tp"] / (p["young_tp"] + p["young_fn"])
    np.testing.assert_allclose(ys(scores.lines[1]), recall)
    assert scores.get_ylabel() == "ratio (0-1)" and counts.get_ylabel().endswith("(pages)")


def test_reclaim(saved: plots.SavedRun) -> None:
    fig = plots.reclaim_figure(saved)
    cumulative, rate = fig.axes
    for ax in fig.axes:
        assert [ln.get_label() for ln in ax.lines] == ["evictions", "refaults"]
        assert ax.get_xlabel() == "simulated time (ms)"
    assert ys(cumulative.lines[1])[-1] == saved.summary["refaults"]
    assert rate.get_ylabel() == "rate (pages / ms)"


def test_run_figures_without_data(saved: plots.SavedRun) -> None:
    empty = dataclasses.replace(saved, passes=saved.passes.iloc[0:0],
                                timeseries=saved.timeseries.iloc[0:0])
    for fig in (f.figure for f in plots.run_figures(empty)):
        notes = [t.get_text() for ax in fig.axes for t in ax.texts]
        assert any(n.startswith("no ") for n in notes)


# --- per-sweep figures -------------------------------------------------------------------


def test_backend_notifier(sweep_results: plots.Results) -> None:
    fig = plots.backend_notifier_figure(sweep_results.table, sweep_results.varied)
    assert len(fig.axes) == 6
    ylabels = [ax.get_ylabel() for ax in fig.axes]
    assert all("(" in y for y in ylabels if "per" not in y)
    for ax in fig.axes:
        assert [t.get_text() for t in ax.get_xticklabels()] == ["blind", "per_page"]
        assert len(ax.containers) == 4  # lock x vCPUs, each with one bar per notifier
    assert len(legend_labels(fig)) == 4


def test_accuracy_cost(sweep_results: plots.Results) -> None:
    fig = plots.accuracy_cost_figure(sweep_results.table, sweep_results.varied)
    (ax,) = fig.axes
    points = [ln for ln in ax.lines if ln.get_linestyle() == "None" and ln.get_markersize() == 9]
    assert sum(len(xs(ln)) for ln in points) == 8
    assert ax.get_xlabel().endswith("(ms, whole run)") and "F1" in ax.get_ylabel()
    labels = legend_labels(fig)
    assert labels[-1] == "Pareto front" and "x86_tdp" in labels
    assert {"notifier blind", "notifier per_page", "lock none", "lock write"} <= set(labels)


def test_failed_runs_are_skipped(sweep_results: plots.Results) -> None:
    failed = pd.DataFrame([{"run_id": "deadbeef0000", "mglru.notifier": "bitmap",
                            "error": "ConfigError: ..."}])
    table = pd.concat([sweep_results.table, failed], ignore_index=True)
    fig = plots.backend_notifier_figure(table, sweep_results.varied)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["blind", "per_page"]
    assert len(legend_labels(fig)) == 4
    fig = plots.accuracy_cost_figure(table, sweep_results.varied)
    assert len(fig.axes[0].lines) == 8 + 2  # the runs, then the Pareto step and rings


def test_pareto_front() -> None:
    cost = np.array([1.0, 2.0, 3.0, 0.5, 2.0])
    f1 = np.array([0.5, 0.9, 0.8, 0.2, 0.95])
    assert plots.pareto_front(cost, f1).tolist() == [3, 0, 4]


def test_vcpu_scaling(sweep_results: plots.Results) -> None:
    fig = plots.vcpu_scaling_figure(sweep_results.table, sweep_results.varied)
    assert len(fig.axes) == 2
    for ax in fig.axes:
        assert ax.get_xscale() == "log" and ax.get_xlabel() == "vCPUs"
        assert len(ax.lines) == 4 and all(len(xs(ln)) == 2 for ln in ax.lines)
    assert len(legend_labels(fig)) == 4
    for ln in fig.axes[0].lines:  # notifier sets the line style, the aging lock the fill
        label = str(ln.get_label())
        assert ln.get_marker() == NOTIFIER_MARKS[label.split(", ")[1]].marker
        assert ln.get_fillstyle() == ("full" if "lock=write" in label else "none")


def test_same_backend_same_colour(sweep_results: plots.Results) -> None:
    table = sweep_results.table.copy()
    table.loc[table["aging_lock"] == "write", "backend"] = "arm64"
    varied = ("backend", *sweep_results.varied)
    bars = plots.backend_notifier_figure(table, varied)
    scatter = plots.accuracy_cost_figure(table, varied)
    scaling = plots.vcpu_scaling_figure(table, varied)
    for backend in ("x86_tdp", "arm64"):
        colours = {to_hex(p.get_facecolor()) for c in bars.axes[0].containers
                   if str(c.get_label()).startswith(backend) for p in c}
        colours |= {to_hex(ln.get_color()) for fig in (scatter, scaling)
                    for ln in fig.axes[0].lines if str(ln.get_label()).startswith(backend)}
        assert colours == {BACKEND_COLOURS[backend].lower()}


def test_palette_is_fixed_and_distinct() -> None:
    assert set(BACKEND_COLOURS) == {"x86_tdp", "x86_tdp_noad", "x86_shadow", "arm64", "generic"}
    assert len(set(BACKEND_COLOURS.values())) == 5
    assert set(NOTIFIER_MARKS) == {"blind", "per_page", "bitmap", "fast_only"}
    assert len({m.marker for m in NOTIFIER_MARKS.values()}) == 4
    assert len({str(m.linestyle) for m in NOTIFIER_MARKS.values()}) == 4
    # a backend or design added later still gets the same look every time
    assert backend_colour("riscv") == backend_colour("riscv")
    assert backend_colour("riscv") not in BACKEND_COLOURS.values()
    assert notifier_mark("v9") == notifier_mark("v9")


def test_series_split_by_varied_keys(sweep_results: plots.Results) -> None:
    table = derive(sweep_results.table)
    groups = series_of(table, sweep_results.varied, exclude=("vcpus",))
    assert [s.label for s in groups] == [
        "x86_tdp, blind, lock=none", "x86_tdp, blind, lock=write",
        "x86_tdp, per_page, lock=none", "x86_tdp, per_page, lock=write"]
    assert all(len(s.rows) == 2 for s in groups)


# --- reference figures, catalog, files ---------------------------------------------------


def test_mrc(run_results: plots.Results) -> None:
    assert run_results.mrc is not None
    fig = plots.mrc_figure(run_results.mrc)
    (ax,) = fig.axes
    assert len(ax.lines) == 2 and len(xs(ax.lines[0])) == len(run_results.mrc)
    assert ax.get_xlabel() == "cache size (4 KiB pages)" and ax.get_ylabel() == "miss ratio (0-1)"
    assert legend_labels(fig) == ["LRU (exact, Mattson)", "MGLRU (simulated)"]


def test_calibration(sweep_results: plots.Results) -> None:
    cal = sweep_results.calibration
    assert cal is not None
    fig = plots.calibration_figure(cal)
    values, ratio = fig.axes
    assert [len(c) for c in values.containers] == [len(cal), len(cal)]
    assert [t.get_text() for t in values.get_yticklabels()] == cal["label"].tolist()
    np.testing.assert_allclose(np.asarray(ratio.collections[0].get_offsets())[:, 0],
                               cal["simulated"] / cal["published"])
    assert legend_labels(fig)[:2] == ["published", "simulated"]


def test_catalog_names(run_results: plots.Results, sweep_results: plots.Results) -> None:
    assert [f.name for f in plots.results_figures(run_results)] == [
        "run_generations", "run_aging_passes", "run_vcpu_time", "run_young_confusion",
        "run_refaults_evictions", "mrc"]
    assert [f.name for f in plots.results_figures(sweep_results)] == [
        "sweep_backend_notifier", "sweep_accuracy_cost", "sweep_vcpu_scaling", "calibration"]


def test_saved_files_are_deterministic(tmp_path: Path, run_results: plots.Results) -> None:
    assert run_results.mrc is not None
    figs = [plots.NamedFigure("mrc", "MRC", plots.mrc_figure(run_results.mrc))]
    (png,) = plots.save_figures(figs, tmp_path / "a")
    plots.save_figures([dataclasses.replace(figs[0], figure=plots.mrc_figure(run_results.mrc))],
                       tmp_path / "b")
    assert png == tmp_path / "a" / "mrc.png" and png.read_bytes()[:4] == b"\x89PNG"
    for name in ("mrc.png", "mrc.svg"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_never_imports_simpy() -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "import simulator.plots as p, simulator.report as r\n"
        f"for d in ({str(RUN)!r}, {str(SWEEP)!r}):\n"
        "    res = p.load_results(Path(d))\n"
        "    r.build_report(res, p.results_figures(res))\n"
        "import matplotlib\n"
        "print('simpy' in sys.modules, 'matplotlib.pyplot' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.split() == ["False", "False"]

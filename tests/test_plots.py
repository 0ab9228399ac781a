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
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from simulator import plots
from simulator.plots import BACKEND_COLOURS, NOTIFIER_MARKS, ResultsError, load_results
from simulator.plots.factors import assign_roles, factors_of
from simulator.plots.style import backend_colour, level_look, notifier_mark

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
    with pytest.raises(ResultsError, match="no run folder"):  # nor an mrc.csv
        load_results(tmp_path)
    (tmp_path / "summary.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ResultsError, match=r"summary\.csv: missing column\(s\) run_id, backend"):
        load_results(tmp_path)


# --- per-run figures ---------------------------------------------------------------------


def test_generations(saved: plots.SavedRun) -> None:
    fig = plots.generations_figure(saved)
    assert isinstance(fig.canvas, FigureCanvasAgg)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "simulated time (ms)" and ax.get_ylabel().endswith("(MiB)")
    layers = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(layers) == 4
    assert len(legend_labels(fig)) == 4
    # the top of the stack is the sum of the four generations at every sample
    total = saved.timeseries[[f"gen{k}_pages" for k in range(4)]].sum(axis=1)
    assert ax.get_ylim()[1] >= total.max() * 4096 / 2**20


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


def labels_of(fig: Figure) -> set[str]:
    return set(legend_labels(fig))


def test_factors_of_the_fixture_sweep(sweep_results: plots.Results) -> None:
    factors = factors_of(sweep_results.table)
    assert [f.keys for f in factors] == [("mglru.notifier",), ("vm.aging_lock",), ("vm.vcpus",)]
    assert [f.levels for f in factors] == [(("blind",), ("per_page",)),
                                           (("write",), ("none",)), (("1",), ("2",))]
    roles = assign_roles(sweep_results.table, factors)
    assert roles.hue is not None and roles.hue.keys == ("mglru.notifier",)
    assert roles.x is not None and roles.x.keys == ("vm.vcpus",)  # the numeric one
    assert roles.col is not None and roles.col.keys == ("vm.aging_lock",)
    assert roles.row is None and roles.style is None and roles.replicate is None


def _table(**columns: list[object]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base = {"run_index": list(range(n)), "run_id": [f"r{i}" for i in range(n)],
            "status": ["ok"] * n, "backend": ["x86_tdp"] * n, "aging_passes": [3] * n,
            "aging_pass_mean_ns": [1e6 * (i + 1) for i in range(n)],
            "aging_cpu_ns": [3e6 * (i + 1) for i in range(n)], "young_f1": [0.5] * n,
            "young_precision": [0.9] * n, "young_recall": [0.8] * n}
    return pd.DataFrame({**base, **columns})


def test_zipped_keys_are_one_factor_and_seeds_replicate() -> None:
    table = _table(**{"host.memory": ["192MiB", "192MiB", "128MiB", "128MiB"],
                      "vm.vcpus": [1, 1, 2, 2], "sim.seed": [1, 2, 1, 2]})
    factors = factors_of(table)
    assert [f.keys for f in factors] == [("host.memory", "vm.vcpus"), ("sim.seed",)]
    assert factors[0].label(factors[0].levels[0]) == "host.memory=192MiB, vm.vcpus=1"
    roles = assign_roles(table, factors)
    assert roles.replicate is not None and roles.replicate.keys == ("sim.seed",)
    fig = plots.family_figure(table, plots.FAMILIES[0])
    # two seeds per point: the mean, and a min-max bar; the zip factor is the hue and the x
    ax = fig.axes[0]
    assert [ys(ln).tolist() for ln in ax.lines] == [[1.5], [3.5]]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["192MiB, 1", "128MiB, 2"]
    assert len(ax.collections) == 2  # the vlines of the seed ranges
    assert "mean over seeds; bar: min-max" in labels_of(fig)


def test_family_figures_facet_every_varied_key(sweep_results: plots.Results) -> None:
    for family in plots.FAMILIES:
        fig = plots.family_figure(sweep_results.table, family)
        assert len(fig.axes) == 2 * 2  # two metrics x two aging locks
        titles = [ax.get_title() for ax in fig.axes]
        assert titles == ["vm.aging_lock=write", "vm.aging_lock=none"] * 2
        for ax in fig.axes:
            assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2"]
        assert fig.axes[-1].get_xlabel() == "vm.vcpus"
        assert all("(" in ax.get_ylabel() for ax in fig.axes[::2])  # units in every label
        assert {"mglru.notifier=blind", "mglru.notifier=per_page"} <= labels_of(fig)


def test_runs_without_aging_are_marked_not_dropped(sweep_results: plots.Results) -> None:
    table = sweep_results.table.copy()
    table.loc[0, ["aging_passes", "aging_pass_mean_ns", "young_precision"]] = [0, np.nan, np.nan]
    fig = plots.family_figure(table, plots.FAMILIES[0])
    crosses = [ln for ax in fig.axes for ln in ax.lines if ln.get_marker() == "x"]
    assert len(crosses) == 1
    assert "× no aging pass in the run (no value)" in labels_of(fig)


def test_failed_runs_are_named(sweep_results: plots.Results) -> None:
    failed = pd.DataFrame([{"run_id": "deadbeef0000", "mglru.notifier": "bitmap",
                            "vm.aging_lock": "none", "vm.vcpus": 1, "status": "failed",
                            "error": "ConfigError: ..."}])
    table = pd.concat([sweep_results.table.assign(status="ok"), failed], ignore_index=True)
    fig = plots.family_figure(table, plots.FAMILIES[3])
    assert "1 failed run(s) not shown: deadbeef0000" in fig.get_suptitle()
    assert "mglru.notifier=bitmap" not in labels_of(fig)


def test_tradeoff(sweep_results: plots.Results) -> None:
    fig = plots.tradeoff_figure(sweep_results.table)
    assert len(fig.axes) == 2
    points = [ln for ax in fig.axes for ln in ax.lines if ln.get_linestyle() == "None"]
    assert len(points) == 8
    assert {ln.get_markersize() for ln in points} == {6, 9}  # vm.vcpus=1 and 2
    assert fig.axes[0].get_xlabel().endswith("(ms, whole run)")
    assert {"Pareto front (lower cost, higher F1)", "vm.vcpus=2 (marker size)"} <= \
        labels_of(fig)


def test_pareto_front() -> None:
    cost = np.array([1.0, 2.0, 3.0, 0.5, 2.0])
    f1 = np.array([0.5, 0.9, 0.8, 0.2, 0.95])
    assert plots.pareto_front(cost, f1).tolist() == [3, 0, 4]


def test_hue_levels_look_distinct() -> None:
    for keys, values in ((("vm.backend",), list(BACKEND_COLOURS)),
                         (("mglru.notifier",), list(NOTIFIER_MARKS)),
                         (("vm.vcpus",), [str(i) for i in range(12)])):
        looks = [level_look(keys, v, i) for i, v in enumerate(values)]
        assert len({lk.colour for lk in looks}) == len(looks)
        assert len({lk.marker for lk in looks}) == len(looks)
    # a backend keeps its colour in every figure about backends
    assert level_look(("vm.backend",), "arm64", 0).colour == BACKEND_COLOURS["arm64"]


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


def test_summary_columns_name_keys_as_written(tmp_path: Path,
                                              sweep_results: plots.Results) -> None:
    copy = tmp_path / "runs"
    shutil.copytree(SWEEP, copy)
    (copy / "sweep.csv").unlink()
    factors = factors_of(load_results(copy).table)
    assert [f.keys for f in factors] == [("mglru.notifier",), ("vm.aging_lock",), ("vm.vcpus",)]
    table = load_results(copy).table.assign(host_pages=[12288, 8192] * 4)
    memory = next(f for f in factors_of(table) if "host.memory" in f.keys)
    assert memory.levels == (("32MiB",), ("48MiB",))  # pages shown as the size key's units


# --- reference figures, catalog, files ---------------------------------------------------


def test_mrc(run_results: plots.Results) -> None:
    assert run_results.mrc is not None
    fig = plots.mrc_figure(run_results.mrc)
    (ax,) = fig.axes
    assert len(ax.lines) == 2 and len(xs(ax.lines[0])) == len(run_results.mrc)
    np.testing.assert_allclose(xs(ax.lines[0]), run_results.mrc["cache_pages"] * 4096)
    assert ax.get_xlabel().startswith("cache size") and ax.get_ylabel() == "miss ratio (0-1)"
    assert legend_labels(fig) == ["exact LRU (Mattson)", "MGLRU (simulated replay)"]


def test_mrc_with_the_whole_curve(run_results: plots.Results) -> None:
    assert run_results.mrc is not None
    curve = pd.DataFrame({"cache_pages": np.arange(1, 401),
                          "lru_miss_ratio": np.linspace(1, 0.2, 400)})
    about = {"trace": "t.oracleGeneral.bin.zst", "records": 123456, "distinct_pages": 400}
    fig = plots.mrc_figure(run_results.mrc, curve, about)
    (ax,) = fig.axes
    assert len(xs(ax.lines[0])) == 400 and ax.lines[0].get_drawstyle() == "steps-post"
    assert [ln.get_linestyle() for ln in ax.lines[1:]] == ["None", "None"]  # points on it
    assert fig.get_suptitle() == ("Miss-ratio curve: t.oracleGeneral.bin.zst\n123,456 records, "
                                  "400 distinct pages (1.56 MiB)")
    ax.figure.canvas.draw()
    assert "MiB" in " ".join(t.get_text() for t in ax.get_xticklabels())


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
        "sweep_aging_cost", "sweep_vcpu_impact", "sweep_accuracy", "sweep_refaults",
        "sweep_accuracy_cost", "calibration"]


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

"""Which figures a results folder gets, under which deterministic file names.

One run folder gets the per-run figures; a folder of several runs gets the comparison figures
(the vCPU scaling curve only when the runs differ in vCPUs); an ``mrc.csv`` or a
``calibration.csv`` in the folder adds its figure. File names are fixed stems (``run_*``,
``sweep_*``, ``mrc``, ``calibration``) plus ``.png`` and ``.svg``, so scripts and the report
can refer to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from simulator.plots import reference, run, sweep
from simulator.plots.data import Results, SavedRun
from simulator.plots.style import save


@dataclass(frozen=True, slots=True)
class NamedFigure:
    """A figure with its file stem and a one-line caption for the report."""

    name: str
    caption: str
    figure: Figure


def run_figures(saved: SavedRun) -> list[NamedFigure]:
    """The per-run figures of one run folder."""
    return [
        NamedFigure("run_generations", "MGLRU generation sizes over time (stacked)",
                    run.generations_figure(saved)),
        NamedFigure("run_aging_passes", "Duration of each aging pass and its mmu_lock wait",
                    run.aging_passes_figure(saved)),
        NamedFigure("run_vcpu_time", "vCPU time: running, faulting, mmu_lock wait, stalled",
                    run.vcpu_time_figure(saved)),
        NamedFigure("run_young_confusion",
                    "Young-bit decisions of each aging pass against the truth",
                    run.young_confusion_figure(saved)),
        NamedFigure("run_refaults_evictions", "Evictions and refaults over time",
                    run.reclaim_figure(saved)),
    ]


def sweep_figures(results: Results) -> list[NamedFigure]:
    """The comparison figures of a folder with several runs."""
    table, varied = results.table, results.varied
    figures = [
        NamedFigure("sweep_backend_notifier", "Backends and notifier designs compared",
                    sweep.backend_notifier_figure(table, varied)),
        NamedFigure("sweep_accuracy_cost", "Young F1 against aging CPU time, Pareto front marked",
                    sweep.accuracy_cost_figure(table, varied)),
    ]
    if "vcpus" in varied:
        figures.append(NamedFigure("sweep_vcpu_scaling", "Scaling with the number of vCPUs",
                                   sweep.vcpu_scaling_figure(table, varied)))
    return figures


def results_figures(results: Results) -> list[NamedFigure]:
    """Every figure the folder's contents support, in report order."""
    figures: list[NamedFigure] = []
    if len(results.table) > 1:
        figures += sweep_figures(results)
    elif results.runs:
        figures += run_figures(results.runs[0])
    if results.mrc is not None:
        figures.append(NamedFigure("mrc", "Miss-ratio curve: exact LRU and MGLRU",
                                   reference.mrc_figure(results.mrc)))
    if results.calibration is not None:
        figures.append(NamedFigure("calibration", "Calibration: published versus simulated",
                                   reference.calibration_figure(results.calibration)))
    return figures


def save_figures(figures: list[NamedFigure], out_dir: Path) -> list[Path]:
    """Write each figure as ``<name>.png`` and ``<name>.svg``; returns the PNG paths."""
    return [save(f.figure, out_dir, f.name)["png"] for f in figures]

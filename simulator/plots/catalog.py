"""Which figures a results folder gets, under which deterministic file names.

One run folder gets the per-run figures; a folder of several runs gets the comparison figures
(one per metric family, and the accuracy-cost trade-off); an ``mrc.csv`` or a
``calibration.csv`` in the folder adds its figure. File names are fixed stems (``run_*``,
``sweep_*``, ``mrc``, ``calibration``) plus ``.png`` and ``.svg``, so scripts and the report
can refer to them. :func:`results_specs` lists them before any is drawn (``plot`` shows a
progress bar over them); :func:`results_figures` draws them all.
"""

from __future__ import annotations

from collections.abc import Callable
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


@dataclass(frozen=True, slots=True)
class FigureSpec:
    """A figure not drawn yet: its file stem, caption and how to draw it."""

    name: str
    caption: str
    build: Callable[[], Figure]

    def draw(self) -> NamedFigure:
        return NamedFigure(self.name, self.caption, self.build())


def run_specs(saved: SavedRun) -> list[FigureSpec]:
    """The per-run figures of one run folder."""
    return [
        FigureSpec("run_generations", "MGLRU generation sizes over time (stacked)",
                   lambda: run.generations_figure(saved)),
        FigureSpec("run_aging_passes", "Duration of each aging pass and its mmu_lock wait",
                   lambda: run.aging_passes_figure(saved)),
        FigureSpec("run_vcpu_time", "vCPU time: running, faulting, mmu_lock wait, stalled",
                   lambda: run.vcpu_time_figure(saved)),
        FigureSpec("run_young_confusion",
                   "Young-bit decisions of each aging pass against the truth",
                   lambda: run.young_confusion_figure(saved)),
        FigureSpec("run_refaults_evictions", "Evictions and refaults over time",
                   lambda: run.reclaim_figure(saved)),
    ]


def sweep_specs(results: Results) -> list[FigureSpec]:
    """The comparison figures of a folder with several runs: one per metric family, then the
    accuracy-cost trade-off."""
    table = results.table

    def family(f: sweep.Family) -> Callable[[], Figure]:
        return lambda: sweep.family_figure(table, f)

    specs = [FigureSpec(f.name, f.caption, family(f)) for f in sweep.FAMILIES]
    specs.append(FigureSpec("sweep_accuracy_cost",
                            "Young F1 against aging CPU time, Pareto front per panel",
                            lambda: sweep.tradeoff_figure(table)))
    return specs


def results_specs(results: Results) -> list[FigureSpec]:
    """Every figure the folder's contents support, in report order."""
    specs: list[FigureSpec] = []
    if len(results.table) > 1:
        specs += sweep_specs(results)
    elif results.runs:
        specs += run_specs(results.runs[0])
    mrc = results.mrc
    if mrc is not None:
        specs.append(FigureSpec("mrc", "Miss-ratio curve: exact LRU and MGLRU",
                                lambda: reference.mrc_figure(mrc, results.mrc_curve,
                                                             results.mrc_about)))
    calibration = results.calibration
    if calibration is not None:
        specs.append(FigureSpec("calibration", "Calibration: published versus simulated",
                                lambda: reference.calibration_figure(calibration)))
    return specs


def run_figures(saved: SavedRun) -> list[NamedFigure]:
    """The per-run figures of one run folder, drawn."""
    return [s.draw() for s in run_specs(saved)]


def sweep_figures(results: Results) -> list[NamedFigure]:
    """The comparison figures of a folder with several runs, drawn."""
    return [s.draw() for s in sweep_specs(results)]


def results_figures(results: Results) -> list[NamedFigure]:
    """Every figure the folder's contents support, drawn, in report order."""
    return [s.draw() for s in results_specs(results)]


def save_figures(figures: list[NamedFigure], out_dir: Path) -> list[Path]:
    """Write each figure as ``<name>.png`` and ``<name>.svg``; returns the PNG paths."""
    return [save(f.figure, out_dir, f.name)["png"] for f in figures]

"""Figures from saved results: per run, per sweep, miss-ratio curves and calibration.

Reads only what the runner and the sweep command wrote (never re-simulates and never imports
SimPy), and builds :class:`matplotlib.figure.Figure` objects on the Agg canvas, one function per
figure, so tests can inspect them and other commands (``mrc``, ``selftest``) can reuse them.
``simulator.report`` turns them into ``report.html``; ``mglru-sim plot`` drives both.

Modules: ``data`` (reading results folders), ``style`` (palette, per-backend colours,
per-notifier marks, saving), ``run``, ``sweep`` and ``reference`` (the figures), ``catalog``
(which figures a folder gets and their file names).
"""

from simulator.plots.catalog import (
    NamedFigure,
    results_figures,
    run_figures,
    save_figures,
    sweep_figures,
)
from simulator.plots.data import Results, ResultsError, SavedRun, load_results, load_run
from simulator.plots.reference import calibration_figure, mrc_figure
from simulator.plots.run import (
    aging_passes_figure,
    generations_figure,
    reclaim_figure,
    vcpu_time_figure,
    young_confusion_figure,
)
from simulator.plots.style import BACKEND_COLOURS, NOTIFIER_MARKS, backend_colour, notifier_mark
from simulator.plots.sweep import (
    accuracy_cost_figure,
    backend_notifier_figure,
    pareto_front,
    vcpu_scaling_figure,
)

__all__ = [
    "BACKEND_COLOURS", "NOTIFIER_MARKS", "NamedFigure", "Results", "ResultsError", "SavedRun",
    "accuracy_cost_figure", "aging_passes_figure", "backend_colour", "backend_notifier_figure",
    "calibration_figure", "generations_figure", "load_results", "load_run", "mrc_figure",
    "notifier_mark", "pareto_front", "reclaim_figure", "results_figures", "run_figures",
    "save_figures", "sweep_figures", "vcpu_scaling_figure", "vcpu_time_figure",
    "young_confusion_figure",
]

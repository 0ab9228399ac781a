"""Figures from saved results: per run, per sweep, miss-ratio curves and calibration.

Reads only what the runner and the sweep command wrote (never re-simulates and never imports
SimPy), and builds :class:`matplotlib.figure.Figure` objects on the Agg canvas, one function per
figure, so tests can inspect them and other commands (``mrc``, ``selftest``) can reuse them.
``simulator.report`` turns them into ``report.html``; ``mglru-sim plot`` drives both.

Modules: ``data`` (reading results folders), ``factors`` (which keys vary, and the part each
plays in a figure), ``facets`` (small multiples), ``style`` (palette, per-backend colours,
per-notifier marks, saving), ``run``, ``sweep`` and ``reference`` (the figures), ``catalog``
(which figures a folder gets and their file names).
"""

from simulator.plots.catalog import (
    FigureSpec,
    NamedFigure,
    results_figures,
    results_specs,
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
from simulator.plots.sweep import FAMILIES, family_figure, pareto_front, tradeoff_figure

__all__ = [
    "BACKEND_COLOURS", "FAMILIES", "NOTIFIER_MARKS", "FigureSpec", "NamedFigure", "Results",
    "ResultsError", "SavedRun", "aging_passes_figure", "backend_colour", "calibration_figure",
    "family_figure", "generations_figure", "load_results", "load_run", "mrc_figure",
    "notifier_mark", "pareto_front", "reclaim_figure", "results_figures", "results_specs",
    "run_figures", "save_figures", "sweep_figures", "tradeoff_figure", "vcpu_time_figure",
    "young_confusion_figure",
]

"""``report.html``: one self-contained page per results folder, readable offline.

The page embeds every figure of :func:`simulator.plots.results_figures` as a base64 PNG (no
external file, script, font or stylesheet), the summary tables, and the effective configuration
(``config.toml``) of each run, so it can be mailed or attached to a patch review as it is. The
figures are also written beside it as PNG and SVG files with fixed names. Nothing here
simulates or imports SimPy: it reads saved results only (DESIGN §4).
"""

from __future__ import annotations

import base64
import dataclasses
import html
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulator import __version__
from simulator.output import atomic_write
from simulator.plots import (
    NamedFigure,
    Results,
    ResultsError,
    SavedRun,
    load_results,
    results_figures,
    results_specs,
    save_figures,
)
from simulator.plots.factors import REPLICATE_KEYS, factors_of, prepare
from simulator.plots.style import render
from simulator.progress import bar as progress_bar
from simulator.report_header import notable_runs, run_lines, run_values, sweep_lines

REPORT_FILE = "report.html"
FIGURE_DIR = "figures"

KEY_METRICS: tuple[str, ...] = (
    "aging_passes", "aging_pass_mean_ns", "aging_cpu_ns", "vcpu_lock_wait_ns",
    "notifier_calls", "refaults", "evictions", "young_precision", "young_recall", "young_f1",
    "miss_ratio",
)
"""The summary columns a comparison table shows (all columns are in the per-run summary)."""

PASS_STATS: tuple[str, ...] = ("duration_ns", "lock_wait_ns", "ptes_scanned", "ptes_young",
                               "promoted", "notifier_calls")


@dataclass(frozen=True, slots=True)
class Table:
    """A titled table of the report."""

    title: str
    frame: pd.DataFrame
    note: str = ""


@dataclass(frozen=True, slots=True)
class Report:
    """What ``report.html`` shows, before it is rendered."""

    title: str
    source: Path
    description: str
    figures: list[NamedFigure]
    tables: list[Table]
    configs: list[tuple[str, str]]
    """(heading, effective config.toml text), one per run."""
    lru_gen: str = ""
    """The last debugfs lru_gen snapshot of a single run, empty for several runs."""
    facts: list[str] = field(default_factory=list)
    """Lines under the title: what was simulated (from the effective configuration), what was
    swept (values as written), and the runs that failed or made no aging pass."""


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """Where :func:`write_outputs` wrote the report and the figures."""

    html: Path
    figures: list[Path] = field(default_factory=list)
    """The PNG files; each has an SVG twin with the same stem."""


def format_value(v: Any) -> str:
    """A table cell: thousands separators for counts, four significant digits for ratios."""
    if v is None or (isinstance(v, float | np.floating) and math.isnan(v)):
        return "–"
    if isinstance(v, bool | np.bool_):
        return str(bool(v)).lower()
    if isinstance(v, int | np.integer):
        return f"{int(v):,}"
    if isinstance(v, float | np.floating):
        x = float(v)
        if x.is_integer() and abs(x) < 1e15:
            return f"{int(x):,}"
        # nanosecond totals are large: digits past the units carry no information
        return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"
    return str(v)


def _summary_table(summary: Mapping[str, Any]) -> Table:
    frame = pd.DataFrame({"column": list(summary), "value": list(summary.values())})
    return Table("Summary", frame, "Contract columns (DESIGN §5) first, then the extra ones.")


def _accuracy_table(summary: Mapping[str, Any]) -> Table | None:
    kinds = ("tp", "fp", "fn", "tn", "precision", "recall", "f1")
    sources = sorted({k[len("young_"):-len("_tp")] for k in summary
                      if k.startswith("young_") and k.endswith("_tp") and k != "young_tp"})
    if not sources:
        return None
    rows = [{"decided by": "all", **{k: summary.get(f"young_{k}") for k in kinds}}]
    rows += [{"decided by": s, **{k: summary.get(f"young_{s}_{k}") for k in kinds}}
             for s in sources]
    return Table("Young-bit accuracy by decision source", pd.DataFrame(rows),
                 "Each young/old decision scored against the truth (was the page accessed "
                 "since its A bits were last harvested?).")


def _passes_table(passes: pd.DataFrame) -> Table | None:
    cols = [c for c in PASS_STATS if c in passes.columns]
    if passes.empty or not cols:
        return None
    numeric = passes[cols].apply(pd.to_numeric, errors="coerce")
    stats = pd.DataFrame({
        "column": cols, "passes": [int(numeric[c].count()) for c in cols],
        "total": numeric.sum().to_list(), "mean": numeric.mean().to_list(),
        "p50": numeric.median().to_list(), "p95": numeric.quantile(0.95).to_list(),
        "max": numeric.max().to_list(),
    })
    return Table("Aging passes", stats, "Per-pass statistics from passes.csv.")


def _runs_tables(results: Results) -> list[Table]:
    table = prepare(results.table)
    factors = factors_of(table)
    keys = [k for f in factors for k in f.keys]
    metrics = [c for c in KEY_METRICS if c in table.columns]
    status = [c for c in ("status",) if c in table.columns]
    cols = ["run_id", *keys, *status, *metrics]
    tables = [Table("Runs", table[list(dict.fromkeys(cols))].reset_index(drop=True),
                    "One row per run; the swept keys come first, with their values as "
                    "written in the sweep.")]
    seeds = [k for f in factors if set(f.keys) <= REPLICATE_KEYS for k in f.keys]
    by = [k for k in keys if k not in seeds]
    if seeds and by and metrics:
        ok = table[table["status"].astype(str) == "ok"] if status else table
        numeric = ok[metrics].apply(pd.to_numeric, errors="coerce")
        grouped = numeric.groupby([ok[k] for k in by], sort=False)
        means = grouped.mean().reset_index()
        means.insert(len(by), "seeds", grouped.size().to_numpy())
        tables.append(Table("Mean over seeds, per configuration", means,
                            "Every other swept key stays apart: only seeds (replicates) are "
                            "averaged."))
    return tables


def _reference_tables(results: Results) -> list[Table]:
    tables = []
    if results.mrc is not None:
        tables.append(Table("Miss-ratio curve", results.mrc, "From mrc.csv."))
    if results.calibration is not None:
        cal = results.calibration.copy()
        published = pd.to_numeric(cal["published"], errors="coerce")
        cal["simulated / published"] = pd.to_numeric(cal["simulated"], errors="coerce") / published
        tables.append(Table("Calibration", cal, "From calibration.csv."))
    return tables


def _last_snapshot(lru_gen: str) -> str:
    blocks = lru_gen.strip().split("\n# ")
    return ("# " + blocks[-1] if len(blocks) > 1 else blocks[-1]) if lru_gen.strip() else ""


def _description(config_toml: str) -> str:
    try:
        return str(tomllib.loads(config_toml).get("description", ""))
    except tomllib.TOMLDecodeError:
        return ""


def _run_heading(run: SavedRun, results: Results, values: Mapping[str, str]) -> str:
    where = str(run.folder.relative_to(results.root))
    shown = values.get(run.run_id, "")
    return run.run_id + (f" ({where})" if where != run.run_id else "") + (
        f": {shown}" if shown else "")


def build_report(results: Results, figures: list[NamedFigure] | None = None) -> Report:
    """Collect the figures, tables and configurations of a results folder."""
    figures = results_figures(results) if figures is None else figures
    single = len(results.table) <= 1 and len(results.runs) == 1
    if single:
        run = results.runs[0]
        title = f"mglru-sim report: {run.summary.get('scenario')}, run {run.run_id}"
        tables = [t for t in (_summary_table(run.summary), _accuracy_table(run.summary),
                              _passes_table(run.passes)) if t is not None]
        configs = [("config.toml", run.config_toml)]
        description, lru_gen = "", _last_snapshot(run.lru_gen)
        facts = run_lines(run) or [_description(run.config_toml)]
    else:
        title = f"mglru-sim report: {results.root.name} ({len(results.table)} runs)"
        tables = _runs_tables(results) if len(results.table) else []
        values = run_values(results)
        configs = [(_run_heading(r, results, values), r.config_toml) for r in results.runs]
        description, lru_gen = "", ""
        facts = [*sweep_lines(results), *notable_runs(results)] if len(results.table) else []
    tables += _reference_tables(results)
    return Report(title, results.root, description, figures, tables, configs, lru_gen,
                  [f for f in facts if f])


CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #111; line-height: 1.4; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
figure { margin: 1.5em 0; } figure img { width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #444; font-size: .95em; }
table { border-collapse: collapse; margin: .5em 0 1.5em; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; }
th { background: #f0f0f0; text-align: left; } td.num { text-align: right;
  font-variant-numeric: tabular-nums; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: .8em; overflow-x: auto; }
.note { color: #555; font-size: .9em; } nav li { margin: .1em 0; }
.scroll { overflow-x: auto; }
"""


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def table_html(table: Table) -> str:
    """One ``<table>`` with a caption; numbers right-aligned."""
    esc = html.escape
    head = "".join(f"<th>{esc(str(c))}</th>" for c in table.frame.columns)
    rows = []
    for record in table.frame.itertuples(index=False):
        cells = "".join(
            f'<td class="num">{esc(format_value(v))}</td>' if _is_number(v)
            else f"<td>{esc(format_value(v))}</td>" for v in record)
        rows.append(f"<tr>{cells}</tr>")
    note = f'<p class="note">{esc(table.note)}</p>' if table.note else ""
    return (f"<h3>{esc(table.title)}</h3>{note}\n<div class='scroll'><table><thead><tr>{head}"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def figure_html(number: int, fig: NamedFigure, png: bytes) -> str:
    """One ``<figure>`` with the PNG embedded as a data URI."""
    esc = html.escape
    data = base64.b64encode(png).decode("ascii")
    files = f"{FIGURE_DIR}/{fig.name}.png, {FIGURE_DIR}/{fig.name}.svg"
    return (f'<figure id="{esc(fig.name)}"><img alt="{esc(fig.caption)}" '
            f'src="data:image/png;base64,{data}">'
            f"<figcaption>Figure {number}. {esc(fig.caption)} <small>({esc(files)})</small>"
            "</figcaption></figure>")


def render_html(report: Report, images: Mapping[str, bytes] | None = None) -> str:
    """The report page; ``images`` maps figure names to PNG bytes (rendered if absent)."""
    esc = html.escape
    images = dict(images or {})
    nav = "".join(f'<li><a href="#{esc(f.name)}">{esc(f.caption)}</a></li>'
                  for f in report.figures)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(report.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{esc(report.title)}</h1>",
        f"<p>{esc(report.description)}</p>" if report.description else "",
        "<ul class='facts'>" + "".join(f"<li>{esc(f)}</li>" for f in report.facts) + "</ul>"
        if report.facts else "",
        f'<p class="note">Results: <code>{esc(str(report.source))}</code>. '
        f"Generated by mglru-sim {esc(__version__)} from saved results.</p>",
        f"<nav><h2>Contents</h2><ol>{nav}<li><a href='#tables'>Tables</a></li>"
        "<li><a href='#config'>Effective configuration</a></li></ol></nav>",
        "<h2>Figures</h2>" if report.figures else "",
    ]
    for i, fig in enumerate(report.figures, start=1):
        png = images.get(fig.name) or render(fig.figure, "png")
        parts.append(figure_html(i, fig, png))
    parts += ["<h2 id='tables'>Tables</h2>", *(table_html(t) for t in report.tables)]
    if report.lru_gen:
        parts += ["<h2>Last lru_gen snapshot</h2>", f"<pre>{esc(report.lru_gen)}</pre>"]
    parts.append("<h2 id='config'>Effective configuration</h2>")
    if len(report.configs) == 1:
        heading, text = report.configs[0]
        parts.append(f"<p class='note'>{esc(heading)}</p><pre>{esc(text)}</pre>")
    else:
        parts += [f"<details><summary>{esc(h)}</summary><pre>{esc(t)}</pre></details>"
                  for h, t in report.configs]
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p) + "\n"


def _nothing_finished(results: Results) -> bool:
    table = results.table
    if results.mrc is not None or results.calibration is not None or not len(table):
        return False
    return "status" in table.columns and not (table["status"].astype(str) == "ok").any()


def write_outputs(results_dir: Path, out_dir: Path | None = None,
                  shown_as: Path | None = None) -> ReportFiles:
    """Write ``figures/*.png``, ``figures/*.svg`` and ``report.html`` under ``out_dir``.

    ``out_dir`` defaults to ``results_dir``; ``shown_as`` is the results folder the page names
    (default ``results_dir``; a run folder being built names its final place). Raises
    :class:`simulator.plots.ResultsError` if the folder holds no readable results.
    """
    results = load_results(Path(results_dir))
    out = Path(results_dir) if out_dir is None else Path(out_dir)
    if _nothing_finished(results):
        raise ResultsError(f"{results_dir}: no run finished (every run in sweep.csv failed; "
                           "see sweep_errors.txt): nothing to plot")
    specs = results_specs(results)
    figures: list[NamedFigure] = []
    with progress_bar(len(specs), "figures", "figure") as bar:
        for spec in specs:
            figures.append(spec.draw())
            bar.update(1)
    report = build_report(results, figures)
    if shown_as is not None:
        report = dataclasses.replace(report, source=shown_as)
    pngs = save_figures(report.figures, out / FIGURE_DIR)
    images = {p.stem: p.read_bytes() for p in pngs}
    page = atomic_write(out / REPORT_FILE, render_html(report, images))
    return ReportFiles(page, pngs)


def write_report(results_dir: Path, out_dir: Path | None = None,
                 shown_as: Path | None = None) -> Path:
    """Write the figures and ``report.html`` for a run or sweep folder; returns the page.

    This is what ``mglru-sim run`` (into the run folder it builds) and ``sweep`` call.
    """
    return write_outputs(results_dir, out_dir, shown_as).html

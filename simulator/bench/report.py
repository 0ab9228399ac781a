"""Bench output: the comparison table (plain text or Markdown), targets, and the JSON document.

The text table has one line per metric: case, metric, kind (``det`` gates, ``perf`` is
reported, ``info`` identifies), baseline, now, change and status. Statuses: ``ok`` (equal),
``within`` (moved, inside the tolerance), ``CHANGED`` / ``MISSING`` (fail), ``new``,
``faster`` / ``slower`` (performance; ``SLOWER!`` when it fails ``--perf-gate``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from simulator.bench.compare import BenchResults, Comparison, Row, Target
from simulator.bench.metrics import Scalar

MAX_FAIL_LINES = 25
"""Failing metrics named one per line under the table; the rest are counted per case."""
KIND_LABEL = {"deterministic": "det", "performance": "perf", "info": "info"}
HEADER = ("case", "metric", "kind", "baseline", "now", "change", "status")


def fmt_value(v: Scalar) -> str:
    """A metric value for a table: thousands separators, 6 significant digits for floats."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "-"
        if v == int(v) and abs(v) < 1e15:
            return f"{int(v):,}" if abs(v) >= 1e4 else f"{v:g}"
        return f"{v:,.0f}" if abs(v) >= 1e6 else f"{v:.6g}"
    return str(v)


def fmt_change(r: Row) -> str:
    if r.kind == "info":
        return ""
    if r.change is None:
        if r.baseline is None or r.now is None:
            return ""
        return "=" if r.baseline == r.now else "changed"
    if r.change == 0:
        return "="
    pct = r.change * 100.0
    return f"{pct:+.3g}%" if abs(pct) < 0.01 else f"{pct:+.2f}%"


def fmt_status(r: Row) -> str:
    if r.fails and r.kind == "performance":
        return "SLOWER!"
    return r.status


def _cells(r: Row) -> tuple[str, ...]:
    return (r.case, r.metric, KIND_LABEL[r.kind], fmt_value(r.baseline), fmt_value(r.now),
            fmt_change(r), fmt_status(r))


def _select(cmp: Comparison, changes_only: bool) -> list[Row]:
    if not changes_only:
        return cmp.rows
    return [r for r in cmp.rows if r.kind == "performance" or r.status not in ("ok", "info")]


def text_table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...] = HEADER,
               right: Iterable[int] = (3, 4, 5)) -> str:
    """Columns padded to their widest cell; ``right`` columns right-aligned."""
    right = set(right)
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
              for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        out = [c.rjust(w) if i in right else c.ljust(w)
               for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def comparison_text(cmp: Comparison, changes_only: bool = False) -> str:
    """The metric table, one block per case."""
    rows = [_cells(r) for r in _select(cmp, changes_only)]
    return text_table(rows)


def verdict(cmp: Comparison, results: BenchResults, has_baseline: bool) -> str:
    """The lines under the table: counts, and every failing metric by name."""
    det = [r for r in cmp.rows if r.kind == "deterministic"]
    moved = [r for r in det if r.status == "within"]
    lines = [f"bench {results.suite}: {len(results.cases)} case(s), {len(det)} deterministic "
             f"metric(s)"]
    if not has_baseline:
        lines.append("no baseline: nothing compared (write one with --update-baseline)")
        return "\n".join(lines)
    tol = f"{cmp.tolerance_pct:g} %"
    lines.append(f"deterministic: {len(det) - len(moved) - len(cmp.failures)} unchanged, "
                 f"{len(moved)} within the tolerance ({tol}), "
                 f"{sum(r.fails for r in det)} beyond it")
    perf = [r for r in cmp.rows if r.kind == "performance"]
    gate = (f"gated at {cmp.perf_tolerance_pct:g} % slower" if cmp.perf_gate
            else "reported only (gate with --perf-gate)")
    lines.append(f"performance: {len(perf)} figure(s), {gate}")
    for name in cmp.new_cases:
        lines.append(f"new case (not in the baseline): {name}")
    for name in cmp.missing_cases:
        lines.append(f"FAIL: case {name} is in the baseline but did not run")
    failures = cmp.failures
    for r in failures[:MAX_FAIL_LINES]:
        what = "slower than" if r.kind == "performance" else "moved beyond the tolerance of"
        if r.status == "MISSING":
            lines.append(f"FAIL: {r.case}.{r.metric} is in the baseline but no longer "
                         f"reported")
            continue
        lines.append(f"FAIL: {r.case}.{r.metric} {what} the baseline: "
                     f"{fmt_value(r.baseline)} -> {fmt_value(r.now)} ({fmt_change(r)})")
    if len(failures) > MAX_FAIL_LINES:
        per_case: dict[str, int] = {}
        for r in failures:
            per_case[r.case] = per_case.get(r.case, 0) + 1
        lines.append(f"... {len(failures) - MAX_FAIL_LINES} more failing metric(s) (marked in "
                     "the table); per case: " + ", ".join(f"{c} {n}"
                                                          for c, n in per_case.items()))
    lines.append("result: " + ("REGRESSION (exit 1)" if cmp.failed else "ok"))
    return "\n".join(lines)


def targets_text(targets: Sequence[Target]) -> str:
    rows = [(t.name, _target_value(t), _target_limit(t), _met(t), t.note) for t in targets]
    return text_table(rows, ("target", "measured", "goal", "met", "note"), right=(1,))


def _target_value(t: Target) -> str:
    if t.value is None:
        return "-"
    v = t.value
    text = f"{v:.3g}" if abs(v) < 100 else f"{v:,.0f}"
    return f"{text} {t.unit}".strip()


def _target_limit(t: Target) -> str:
    op = ">=" if t.higher_is_better else "<"
    return f"{op} {fmt_value(t.limit)} {t.unit}".strip()


def _met(t: Target) -> str:
    return {True: "met", False: "NOT MET", None: "n/a"}[t.met]


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|")


def markdown(cmp: Comparison, results: BenchResults, has_baseline: bool,
             changes_only: bool = False) -> str:
    """The same report as Markdown: environment, targets (perf), metric table, verdict."""
    out = [f"# mglru-sim bench: suite `{results.suite}`", ""]
    env = results.environment
    if env:
        out.append("Ran " + results.created_utc + " on " + ", ".join(
            f"{k} {v}" for k, v in env.items()) + ".")
        out.append("")
    for note in results.notes:
        out.append(f"- {note}")
    if results.notes:
        out.append("")
    if results.targets:
        out += ["## Targets", "", "| target | measured | goal | met | note |",
                "|---|---:|---|---|---|"]
        out += [f"| {_md_escape(t.name)} | {_target_value(t)} | {_target_limit(t)} | "
                f"{_met(t)} | {_md_escape(t.note)} |" for t in results.targets]
        out.append("")
    out += ["## Metrics", "", "| " + " | ".join(HEADER) + " |",
            "|---|---|---|---:|---:|---:|---|"]
    out += ["| " + " | ".join(_md_escape(c) for c in _cells(r)) + " |"
            for r in _select(cmp, changes_only)]
    out += ["", "```", verdict(cmp, results, has_baseline), "```", ""]
    return "\n".join(out)


def json_document(cmp: Comparison, results: BenchResults, baseline_path: str | None,
                  exit_code: int) -> dict[str, Any]:
    """``--json``: the results (same schema as a baseline) plus the comparison."""
    doc = results.to_json()
    doc["comparison"] = {
        "baseline": baseline_path, "tolerance_pct": cmp.tolerance_pct,
        "perf_gate": cmp.perf_gate, "perf_tolerance_pct": cmp.perf_tolerance_pct,
        "failed": cmp.failed, "exit_code": exit_code,
        "missing_cases": cmp.missing_cases, "new_cases": cmp.new_cases,
        "rows": [{"case": r.case, "metric": r.metric, "kind": r.kind, "baseline": r.baseline,
                  "now": r.now, "change": r.change, "status": r.status, "fails": r.fails}
                 for r in cmp.rows],
    }
    return doc


__all__ = ["comparison_text", "fmt_value", "json_document", "markdown", "targets_text",
           "text_table", "verdict"]

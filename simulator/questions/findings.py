"""``findings.md``: a one-page summary, then for each question the generated answer, the tables
behind it, the figure, the seeds, and the sensitivity pass (the constants moved, each
conclusion's verdict, the points). Tables are also written as CSV (``findings/<question>/*.csv``),
in the same formatting, so a test can check every number of the text against them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.output import atomic_write
from simulator.questions.analyses import Finding
from simulator.questions.estimate import CONFIDENCE, DETERMINISTIC_DIGITS
from simulator.questions.robustness import (
    LHS_POINTS,
    Sensitivity,
    robustness,
    verdict_text,
)
from simulator.questions.stats import fmt


def _markdown(df: pd.DataFrame) -> str:
    if df.empty:
        return "(no rows)\n"
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(v).replace("|", "/") for v in row) + " |"
              for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def number_of(q: Any, i: int) -> str:
    return q.name.split("_", 1)[0].upper() if q.name[:1] == "q" else f"Q{i}"


def summary(results: Sequence[tuple[Any, pd.DataFrame, Finding, Sensitivity]]) -> list[str]:
    """The one-page summary: per question, the answer in one sentence and how robust it is."""
    lines = ["## Summary", "",
             "Each answer in one sentence, then how it fared when every cost constant it rests "
             "on was moved over its plausible range (one at a time to each end, then a seeded "
             "Latin-hypercube sample of all of them). Details, intervals and tables are in "
             "each question's section.", ""]
    for i, (q, _, finding, sens) in enumerate(results, 1):
        answer = finding.headline or (finding.sentences[0] if finding.sentences else
                                      "(no comparable runs)")
        lines += [f"- **{number_of(q, i)}. {q.title}** {answer} *Robustness:* "
                  f"{robustness(sens, finding.unresolved)}", ""]
    return lines


def sensitivity_section(folder: Path, out: Path, finding: Finding, sens: Sensitivity,
                        quick: bool) -> list[str]:
    lines: list[str] = []
    if sens.skipped:
        return [f"**Sensitivity.** Not run in this invocation: {sens.skipped}. Its constants: "
                + ", ".join(f"`{u.key}`" for u in sens.constants) + ".", ""]
    if not sens.constants:
        return ["**Sensitivity.** No pass: none of the constants this question declares is in "
                "this cost model" + (f" ({', '.join(sens.missing)})" if sens.missing else "")
                + ".", ""]
    verdicts = sens.answer()
    robust = sum(v.robust and v.points > 1 for v in verdicts)
    oat = ("each" if len(sens.oat) == len(sens.constants) else
           ", ".join(f"`{u.key}`" for u in sens.oat)
           + f" (quick mode: the first {len(sens.oat)} declared)")
    lines += [f"**Sensitivity.** {len(sens.constants)} constants moved over their plausible "
              f"ranges with seed {sens.seed}, {sens.runs} runs ({sens.failed} failed), each "
              "conclusion judged against the answer over all seeds: "
              f"{oat} to the low and the high end alone, {LHS_POINTS[quick]} Latin-hypercube "
              f"points over all of them, and {sens.rounds} bisection round(s) per "
              f"one-at-a-time flip. {robust} of {len(verdicts)} conclusions hold over the "
              "plausible range.", ""]
    for v in verdicts:
        noisy = " (the seeds do not resolve this effect)" if v.key in finding.unresolved else ""
        lines.append(f"- {v.claim}: {verdict_text(v, sens.refined)}{noisy}.")
    lines.append("")
    if sens.missing:
        lines += [f"Declared but not in this cost model: {', '.join(sens.missing)}.", ""]
    for tname, tdf in (("sensitivity constants", sens.constant_table()),
                       ("sensitivity verdicts", sens.verdict_table(finding.unresolved)),
                       ("sensitivity points", sens.point_table())):
        csv = folder / f"{tname.replace(' ', '_')}.csv"
        atomic_write(csv, tdf.to_csv(index=False))
        lines += [f"**{tname}** (`{csv.relative_to(out)}`)", "", _markdown(tdf)]
    return lines


def write_findings(out: Path,
                   results: Sequence[tuple[Any, pd.DataFrame, Finding, Sensitivity]], *,
                   quick: bool, wall_s: float, machine: str, jobs: int,
                   save_figure: Callable[..., dict[str, Path]],
                   resumed: tuple[int, int] = (0, 0), analysed_only: bool = False) -> Path:
    """Write findings.md, the CSV tables and the figures under ``out`` (``resumed``: how many
    of how many runs an earlier invocation had completed; their time is not in ``wall_s``)."""
    out = Path(out)
    pct = f"{CONFIDENCE:.0%}"
    lines = ["# Findings: the series' open review questions, answered by mglru-sim", "",
             f"Generated by `mglru-sim questions{' --quick' if quick else ''}` on {machine} "
             f"with {jobs} parallel runs in {fmt(wall_s)} s of wall time (sensitivity passes "
             "included). Every number below is read from the results tables next to it "
             "(`findings/<question>/*.csv`), which come from each question's `sweep.csv`; "
             "nothing is typed by hand. Each configuration ran with several seeds: a value is "
             f"their mean, printed to the digits its {pct} t interval supports, and a change "
             f"carries a {pct} Welch interval; a change whose interval includes zero is "
             "called not resolved. A configuration whose seeds all give the same value is "
             f"called deterministic and printed to {DETERMINISTIC_DIGITS} significant figures. "
             "Every row names its kernel release and backend, and the keys it sets against "
             "its release (a what-if).", ""]
    if analysed_only:
        lines[-2] = (f"Answered by `mglru-sim questions --analyse-only` on {machine} from the "
                     "sweep tables (`<question>/sweep.csv`) an earlier full run of the same "
                     "scenarios left in this folder: nothing was simulated for this copy, "
                     "and no sensitivity pass ran (each is reported as not run). "
                     + lines[-2].split("(sensitivity passes included). ", 1)[-1])
    if resumed[0]:
        lines[-2] += (f" {resumed[0]:,} of the {resumed[1]:,} runs were complete from an "
                      "earlier invocation into the same folder and were read, not run again: "
                      "the wall time above does not include them.")
    if quick:
        lines += ["These are the reduced (`--quick`) sizes used in CI: small guests and short "
                  "runs. Read the direction of each effect, not its size.", ""]
    lines += summary(results)
    for i, (q, df, finding, sens) in enumerate(results, 1):
        folder = out / "findings" / q.name
        lines += [f"## {number_of(q, i)}. {q.title}", "",
                  f"Asked by: {q.asked_by}. Where: {q.where}. Scenario: "
                  f"`scenarios/questions/{Path(q.path).name}`.", ""]
        seeds = sorted({int(s) for s in df["sim.seed"]}) if "sim.seed" in df else []
        lines += ["**Answer.** " + " ".join(finding.sentences or ["(no comparable runs)"]), ""]
        failed = int((df.get("status", pd.Series(dtype=str)) == "failed").sum())
        lines += [f"Seeds: {', '.join(str(s) for s in seeds)} ({len(seeds)} per configuration)"
                  f"; runs: {len(df)}, failed: {failed}. The `±95%` columns are the half-width "
                  "of the mean's interval over the seeds.", ""]
        figs = save_figure(finding.figure, folder, q.name)
        lines += [f"![{q.title}](findings/{q.name}/{figs['png'].name})", ""]
        for tname, tdf in finding.tables.items():
            csv = folder / f"{tname.replace(' ', '_')}.csv"
            atomic_write(csv, tdf.to_csv(index=False))
            lines += [f"**{tname}** (`{csv.relative_to(out)}`)", "", _markdown(tdf)]
        lines += finding.notes
        lines += sensitivity_section(folder, out, finding, sens, quick)
    path = out / "findings.md"
    atomic_write(path, "\n".join(lines) + "\n")
    return path

"""Run the question sweeps and write ``findings.md`` with its tables and figures."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.config import ConfigError, apply_overrides, read_toml
from simulator.config.bundled import bundled_dir
from simulator.plots.style import save
from simulator.questions.analyses import Finding
from simulator.questions.registry import ANALYSES, analyse
from simulator.questions.robustness import Sensitivity, not_run, run_sensitivity
from simulator.questions.stats import fmt
from simulator.resources import check_parallel, sweep_driver_bytes
from simulator.sweep import SweepReport, expand_sweep, make_executor, run_sweep
from simulator.sweep.expand import Sweep

QUESTION_DIR = bundled_dir("questions")
META_KEYS = ("title", "asked_by", "where", "quick", "quick_sweep", "sensitivity",
             "sensitivity_sweep")


@dataclass(frozen=True, slots=True)
class Question:
    """One question file: its metadata and its scenario document (without ``[question]``)."""

    name: str
    path: Path
    title: str
    asked_by: str
    where: str
    quick: tuple[str, ...]
    quick_sweep: dict[str, list[Any]]
    doc: dict[str, Any]
    sensitivity: tuple[str, ...] = ()
    """The cost constants the answer depends on (``costs.<name>``), for the sensitivity pass."""
    sensitivity_sweep: dict[str, list[Any]] = field(default_factory=dict)
    """Shorter sweep lists for the sensitivity runs (the configurations its conclusions use)."""


def load_question(path: Path) -> Question:
    doc = read_toml(path)
    meta = doc.pop("question", None)
    if not isinstance(meta, dict):
        raise ConfigError(str(path), "question", "a question file needs a [question] table")
    for key in meta:
        if key not in META_KEYS:
            raise ConfigError(str(path), f"question.{key}", "unknown key")
    name = str(doc.get("name", path.stem))
    if name not in ANALYSES:
        raise ConfigError(str(path), "name", f"no analysis for question {name!r}")
    return Question(name, path, str(meta.get("title", name)), str(meta.get("asked_by", "")),
                    str(meta.get("where", "")), tuple(meta.get("quick", ())),
                    dict(meta.get("quick_sweep", {})), doc,
                    tuple(meta.get("sensitivity", ())), dict(meta.get("sensitivity_sweep", {})))


def load_questions(folder: Path = QUESTION_DIR) -> list[Question]:
    return [load_question(p) for p in sorted(folder.glob("*.toml"))]


class QuestionsFailed(RuntimeError):
    """Some runs of the questions' sweeps failed: findings.md is not written (its answers
    would rest on missing rows). ``str()`` is one line naming the error files."""


def select(questions: Sequence[Question], only: Sequence[str]) -> list[Question]:
    """The questions ``--only`` names (a name or a unique prefix, e.g. ``q6``), in file order;
    all of them without ``--only``. Raises ConfigError for a name that fits none or several,
    or when there is no question at all (nothing would be written)."""
    if not questions:
        raise ConfigError(str(QUESTION_DIR), "", "no question files (*.toml) found")
    names = [q.name for q in questions]
    chosen: set[str] = set()
    for want in only:
        fits = [n for n in names if n == want] or [n for n in names if n.startswith(want)]
        if len(fits) != 1:
            what = "fits several questions" if fits else "no such question"
            raise ConfigError("--only", "", f"{want!r}: {what} (questions: {', '.join(names)})")
        chosen.add(fits[0])
    return [q for q in questions if not only or q.name in chosen]


def question_doc(q: Question, *, quick: bool, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The question's scenario document with the quick sizes and ``overrides`` applied."""
    doc = apply_overrides(q.doc, [*(q.quick if quick else ()), *overrides])
    if quick and q.quick_sweep:
        # shorter lists for the swept keys, e.g. fewer vCPU counts (seeds stay at 3)
        doc["sweep"] = {**doc.get("sweep", {}), **q.quick_sweep}
    return doc


def sensitivity_sweep(q: Question, seed: int, *, quick: bool, overrides: Sequence[str]
                      ) -> Sweep:
    """The sweep of one sensitivity point: one seed, the question's sensitivity lists."""
    doc = question_doc(q, quick=quick, overrides=overrides)
    doc["sweep"] = {**doc.get("sweep", {}), **q.sensitivity_sweep, "sim.seed": [seed]}
    return expand_sweep(doc, str(q.path))


def run_question(q: Question, out: Path, *, quick: bool, jobs: int,
                 overrides: Sequence[str] = (), progress: bool = False
                 ) -> tuple[pd.DataFrame, SweepReport]:
    """Run (or resume) a question's sweep; return its sweep.csv as a frame, and the report
    (how many runs failed, how many were resumed from an earlier invocation)."""
    sweep = expand_sweep(question_doc(q, quick=quick, overrides=overrides), str(q.path))
    # the driver and --jobs runs at once on this machine, as `sweep` checks them
    check_parallel([p.scenario for p in sweep.points], None, jobs,
                   driver=sweep_driver_bytes(len(sweep.points)))
    report = run_sweep(sweep, out, make_executor("local", jobs), resume=True,
                       progress=progress)
    return pd.read_csv(report.csv_path), report


def saved_sweep(out: Path, q: Question) -> pd.DataFrame:
    """The sweep table an earlier run of ``q`` left in ``out``."""
    path = out / q.name / "sweep.csv"
    if not path.is_file():
        raise ConfigError(str(path), "", "no saved sweep table for --analyse-only (run the "
                                         "question without it first)")
    return pd.read_csv(path)


def _answer_all(questions: Sequence[Question], out: Path, *, quick: bool, jobs: int,
                overrides: Sequence[str], progress: bool, analyse_only: bool,
                ) -> tuple[list[tuple[Question, pd.DataFrame, Finding]], int, int]:
    """Each question's sweep (run, resumed, or with ``analyse_only`` read back) and its
    answer; the answers, how many runs there are and how many were resumed. Raises
    QuestionsFailed after every sweep ran if any run failed."""
    answered: list[tuple[Question, pd.DataFrame, Finding]] = []
    total = reused = 0
    failed: list[str] = []
    for q in questions:
        if analyse_only:
            saved = saved_sweep(out, q)
            answered.append((q, saved, analyse(q.name, saved)))
            total += len(saved)
            continue
        df, report = run_question(q, out, quick=quick, jobs=jobs, overrides=overrides,
                                  progress=progress)
        if report.failed:
            failed.append(f"{q.name}: {report.failed} of {len(report.sweep.points)} runs "
                          f"failed (see {report.errors_path})")
            continue
        answered.append((q, df, analyse(q.name, df)))
        total += len(df)
        reused += report.resumed
    if failed:
        raise QuestionsFailed("; ".join(failed) + "; findings.md not written")
    return answered, total, reused


def run_questions(out: Path, *, quick: bool = False, jobs: int | None = None,
                  only: Sequence[str] = (), overrides: Sequence[str] = (),
                  progress: bool = False, sensitivity_budget_s: float | None = None,
                  sensitivity_for: Sequence[str] | None = None,
                  bisect_rounds: int | None = None, analyse_only: bool = False) -> Path:
    """Run every question, then every question's sensitivity pass, and write
    ``out/findings.md``; returns its path. No sensitivity pass starts after
    ``sensitivity_budget_s`` seconds, and only the questions ``sensitivity_for`` names get
    one (default all); the others are reported as not run. ``bisect_rounds`` overrides the
    mode's bisection rounds per one-at-a-time flip. With ``analyse_only`` nothing is
    simulated: each question is answered from ``out/<question>/sweep.csv`` (a ConfigError
    names a missing one) and every sensitivity pass is reported as not run.

    Raises QuestionsFailed (after running every question's sweep) if any run failed.
    """
    from simulator.questions.findings import write_findings

    jobs = jobs or os.cpu_count() or 1
    t0 = time.perf_counter()
    answered, total, reused = _answer_all(select(load_questions(), only), out, quick=quick,
                                          jobs=jobs, overrides=overrides, progress=progress,
                                          analyse_only=analyse_only)
    results: list[tuple[Question, pd.DataFrame, Finding, Sensitivity]] = []
    wanted = ({q.name for q in select([q for q, _, _ in answered], sensitivity_for)}
              if sensitivity_for is not None else {q.name for q, _, _ in answered})
    for q, df, finding in answered:
        nominal = expand_sweep(question_doc(q, quick=quick, overrides=overrides), str(q.path))
        costs = nominal.points[0].scenario.costs
        why = ""
        if analyse_only:
            why = ("--analyse-only: this copy was answered from saved sweep tables, and "
                   "nothing was simulated")
        elif q.name not in wanted:
            why = "--sensitivity-for left it out"
        elif (sensitivity_budget_s is not None
              and time.perf_counter() - t0 > sensitivity_budget_s):
            why = (f"the invocation's time budget of {fmt(sensitivity_budget_s)} s "
                   "(--sensitivity-budget) ran out before it started")
        if why:
            results.append((q, df, finding, not_run(q.sensitivity, costs, df,
                                                    finding.conclusions, why)))
            continue
        seed = int(min(df["sim.seed"])) if "sim.seed" in df else 1

        def make(extra: Sequence[str], q: Question = q, seed: int = seed) -> Sweep:
            return sensitivity_sweep(q, seed, quick=quick, overrides=[*overrides, *extra])

        sens = run_sensitivity(q.name, q.sensitivity, costs, df, finding.conclusions,
                               ANALYSES[q.name], make, out / "sensitivity" / q.name,
                               quick=quick, jobs=jobs, progress=progress,
                               rounds=bisect_rounds)
        results.append((q, df, finding, sens))
        total += sens.runs
        reused += sens.resumed
    wall = time.perf_counter() - t0
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    return write_findings(out, results, quick=quick, wall_s=wall, machine=machine, jobs=jobs,
                          analysed_only=analyse_only,
                          save_figure=save, resumed=(reused, total))

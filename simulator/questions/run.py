"""Run the question sweeps and write ``findings.md`` with its tables and figures."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.config import ConfigError, apply_overrides, read_toml
from simulator.config.bundled import bundled_dir
from simulator.plots.style import save
from simulator.questions.analyses import Finding
from simulator.questions.registry import ANALYSES
from simulator.resources import check_parallel, sweep_driver_bytes
from simulator.sweep import SweepReport, expand_sweep, make_executor, run_sweep

QUESTION_DIR = bundled_dir("questions")
META_KEYS = ("title", "asked_by", "where", "quick", "quick_sweep")


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
                    dict(meta.get("quick_sweep", {})), doc)


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


def run_question(q: Question, out: Path, *, quick: bool, jobs: int,
                 overrides: Sequence[str] = (),
                 progress: bool = False) -> tuple[pd.DataFrame, SweepReport]:
    """Run (or resume) a question's sweep; return its sweep.csv as a frame, and the report."""
    doc = apply_overrides(q.doc, [*(q.quick if quick else ()), *overrides])
    if quick and q.quick_sweep:
        # shorter lists for the swept keys, e.g. fewer vCPU counts (seeds stay at 3)
        doc["sweep"] = {**doc.get("sweep", {}), **q.quick_sweep}
    sweep = expand_sweep(doc, str(q.path))
    # the driver and --jobs runs at once on this machine, as `sweep` checks them
    check_parallel([p.scenario for p in sweep.points], None, jobs,
                   driver=sweep_driver_bytes(len(sweep.points)))
    report = run_sweep(sweep, out, make_executor("local", jobs), resume=True,
                       progress=progress)
    return pd.DataFrame(report.rows), report


def run_questions(out: Path, *, quick: bool = False, jobs: int | None = None,
                  only: Sequence[str] = (), overrides: Sequence[str] = (),
                  progress: bool = False) -> Path:
    """Run every question and write ``out/findings.md``; returns its path.

    Raises QuestionsFailed (after running every question) if any run failed.
    """
    from simulator.questions.findings import write_findings

    jobs = jobs or os.cpu_count() or 1
    t0 = time.perf_counter()
    results: list[tuple[Question, pd.DataFrame, Finding]] = []
    failed: list[str] = []
    for q in select(load_questions(), only):
        _, report = run_question(q, out, quick=quick, jobs=jobs, overrides=overrides,
                                 progress=progress)
        if report.failed:
            failed.append(f"{q.name}: {report.failed} of {len(report.sweep.points)} runs "
                          f"failed (see {report.errors_path})")
            continue
        df = pd.read_csv(report.csv_path)
        results.append((q, df, ANALYSES[q.name](df)))
    if failed:
        raise QuestionsFailed("; ".join(failed) + "; findings.md not written")
    wall = time.perf_counter() - t0
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    return write_findings(out, results, quick=quick, wall_s=wall, machine=machine, jobs=jobs,
                          save_figure=save)

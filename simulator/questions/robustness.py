"""The sensitivity pass of a question: re-run its sweep with the uncertain constants moved.

A question file names the cost constants its answer depends on (``[question] sensitivity =
["costs.notifier_call_ns", ...]``); their values and plausible ranges come from
:func:`simulator.costs.cost_ranges` (a name the cost model does not have is listed as missing,
so the files can name the constants of several cost models). The pass runs, with the first
of the question's seeds:

1. each constant at the low and at the high end of its range (one at a time);
2. a seeded Latin-hypercube sample over all of them (:data:`LHS_POINTS`);
3. for every one-at-a-time flip, a few bisection rounds between the committed value and the
   end where it flipped, so the verdict can say where.

All the runs of one step go to a single sweep (``<out>/sensitivity/<question>/``; complete runs
are resumed), and the question's analysis re-evaluates its conclusions on each point's runs.
The nominal is the same analysis on the main run's first seed, so a verdict compares like
with like.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.costs import cost_ranges
from simulator.output import atomic_write
from simulator.questions.analyses import Finding
from simulator.questions.estimate import sig
from simulator.questions.sensitivity import (
    Conclusion,
    Point,
    Uncertain,
    Verdict,
    judge,
    latin_hypercube,
    one_at_a_time,
    refine,
)
from simulator.sweep import make_executor, run_sweep
from simulator.sweep.expand import Sweep, SweepPoint

LHS_POINTS = {True: 2, False: 4}
"""Latin-hypercube points over all the declared constants, quick and full."""
REFINE_ROUNDS = {True: 0, False: 1}
"""Bisection rounds per one-at-a-time flip, quick and full."""
QUICK_OAT = 1
"""The quick mode moves only the first declared constant one at a time (the files list the
most important first); its Latin-hypercube points still move all of them."""


@dataclass(slots=True)
class Sensitivity:
    """What the pass found for one question."""

    constants: list[Uncertain]
    missing: list[str]
    seed: int
    nominal: list[Conclusion] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    values: dict[str, dict[str, Conclusion]] = field(default_factory=dict)
    """Per point label, its conclusions by key."""
    runs: int = 0
    failed: int = 0
    resumed: int = 0
    """Runs found complete from an earlier invocation (not run again)."""
    rounds: int = 0
    """Bisection rounds per one-at-a-time flip (0: a threshold is only bracketed)."""

    @property
    def refined(self) -> bool:
        return self.rounds > 0
    oat: list[Uncertain] = field(default_factory=list)
    """The constants moved one at a time."""
    skipped: str = ""
    """Why the pass did not run (empty when it ran)."""

    def seed_point(self) -> Point:
        return Point(f"committed constants, seed {self.seed}", (), "seed")

    def answer(self) -> list[Verdict]:
        """The verdicts of the conclusions that hold at the committed values."""
        return [v for v in self.verdicts if v.holds_nominal]

    def verdict_table(self, unresolved: set[str]) -> pd.DataFrame:
        rows = []
        for v in self.answer():
            seen = [c.value for p in self.values.values() if (c := p.get(v.key))]
            nominal = next(c.value for c in self.nominal if c.key == v.key)
            rows.append({"conclusion": v.claim, "value (change %, or share %)":
                         sig(nominal, 3),
                         "range over the points": (f"{sig(min(seen), 3)} to {sig(max(seen), 3)}"
                                                   if seen else "-"),
                         "points": str(v.points),
                         "seeds resolve it": "no" if v.key in unresolved else "yes",
                         "verdict": verdict_text(v, self.refined)})
        return pd.DataFrame(rows)

    def point_table(self) -> pd.DataFrame:
        answer = {v.key: v.claim for v in self.answer()}
        rows = []
        for p in self.points:
            row = {"point": p.label, "kind": p.kind}
            set_ = dict(p.values)
            for u in self.constants:
                row[u.key] = sig(set_[u.key], 3) if u.key in set_ else ""
            got = self.values.get(p.label, {})
            fails = [answer[k] for k in answer if k in got and not got[k].holds]
            row["conclusions that fail here"] = ("; ".join(fails) if fails else
                                                 "none" if got else "(runs failed)")
            rows.append(row)
        return pd.DataFrame(rows)

    def constant_table(self) -> pd.DataFrame:
        rows = [{"constant": u.key, "committed": sig(u.value, 3), "low": sig(u.lo, 3),
                 "high": sig(u.hi, 3), "source": u.tag} for u in self.constants]
        rows += [{"constant": k, "committed": "-", "low": "-", "high": "-",
                  "source": "not in this cost model"} for k in self.missing]
        return pd.DataFrame(rows)


def uncertain(keys: Sequence[str], costs: Any = None) -> tuple[list[Uncertain], list[str]]:
    """The declared constants with their ranges (values from ``costs``, a CostConfig), and the
    declared names this cost model does not have."""
    ranges = cost_ranges(costs)
    found, missing = [], []
    for key in keys:
        name = key.removeprefix("costs.")
        if name not in ranges:
            missing.append(key)
            continue
        value, lo, hi, tag = ranges[name]
        if lo < hi:
            found.append(Uncertain(f"costs.{name}", value, lo, hi, tag))
    return found, missing


def lhs_seed(name: str) -> int:
    """A fixed seed per question, so the Latin-hypercube sample is reproducible."""
    return zlib.crc32(name.encode())


class Runner:
    """Runs batches of points of one question as single sweeps and evaluates them."""

    def __init__(self, make_sweep: Callable[[Sequence[str]], Sweep], folder: Path, jobs: int,
                 analysis: Callable[[pd.DataFrame], Finding], progress: bool) -> None:
        self.make_sweep, self.folder, self.jobs = make_sweep, folder, jobs
        self.analysis, self.progress = analysis, progress
        self.runs = self.failed = self.resumed = 0
        self.frames: list[pd.DataFrame] = []

    def __call__(self, points: Sequence[Point]) -> dict[Point, list[Conclusion]]:
        merged: list[SweepPoint] = []
        owners: dict[str, list[str]] = {}
        base: Sweep | None = None
        for point in points:
            sweep = self.make_sweep(point.overrides())
            base = base or sweep
            for sp in sweep.points:
                if sp.run_id not in owners:
                    owners[sp.run_id] = []
                    merged.append(dataclasses.replace(sp, run_index=len(merged)))
                owners[sp.run_id].append(point.label)
        if base is None:
            return {}
        whole = Sweep(name=base.name, source=base.source, keys=base.keys, points=tuple(merged))
        report = run_sweep(whole, self.folder, make_executor("local", self.jobs), resume=True,
                           progress=self.progress)
        self.runs += len(merged)
        self.failed += report.failed
        self.resumed += report.resumed
        df = pd.read_csv(report.csv_path)
        out: dict[Point, list[Conclusion]] = {}
        for point in points:
            ids = [rid for rid, labels in owners.items() if point.label in labels]
            sub = df[df["run_id"].isin(ids)]
            if sub.empty or ("status" in sub and not (sub["status"] == "ok").any()):
                continue
            out[point] = self.analysis(sub).conclusions
            label = pd.DataFrame({"sensitivity point": [point.label] * len(sub)},
                                 index=sub.index)
            self.frames.append(pd.concat([label, sub], axis=1))
        return out

    def write_runs(self) -> Path | None:
        """Every point's runs in one table (``sensitivity_runs.csv``, a ``sensitivity
        point`` column naming the point), beside the last batch's ``sweep.csv``."""
        if not self.frames:
            return None
        path = self.folder / "sensitivity_runs.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, pd.concat(self.frames, ignore_index=True).to_csv(index=False))
        return path


Evaluate = Callable[[Sequence[Point]], Mapping[Point, Sequence[Conclusion]]]


def sensitivity_pass(name: str, constants: Sequence[Uncertain], missing: Sequence[str],
                     nominal_df: pd.DataFrame, nominal: Sequence[Conclusion],
                     analysis: Callable[[pd.DataFrame], Finding], evaluate: Evaluate, *,
                     quick: bool, rounds: int | None = None) -> Sensitivity:
    """Judge ``nominal`` (the question's conclusions over all its seeds) at every point:
    one at a time, the Latin-hypercube sample, then bisection of each one-at-a-time flip.
    ``evaluate`` runs a batch of points and returns each point's conclusions.

    The first seed alone at the committed constants is a point too: a conclusion it already
    contradicts is within seed noise, and one seed per point cannot say what the constants
    do to it (:func:`verdict_text`)."""
    seed = int(min(nominal_df["sim.seed"])) if "sim.seed" in nominal_df else 1
    result = Sensitivity(list(constants), list(missing), seed, list(nominal))
    first = nominal_df[nominal_df["sim.seed"] == seed] if "sim.seed" in nominal_df else nominal_df
    seed_point = result.seed_point()
    results: dict[Point, Sequence[Conclusion]] = {seed_point: analysis(first).conclusions}
    result.points = [seed_point]

    def recorded(points: Sequence[Point]) -> Mapping[Point, Sequence[Conclusion]]:
        got = evaluate(points)
        for point, found in got.items():
            result.values[point.label] = {c.key: c for c in found}
        return got

    result.values[seed_point.label] = {c.key: c for c in results[seed_point]}
    result.oat = list(constants[:QUICK_OAT] if quick else constants)
    result.rounds = REFINE_ROUNDS[quick] if rounds is None else rounds
    if constants:
        points = one_at_a_time(result.oat) + latin_hypercube(constants, LHS_POINTS[quick],
                                                             lhs_seed(name))
        results |= recorded(points)
        result.points += points
    result.verdicts = judge(result.nominal, results, constants)
    if constants:
        refine(result.verdicts, recorded, result.rounds)
    result.runs = int(getattr(evaluate, "runs", 0))
    result.failed = int(getattr(evaluate, "failed", 0))
    result.resumed = int(getattr(evaluate, "resumed", 0))
    return result


def not_run(keys: Sequence[str], costs: Any, nominal_df: pd.DataFrame,
            nominal: Sequence[Conclusion], why: str) -> Sensitivity:
    """A pass that did not run: the constants it would move, and why."""
    constants, missing = uncertain(keys, costs)
    seed = int(min(nominal_df["sim.seed"])) if "sim.seed" in nominal_df else 1
    result = Sensitivity(constants, missing, seed, list(nominal), skipped=why)
    result.verdicts = judge(result.nominal, {}, constants)
    return result


def run_sensitivity(name: str, keys: Sequence[str], costs: Any, nominal_df: pd.DataFrame,
                    nominal: Sequence[Conclusion], analysis: Callable[[pd.DataFrame], Finding],
                    make_sweep: Callable[[Sequence[str]], Sweep], folder: Path, *,
                    quick: bool, jobs: int, progress: bool, rounds: int | None = None
                    ) -> Sensitivity:
    """The sensitivity pass of one question over the constants ``keys`` names, run as sweeps
    (``make_sweep(overrides)`` gives its one-seed sweep with the overrides applied)."""
    constants, missing = uncertain(keys, costs)
    runner = Runner(make_sweep, folder, jobs, analysis, progress)
    result = sensitivity_pass(name, constants, missing, nominal_df, nominal, analysis, runner,
                              quick=quick, rounds=rounds)
    runner.write_runs()
    return result


def seed_noise(v: Verdict) -> bool:
    """The first seed alone, at the committed constants, contradicts the conclusion."""
    return any(p.kind == "seed" for p, _ in v.flips)


def verdict_text(v: Verdict, refined: bool = True) -> str:
    """``"holds over the plausible range (N runs)"``, where it flips, or that it is within
    seed noise (then one seed per point cannot say what the constants do). Without
    bisection (``refined`` false) a flip is only bracketed, and the text says so."""
    if v.points == 0:
        return "not checked: the sensitivity pass did not run"
    if seed_noise(v):
        return ("within seed noise: the first seed alone, at the committed constants, "
                "already contradicts it, so one-seed sensitivity runs cannot judge it")
    if v.points <= 1:
        return "not checked: no sensitivity run has this configuration"
    if refined or not v.thresholds:
        return v.sentence()
    parts = []
    for (key, way), (ok, bad) in sorted(v.thresholds.items()):
        word = "exceeds" if way == "up" else "falls below"
        lo, hi = sorted((ok, bad))
        parts.append(f"flips when {key} {word} a value between {sig(lo, 3)} and {sig(hi, 3)}")
    joint = sum(p.kind == "lhs" for p, _ in v.flips)
    if joint:
        parts.append(f"and at {joint} Latin-hypercube point(s)")
    return "; ".join(parts)


def _brief(v: Verdict) -> str:
    if seed_noise(v):
        return "is within seed noise"
    if v.points <= 1:
        return "was not checked"
    names = sorted({key for key, _ in v.thresholds})
    if names:
        return "flips with " + ", ".join(f"`{k}`" for k in names)
    return f"flips at {len(v.flips)} joint (Latin-hypercube) point(s)"


def robustness(s: Sensitivity, unresolved: set[str]) -> str:
    """How robust a question's answer is, in a sentence or two, for the summary."""
    answer = s.answer()
    if s.skipped:
        return f"Not checked: its sensitivity pass did not run ({s.skipped})."
    if not s.constants:
        return "No sensitivity pass: none of its declared constants is in this cost model."
    names = ", ".join(f"`{u.key}`" for u in s.constants)
    robust = [v for v in answer if v.robust and v.points > 1]
    text = (f"{len(robust)} of its {len(answer)} conclusions hold over the plausible ranges of "
            f"{names} ({len(s.points)} sensitivity points, {s.runs} runs)")
    flips = [v for v in answer if not v.robust]
    if flips:
        text += "; " + "; ".join(f"'{v.claim}' {_brief(v)}" for v in flips[:3])
        if len(flips) > 3:
            text += f"; and {len(flips) - 3} more"
        if any(v.thresholds and not seed_noise(v) for v in flips):
            text += " (thresholds in the question's sensitivity verdicts)"
    noisy = [v for v in answer if v.key in unresolved]
    text += "."
    if len(noisy) == 1:
        text += (" One conclusion rests on an effect the seeds do not resolve; its verdict is "
                 "as noisy as the effect.")
    elif noisy:
        text += (f" {len(noisy)} conclusions rest on effects the seeds do not resolve; their "
                 "verdicts are as noisy as the effects.")
    return text


__all__ = [
    "LHS_POINTS",
    "REFINE_ROUNDS",
    "Evaluate",
    "Sensitivity",
    "lhs_seed",
    "robustness",
    "run_sensitivity",
    "seed_noise",
    "sensitivity_pass",
    "uncertain",
    "verdict_text",
]

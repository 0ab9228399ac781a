"""``mglru-sim questions``: run the review-question sweeps and write findings.md."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simulator.cli.args import Subparsers, add_jobs, add_set


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "questions", help="answer the series' open review questions: findings.md + figures",
        description="Run every bundled questions/*.toml sweep (3 seeds each), then each "
                    "question's sensitivity pass over the plausible ranges of the cost "
                    "constants its answer rests on, and write findings.md: a one-page "
                    "summary, generated answers with 95% intervals, tables, figures and each "
                    "conclusion's sensitivity verdict. Complete runs in --out are reused.")
    p.add_argument("--out", default="results/questions", help="output folder")
    p.add_argument("--quick", action="store_true", help="reduced sizes (CI)")
    add_jobs(p, "parallel runs (default: the number of cores)")
    p.add_argument("--only", action="append", default=[], metavar="NAME",
                   help="run only this question (a name, e.g. q3_nested_blindness, or a unique "
                        "prefix, e.g. q3); repeatable; an unknown name is an error")
    add_set(p, "override a key in every question's base scenario")
    p.add_argument("--sensitivity-budget", type=float, default=None, metavar="SECONDS",
                   help="start no sensitivity pass after this many seconds (the questions' "
                        "own sweeps always run first and in full); a pass not started is "
                        "reported as not run. Default: no limit")
    p.add_argument("--sensitivity-for", action="append", default=None, metavar="NAME",
                   help="run the sensitivity pass only for this question (a name or a unique "
                        "prefix); repeatable; the others are reported as not run. Default: "
                        "every question")
    p.add_argument("--bisect-rounds", type=int, default=None, metavar="N",
                   help="bisection rounds per one-at-a-time flip of a conclusion (default: 0 "
                        "with --quick, where a flip is only bracketed, else 1)")
    p.add_argument("--analyse-only", action="store_true",
                   help="simulate nothing: answer from the sweep tables an earlier run left in "
                        "--out (OUT/<question>/sweep.csv), e.g. after a change to the analyses; "
                        "sensitivity passes are reported as not run")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from simulator.output.paths import probe
    from simulator.questions.run import QuestionsFailed, run_questions

    probe(Path(args.out))
    try:
        path = run_questions(Path(args.out), quick=args.quick, jobs=args.jobs, only=args.only,
                             overrides=args.set, progress=not args.no_progress,
                             sensitivity_budget_s=args.sensitivity_budget,
                             sensitivity_for=args.sensitivity_for,
                             bisect_rounds=args.bisect_rounds,
                             analyse_only=args.analyse_only)
    except QuestionsFailed as e:
        print(f"mglru-sim: error: {e}", file=sys.stderr)
        return 1
    print(f"findings: {path}")
    return 0


__all__ = ["command", "register"]

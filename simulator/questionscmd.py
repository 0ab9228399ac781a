"""``mglru-sim questions``: run the review-question sweeps and write findings.md."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    sp: argparse.ArgumentParser = subparsers.add_parser(
        "questions", help="answer the series' open review questions: findings.md + figures",
        description="Run every scenarios/questions/*.toml sweep (3 seeds each) and write "
                    "findings.md with generated answers, tables, figures and seed spreads.")
    sp.add_argument("--out", default="results/questions", help="output folder")
    sp.add_argument("--quick", action="store_true", help="reduced sizes (CI)")
    sp.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1)
    sp.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="run only this question (e.g. q3_nested_blindness); repeatable")
    sp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a key in every question's base scenario")
    sp.add_argument("--no-progress", action="store_true")
    sp.set_defaults(func=_cmd)


def _cmd(args: argparse.Namespace) -> int:
    from simulator.questions.run import run_questions

    path = run_questions(Path(args.out), quick=args.quick, jobs=args.jobs, only=args.only,
                         overrides=args.set, progress=not args.no_progress)
    print(f"findings: {path}")
    return 0

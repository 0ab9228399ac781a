"""``mglru-sim run``: run one scenario, print its summary, write its run folder and report."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from simulator.cli.args import (
    Subparsers,
    add_max_memory,
    add_out,
    add_scenario,
    add_seed,
    invariant_overrides,
)
from simulator.config import load_scenario

SUMMARY_TABLE = (
    ("run_id", "run id"), ("backend", "backend"), ("notifier", "notifier"),
    ("aging_lock", "aging lock"), ("vcpus", "vCPUs"), ("guest_pages", "guest pages"),
    ("host_pages", "host pages (memcg limit)"), ("sim_time_ns", "simulated time (ns)"),
    ("wall_time_s", "wall time (s)"), ("accesses", "accesses"),
    ("accesses_per_wall_s", "accesses / wall s"), ("aging_passes", "aging passes"),
    ("aging_pass_mean_ns", "aging pass mean (ns)"), ("aging_cpu_ns", "aging CPU (ns)"),
    ("eviction_cpu_ns", "eviction CPU (ns)"), ("notifier_calls", "notifier calls"),
    ("mmu_lock_write_hold_ns", "mmu_lock write hold (ns)"),
    ("vcpu_lock_wait_ns", "vCPU mmu_lock wait (ns)"), ("vcpu_wall_ns", "vCPU wall (ns)"),
    ("faults_first_touch", "first-touch faults"), ("refaults", "refaults"),
    ("evictions", "evictions"), ("rmap_walks", "rmap walks"),
    ("look_arounds", "look-arounds"), ("young_precision", "young precision"),
    ("young_recall", "young recall"), ("young_f1", "young F1"),
    ("young_walk_recall", "young recall (aging walk)"), ("miss_ratio", "miss ratio"),
)
"""The summary columns ``run`` prints, and their labels."""


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        if abs(v) >= 1e6:
            return f"{v:,.0f}"
        return f"{v:.4g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def format_summary(summary: dict[str, Any]) -> str:
    """The readable summary table ``mglru-sim run`` prints."""
    width = max(len(label) for _, label in SUMMARY_TABLE)
    lines = [f"{label:<{width}}  {_fmt(summary.get(key))}" for key, label in SUMMARY_TABLE]
    return "\n".join(lines)


def register(sub: Subparsers) -> None:
    p = sub.add_parser("run", help="run one scenario and write its run folder")
    add_scenario(p, optional=True)
    add_out(p)
    add_seed(p)
    p.add_argument("--no-report", action="store_true",
                   help="skip the figures and report.html")
    p.add_argument("--check-invariants", action="store_true",
                   help="check MGLRU and page-table invariants after every step (slower)")
    add_max_memory(p, "refuse the run if it needs more (default: available memory)")
    p.set_defaults(func=command)


def _report(staging: Path, folder: Path) -> None:
    from simulator.report import write_report

    write_report(staging, shown_as=folder)


def command(args: argparse.Namespace) -> int:
    from simulator.config import run_id_of
    from simulator.output.run_folder import prepare_run_folder
    from simulator.resources import check
    from simulator.runner import run_one

    sc = load_scenario(args.scenario, [*args.set, *invariant_overrides(args.check_invariants)],
                       seed=args.seed)
    check(sc, args.max_memory)
    prepare_run_folder(Path(args.out), sc, run_id_of(sc))
    # the figures and the report are built into the run folder before it is complete
    result, folder = run_one(sc, Path(args.out), finish=None if args.no_report else _report)
    print(f"scenario {sc.name}: {args.scenario}")
    print(format_summary(result.summary))
    print(f"\nrun folder: {folder}")
    if not args.no_report:
        print(f"figures:    {folder / 'figures'}")
        print(f"report:     {folder / 'report.html'}")
    return 0


__all__ = ["SUMMARY_TABLE", "command", "format_summary", "register"]

"""``mglru-sim run``: run one scenario, print its summary, write its run folder and report."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulator import humanize
from simulator.cli.args import (
    Subparsers,
    add_max_memory,
    add_out,
    add_scenario,
    add_seed,
    invariant_overrides,
)
from simulator.config import load_scenario, read_toml
from simulator.config.bundled import resolve_scenario

SUMMARY_TABLE: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("run_id", "run id", str), ("backend", "backend", str), ("notifier", "notifier", str),
    ("aging_lock", "aging lock", str), ("vcpus", "vCPUs", humanize.count),
    ("guest_pages", "guest memory", humanize.pages),
    ("host_pages", "memcg limit", humanize.pages),
    ("sim_time_ns", "simulated time", humanize.duration),
    ("wall_time_s", "wall time", lambda s: humanize.duration(_ns(s))),
    ("accesses", "accesses", humanize.count),
    ("accesses_per_wall_s", "accesses / wall s", humanize.count),
    ("aging_passes", "aging passes", humanize.count),
    ("aging_pass_mean_ns", "aging pass mean", humanize.duration),
    ("aging_cpu_ns", "aging CPU", humanize.duration),
    ("eviction_cpu_ns", "eviction CPU", humanize.duration),
    ("notifier_calls", "notifier calls", humanize.count),
    ("mmu_lock_write_hold_ns", "mmu_lock write hold", humanize.duration),
    ("vcpu_lock_wait_ns", "vCPU mmu_lock wait", humanize.duration),
    ("vcpu_wall_ns", "vCPU wall", humanize.duration),
    ("faults_first_touch", "first-touch faults", humanize.count),
    ("refaults", "refaults", humanize.count), ("evictions", "evictions", humanize.count),
    ("rmap_walks", "rmap walks", humanize.count),
    ("look_arounds", "look-arounds", humanize.count),
    ("young_precision", "young precision", humanize.ratio),
    ("young_recall", "young recall", humanize.ratio), ("young_f1", "young F1", humanize.ratio),
    ("young_walk_recall", "young recall (aging walk)", humanize.ratio),
    ("miss_ratio", "miss ratio", humanize.ratio),
)
"""The summary columns ``run`` prints, their labels and how each is shown (the files keep
integer ns and page counts; the terminal shows ms/s, MiB/GiB and thousands separators)."""


def _ns(seconds: Any) -> float | None:
    return None if seconds is None else float(seconds) * 1e9


def _fmt(v: Any, show: Callable[[Any], str]) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return show(v)


def format_summary(summary: dict[str, Any]) -> str:
    """The readable summary table ``mglru-sim run`` prints."""
    width = max(len(label) for _, label, _ in SUMMARY_TABLE)
    return "\n".join(f"{label:<{width}}  {_fmt(summary.get(key), show)}"
                     for key, label, show in SUMMARY_TABLE)


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


def run_overrides(args: argparse.Namespace) -> list[str]:
    """The ``--set`` list a run's provenance records (``--seed`` and ``--check-invariants``
    as the overrides they stand for)."""
    seed = [] if args.seed is None else [f"sim.seed={args.seed}"]
    return [*args.set, *invariant_overrides(args.check_invariants), *seed]


def command(args: argparse.Namespace) -> int:
    from simulator import progress
    from simulator.config import run_id_of
    from simulator.output.run_folder import prepare_run_folder
    from simulator.provenance import Provenance
    from simulator.resources import check
    from simulator.runner import run_one

    path = resolve_scenario(args.scenario)
    overrides = run_overrides(args)
    sc = load_scenario(path, overrides)
    check(sc, args.max_memory)
    prepare_run_folder(Path(args.out), sc, run_id_of(sc))
    if "sweep" in read_toml(path):
        progress.note(f"mglru-sim: note: {args.scenario} has a [sweep] table; run simulates its "
                      "base scenario (mglru-sim sweep runs every point)")
    end_ms = sc.sim.duration_ms
    with progress.bar(end_ms, f"{sc.name} (simulated)", "ms",
                      bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:,.0f}/{total:,.0f} ms "
                                 "[{elapsed}<{remaining}]") as bar:
        def advance(now_ns: int) -> None:
            bar.update(now_ns / 1e6 - bar.n)

        result, folder = run_one(sc, Path(args.out), Provenance(str(path), tuple(overrides)),
                                 progress=advance if progress.enabled() else None,
                                 # the figures and the report are built into the run folder
                                 # before it is complete
                                 finish=None if args.no_report else _report)
    print(f"scenario {sc.name}: {path}")
    print(format_summary(result.summary))
    print(f"\nrun folder: {folder}")
    if not args.no_report:
        print(f"figures:    {folder / 'figures'}")
        print(f"report:     {folder / 'report.html'}")
    return 0


__all__ = ["SUMMARY_TABLE", "command", "format_summary", "register", "run_overrides"]

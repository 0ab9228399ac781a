"""The ``mglru-sim`` command line (also ``python -m simulator``); thin by design.

Exit codes: 0 ok, 1 a failed check or regression, 2 bad input (one line on stderr naming the
file and key, no traceback).
"""

from __future__ import annotations

import argparse
import math
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simulator.config import ConfigError, describe_keys, load_scenario
from simulator.mm.lruvec import InvariantError
from simulator.resources import ResourceError

DEFAULT_SCENARIO = Path("scenarios/default.toml")
SCENARIO_DIR = Path("scenarios")


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


def format_summary(summary: dict[str, Any]) -> str:
    """The readable summary table ``mglru-sim run`` prints."""
    width = max(len(label) for _, label in SUMMARY_TABLE)
    lines = [f"{label:<{width}}  {_fmt(summary.get(key))}" for key, label in SUMMARY_TABLE]
    return "\n".join(lines)


def _cmd_run(args: argparse.Namespace) -> int:
    from simulator.resources import check
    from simulator.runner import run_one

    extra = ["sim.check_invariants=true"] if args.check_invariants else []
    sc = load_scenario(args.scenario, [*args.set, *extra], seed=args.seed)
    check(sc, args.max_memory)
    result, folder = run_one(sc, Path(args.out))
    print(f"scenario {sc.name}: {args.scenario}")
    print(format_summary(result.summary))
    print(f"\nrun folder: {folder}")
    if not args.no_report:
        from simulator.report import write_report

        report = write_report(folder)
        print(f"figures:    {report.parent / 'figures'}")
        print(f"report:     {report}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    sc = load_scenario(args.scenario, args.set)
    print(f"{args.scenario}: ok (scenario {sc.name!r}, {sc.guest_pages} guest pages, "
          f"{sc.task_pages} host-task pages, memcg limit {sc.host_pages} pages)")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    rows: list[tuple[str, str]]
    if args.what == "backends":
        from simulator.kvm.backends import describe_backends
        rows = describe_backends()
    elif args.what == "workloads":
        from workloads import describe_workloads
        rows = describe_workloads()
    elif args.what == "kernels":
        from simulator.kernels import describe_kernels, markdown
        if args.markdown:
            print(markdown(), end="")
            return 0
        rows = describe_kernels()
    elif args.what == "scenarios":
        from simulator.config import read_toml
        rows = []
        for path in sorted(SCENARIO_DIR.rglob("*.toml")):
            doc = read_toml(path)
            rows.append((str(path), str(doc.get("description", "")).strip().splitlines()[0]
                         if doc.get("description") else ""))
    else:  # keys
        rows = [(k, f"{d}  {doc}") for k, d, doc in describe_keys()]
    width = max((len(n) for n, _ in rows), default=0)
    for name, desc in rows:
        print(f"{name:<{width}}  {desc}")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit 2 (no usage dump)."""

    def error(self, message: str) -> typing.NoReturn:
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mglru-sim", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def scenario_args(sp: argparse.ArgumentParser, optional: bool) -> None:
        if optional:
            sp.add_argument("scenario", nargs="?", default=str(DEFAULT_SCENARIO),
                            help="scenario TOML (default: scenarios/default.toml)")
        else:
            sp.add_argument("scenario", help="scenario TOML")
        sp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a scenario key (dotted), e.g. vm.vcpus=4")

    run = sub.add_parser("run", help="run one scenario and write its run folder")
    scenario_args(run, optional=True)
    run.add_argument("--out", default="results", help="results root (default: results)")
    run.add_argument("--seed", type=int, default=None, help="override sim.seed")
    run.add_argument("--no-report", action="store_true",
                     help="skip the figures and report.html")
    run.add_argument("--check-invariants", action="store_true",
                     help="check MGLRU and page-table invariants after every step (slower)")
    run.add_argument("--max-memory", default=None, metavar="SIZE",
                     help="refuse the run if it needs more (default: available memory)")
    run.set_defaults(func=_cmd_run)

    val = sub.add_parser("validate", help="parse and check a scenario only")
    scenario_args(val, optional=False)
    val.set_defaults(func=_cmd_validate)

    ls = sub.add_parser("list", help="list backends, workloads, kernels, scenarios or scenario "
                                     "keys")
    ls.add_argument("what", choices=("backends", "workloads", "kernels", "scenarios", "keys"))
    ls.add_argument("--markdown", action="store_true",
                    help="kernels: the tables of docs/kernels.md")
    ls.set_defaults(func=_cmd_list)

    # Further commands live in their own modules, each with register(subparsers).
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return p


COMMAND_MODULES: tuple[str, ...] = ("simulator.sweepcmd", "simulator.plotcmd",
                                     "simulator.tracecmd", "simulator.mrccmd",
                                     "simulator.questionscmd", "simulator.benchcmd",
                                     "simulator.selftest.cmd")
"""Modules that add subcommands: each defines ``register(subparsers)`` and sets ``func``."""


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        rc: int = args.func(args)
    except (ConfigError, ResourceError) as e:
        print(f"mglru-sim: error: {e}", file=sys.stderr)
        return 2
    except InvariantError as e:
        print(f"mglru-sim: invariant violated: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `mglru-sim ... | head`: the reader went away; not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("mglru-sim: interrupted", file=sys.stderr)
        return 130
    return rc

"""``mglru-sim sweep``: expand a scenario's ``[sweep]`` table and run every point.

Thin on purpose: expansion, executors, resume and the tables live in :mod:`simulator.sweep`.
The exit code is the number of failed runs (capped at 125), 2 for bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from simulator.config import parse_override

if TYPE_CHECKING:
    from simulator.sweep import Sweep


def register(subparsers: Any) -> None:
    """Add the ``sweep`` subcommand to the CLI's subparsers."""
    sp: argparse.ArgumentParser = subparsers.add_parser(
        "sweep", help="expand [sweep], run every point, write run folders and sweep.csv",
        description="Run every point of a scenario's [sweep] table (cartesian product, plus "
                    "[sweep.zip] keys that vary together) and collect OUT/<scenario>/sweep.csv.")
    sp.add_argument("scenario", help="scenario TOML with a [sweep] table")
    sp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a key of the base scenario before expansion (swept values "
                         "still win)")
    sp.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, metavar="N",
                    help="parallel runs: local processes or LocalCluster workers "
                         "(default: the number of cores; 1 runs in this process)")
    sp.add_argument("--engine", choices=("local", "dask"), default="local",
                    help="local process pool (default) or dask.distributed")
    sp.add_argument("--address", default=None, metavar="tcp://HOST:PORT",
                    help="Dask scheduler to use (default with --engine dask: a LocalCluster "
                         "of --jobs workers)")
    sp.add_argument("--shared-out", action="store_true",
                    help="with --address: OUT is the same shared directory on every worker, "
                         "so workers write run folders themselves instead of sending them back")
    sp.add_argument("--out", default="results", help="results root (default: results)")
    sp.add_argument("--resume", action="store_true",
                    help="skip runs whose folder is complete; redo the rest")
    sp.add_argument("--dry-run", action="store_true",
                    help="list the runs (index, id, varied values) and exit")
    sp.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    sp.add_argument("--no-report", action="store_true",
                    help="skip the comparison figures and report.html")
    sp.add_argument("--check-invariants", action="store_true",
                    help="check MGLRU and page-table invariants after every step (slower)")
    sp.add_argument("--max-memory", default=None, metavar="SIZE",
                    help="refuse the sweep if its parallel runs need more (default: the "
                         "machine's available memory)")
    sp.set_defaults(func=_cmd_sweep)


def _warn_shadowed(sweep: Sweep, overrides: list[str]) -> None:
    """``--set`` changes the base, so a swept key's --set value never reaches any run."""
    for text in overrides:
        key, _ = parse_override(text)
        if key in sweep.keys:
            print(f"mglru-sim: warning: --set {key}: the key is swept; its [sweep] values "
                  "replace this one", file=sys.stderr)


def _print_runs(sweep: Sweep) -> None:
    for p in sweep.points:
        shown = "  ".join(f"{k}={v}" for k, v in p.factors.items())
        print(f"{p.run_index:>4}  {p.run_id}  {shown}".rstrip())


def _cmd_sweep(args: argparse.Namespace) -> int:
    # Imported here so that building the parser (every command) does not load the model.
    from simulator.resources import check, estimate
    from simulator.sweep import exit_code, load_sweep, make_executor, run_sweep

    extra = ["sim.check_invariants=true"] if args.check_invariants else []
    sweep = load_sweep(args.scenario, [*args.set, *extra])
    _warn_shadowed(sweep, args.set)
    if sweep.points and args.engine == "local":
        biggest = max((p.scenario for p in sweep.points), key=lambda s: estimate(s).bytes)
        check(biggest, args.max_memory, copies=min(args.jobs, len(sweep.points)))
    if args.dry_run:
        _print_runs(sweep)
        return 0
    executor = make_executor(args.engine, args.jobs, args.address)
    remote = args.engine == "dask" and args.address is not None
    report = run_sweep(sweep, args.out, executor, resume=args.resume,
                       worker_writes=args.shared_out or not remote,
                       progress=not args.no_progress)
    ok = len(sweep.points) - report.failed
    print(f"sweep {sweep.name}: {len(sweep.points)} runs, {ok} ok, {report.failed} failed "
          f"({report.executed} run now, {report.resumed} resumed)")
    print(f"table: {report.csv_path}")
    if report.parquet_path is not None:
        print(f"table: {report.parquet_path}")
    if report.errors_path is not None:
        print(f"errors: {report.errors_path}", file=sys.stderr)
    if not args.no_report and ok:
        from simulator.report import write_report

        page = write_report(report.csv_path.parent)
        print(f"report: {page}")
    return exit_code(report)

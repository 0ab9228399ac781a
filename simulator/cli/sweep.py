"""``mglru-sim sweep``: expand a scenario's ``[sweep]`` table and run every point.

Expansion, executors, resume and the tables live in :mod:`simulator.sweep`. The exit code is the
number of failed runs (capped at 125), 2 for bad input.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from simulator.cli.args import (
    Subparsers,
    add_jobs,
    add_max_memory,
    add_out,
    add_set,
    invariant_overrides,
)

if TYPE_CHECKING:
    from simulator.sweep import Sweep


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "sweep", help="expand [sweep], run every point, write run folders and sweep.csv",
        description="Run every point of a scenario's [sweep] table (cartesian product, plus "
                    "[sweep.zip] keys that vary together) and collect OUT/<scenario>/sweep.csv.")
    p.add_argument("scenario", help="scenario TOML with a [sweep] table (or a bundled "
                   "scenario's name), or any scenario with --set KEY=[V1,V2,...] lists")
    add_set(p, "override a key of the base scenario before expansion (swept values still "
               "win); a list KEY=[V1,V2,...] sweeps KEY over its values (a quick sweep "
               "without a sweep file; it replaces a list the file sweeps)")
    add_jobs(p, "parallel runs: local processes or LocalCluster workers (default: the number "
                "of cores; 1 runs in this process)")
    p.add_argument("--engine", choices=("local", "dask"), default="local",
                   help="local process pool (default) or dask.distributed")
    p.add_argument("--address", default=None, metavar="tcp://HOST:PORT",
                   help="Dask scheduler to use (default with --engine dask: a LocalCluster "
                        "of --jobs workers)")
    p.add_argument("--shared-out", action="store_true",
                   help="with --address: OUT is the same shared directory on every worker, "
                        "so workers write run folders themselves instead of sending them back")
    add_out(p)
    p.add_argument("--resume", action="store_true",
                   help="skip runs whose folder is complete; redo the rest")
    p.add_argument("--dry-run", action="store_true",
                   help="list the runs (index, id, varied values) and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--no-report", action="store_true",
                   help="skip the comparison figures and report.html")
    p.add_argument("--check-invariants", action="store_true",
                   help="check MGLRU and page-table invariants after every step (slower)")
    add_max_memory(p, "refuse the sweep if its parallel runs need more (default: the "
                      "machine's available memory)")
    p.set_defaults(func=command)


def _print_runs(sweep: Sweep) -> None:
    for p in sweep.points:
        shown = "  ".join(f"{k}={v}" for k, v in p.factors.items())
        print(f"{p.run_index:>4}  {p.run_id}  {shown}".rstrip())


def command(args: argparse.Namespace) -> int:
    # Imported here so that building the parser (every command) does not load the model.
    from simulator.config import split_lists
    from simulator.config.bundled import resolve_scenario
    from simulator.provenance import Provenance
    from simulator.resources import check_parallel, sweep_driver_bytes
    from simulator.sweep import exit_code, load_sweep, make_executor, run_sweep, shadowed

    single, lists = split_lists(args.set)
    overrides = [*single, *invariant_overrides(args.check_invariants)]
    sweep = load_sweep(args.scenario, overrides, lists)
    for key in shadowed(sweep, single):
        print(f"mglru-sim: warning: --set {key}: the key is swept; its [sweep] values "
              "replace this one", file=sys.stderr)
    if args.engine == "local":  # the driver and --jobs runs at once on this machine
        check_parallel([p.scenario for p in sweep.points], args.max_memory, args.jobs,
                       driver=sweep_driver_bytes(len(sweep.points)))
    if args.dry_run:
        _print_runs(sweep)
        return 0
    executor = make_executor(args.engine, args.jobs, args.address)
    remote = args.engine == "dask" and args.address is not None
    provenance = Provenance(str(resolve_scenario(args.scenario)), tuple(args.set))
    report = run_sweep(sweep, args.out, executor, resume=args.resume,
                       worker_writes=args.shared_out or not remote,
                       progress=not args.no_progress, provenance=provenance)
    ok = len(sweep.points) - report.failed
    print(f"sweep {sweep.name}: {len(sweep.points)} runs, {ok} ok, {report.failed} failed "
          f"({report.executed} run now, {report.resumed} resumed)")
    print(f"table: {report.csv_path}")
    if report.parquet_path is not None:
        print(f"table: {report.parquet_path}")
    for path in report.long_tables:
        print(f"table: {path}")
    if report.errors_path is not None:
        print(f"errors: {report.errors_path}", file=sys.stderr)
    if not args.no_report and ok:
        from simulator.report import write_report

        print(f"report: {write_report(report.csv_path.parent)}")
    return exit_code(report)


__all__ = ["command", "register"]

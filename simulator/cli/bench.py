"""``mglru-sim bench``: run a benchmark suite and compare it with a stored baseline.

    mglru-sim bench [--suite ci|perf] [--baseline FILE] [--tolerance PCT] [--update-baseline]
                    [--json OUT] [--markdown OUT] [--perf-gate] [--perf-tolerance PCT]
                    [--only NAME]... [--set KEY=VALUE]... [--jobs N] [--changes-only]

Exit codes: 0 ok; 1 a deterministic metric moved beyond the tolerance, a baseline case did not
run, a case crashed, or (with ``--perf-gate``) a performance figure got slower than allowed or a
perf target was not met; 2 bad input (a scenario, ``--set``, or an unreadable baseline).
``docs/performance.md`` describes the suites, the metrics and the gating rules.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simulator.bench.baseline import baseline_path, environment_changes, load_baseline, merged
from simulator.bench.compare import (
    BaselineError,
    BenchResults,
    Comparison,
    compare,
    write_json_atomic,
)
from simulator.bench.report import comparison_text, json_document, markdown, targets_text, verdict
from simulator.bench.suites import CI_SCENARIOS, SUITES, run_suite
from simulator.cli.args import Subparsers, add_jobs, add_set, number
from simulator.config import ConfigError
from simulator.output import atomic_write
from simulator.output.paths import probe_file
from simulator.progress import note as progress_note

MAX_PCT = 1e6
"""The largest tolerance in percent (beyond it nothing is gated)."""


def register(sub: Subparsers) -> None:
    """Add the ``bench`` subcommand to the CLI's subparsers."""
    p = sub.add_parser(
        "bench", help="run the benchmark suite; exit 1 on a regression against the baseline",
        description="Run a benchmark suite (ci: scenarios/ci/*.toml, deterministic metrics "
                    "gated against a baseline; perf: the performance targets) and print every "
                    "metric against the baseline.")
    p.add_argument("--suite", choices=SUITES, default="ci", help="which suite (default: ci)")
    p.add_argument("--baseline", metavar="FILE", default=None,
                   help="baseline JSON to compare with (default: results/baselines/SUITE.json "
                        "if it exists)")
    p.add_argument("--tolerance", metavar="PCT", type=number(float, 0.0, MAX_PCT), default=0.0,
                   help="how far a deterministic metric may move, in percent of its baseline "
                        "(default 0: exact, floats up to rounding noise)")
    p.add_argument("--update-baseline", action="store_true",
                   help="write this run's results as the baseline (atomically); exit 0")
    p.add_argument("--json", metavar="OUT", default=None,
                   help="also write the results and the comparison as JSON")
    p.add_argument("--markdown", metavar="OUT", default=None,
                   help="also write the report as Markdown")
    p.add_argument("--perf-gate", action="store_true",
                   help="also fail when a performance figure is slower than the baseline by "
                        "more than --perf-tolerance, or (perf suite) a target is not met")
    p.add_argument("--perf-tolerance", metavar="PCT", type=number(float, 0.0, MAX_PCT),
                   default=25.0,
                   help="with --perf-gate: allowed slowdown in percent (default 25)")
    p.add_argument("--only", action="append", default=[], metavar="NAME",
                   help="run only this case (repeatable; ci: a scenario name or file stem; "
                        "perf: trace, aging or guest)")
    add_set(p, "override a scenario key in every ci scenario (perf: the 64 GiB guest)")
    p.add_argument("--scenarios", metavar="DIR", default=str(CI_SCENARIOS),
                   help="ci: the folder of scenario files (default: scenarios/ci)")
    add_jobs(p, "ci: cases run in parallel (default 1, for undisturbed timings)", default=1)
    p.add_argument("--trace", metavar="FILE", default=None,
                   help="perf: the CloudPhysics oracleGeneral trace (default: "
                        "data/cloudPhysicsIO.oracleGeneral.bin of the repository)")
    p.add_argument("--changes-only", action="store_true",
                   help="print only metrics that are not unchanged (performance always shown)")
    p.set_defaults(func=command)


def _progress(line: str) -> None:
    progress_note(line)  # stderr, through the bar; nothing with --quiet


def command(args: argparse.Namespace) -> int:
    path = baseline_path(args.suite, args.baseline)
    for output in (args.json, args.markdown, path if args.update_baseline else None):
        if output is not None:  # an unwritable output fails now, not after the suite
            probe_file(output)
    try:
        baseline = load_baseline(path, args.suite, named=args.baseline is not None,
                                 updating=args.update_baseline)
        results = run_suite(args.suite, only=args.only, overrides=args.set,
                            scenarios=Path(args.scenarios), jobs=args.jobs,
                            trace=Path(args.trace) if args.trace else None, progress=_progress)
    except BaselineError as e:
        print(f"mglru-sim: error: {e}", file=sys.stderr)
        return 2
    except ConfigError:
        raise  # bad input: the CLI prints it (exit 2)
    except Exception as e:  # a case crashed: a failed check, reported in one line
        print(f"mglru-sim: error: a bench case failed: {type(e).__name__}: {e}",
              file=sys.stderr)
        return 1
    # with --only, baseline cases that were not asked for are not "missing"
    only = frozenset(results.cases) if args.only else None
    cmp = compare(baseline, results, tolerance_pct=args.tolerance, perf_gate=args.perf_gate,
                  perf_tolerance_pct=args.perf_tolerance, only=only)
    rc = _print_report(args, cmp, results, baseline, path)
    if args.update_baseline:
        written = write_json_atomic(path, merged(baseline, results, bool(args.only)).to_json())
        print(f"baseline written: {written}")
        rc = 0
    _write_outputs(args, cmp, results, str(path) if baseline else None, rc)
    return rc


def _print_report(args: argparse.Namespace, cmp: Comparison, results: BenchResults,
                  baseline: BenchResults | None, path: Path) -> int:
    """The table, the targets and the verdict on stdout; returns the exit code."""
    if baseline is not None:
        print(f"baseline: {path} ({baseline.created_utc}, "
              f"{baseline.environment.get('cpu', '?')})")
        differ = environment_changes(baseline, results)
        if differ:
            print("note: this run's environment differs from the baseline's ("
                  + "; ".join(differ) + "): a library or CPU change can also move metrics")
    print(comparison_text(cmp, args.changes_only))
    print()
    if results.targets:
        print(targets_text(results.targets))
        print()
    for note in results.notes:
        print(f"note: {note}")
    print(verdict(cmp, results, baseline is not None))
    if args.perf_gate and any(t.met is False for t in results.targets):
        print("result: a performance target is not met (exit 1 with --perf-gate)")
        return 1
    return 1 if cmp.failed else 0


def _write_outputs(args: argparse.Namespace, cmp: Comparison, results: BenchResults,
                   baseline_path: str | None, rc: int) -> None:
    if args.json:
        write_json_atomic(args.json, json_document(cmp, results, baseline_path, rc))
        print(f"json: {args.json}")
    if args.markdown:
        atomic_write(args.markdown, markdown(cmp, results, baseline_path is not None,
                                             args.changes_only))
        print(f"markdown: {args.markdown}")


__all__ = ["command", "register"]

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
from typing import Any

from simulator.bench.compare import (
    BaselineError,
    BenchResults,
    Comparison,
    compare,
    load_results,
    write_json_atomic,
)
from simulator.bench.report import (
    comparison_text,
    json_document,
    markdown,
    targets_text,
    verdict,
)
from simulator.bench.suites import CI_SCENARIOS, SUITES, ci_cases, run_ci
from simulator.config import ConfigError
from simulator.output import atomic_write

BASELINES = Path("results/baselines")
ENV_KEYS = ("python", "numpy", "simpy", "cpu")
"""Environment entries that, when they differ from the baseline's, are worth a note."""


def register(subparsers: Any) -> None:
    """Add the ``bench`` subcommand to the CLI's subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "bench", help="run the benchmark suite; exit 1 on a regression against the baseline",
        description="Run a benchmark suite (ci: scenarios/ci/*.toml, deterministic metrics "
                    "gated against a baseline; perf: the performance targets) and print every "
                    "metric against the baseline.")
    p.add_argument("--suite", choices=SUITES, default="ci", help="which suite (default: ci)")
    p.add_argument("--baseline", metavar="FILE", default=None,
                   help="baseline JSON to compare with (default: results/baselines/SUITE.json "
                        "if it exists)")
    p.add_argument("--tolerance", metavar="PCT", type=float, default=0.0,
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
    p.add_argument("--perf-tolerance", metavar="PCT", type=float, default=25.0,
                   help="with --perf-gate: allowed slowdown in percent (default 25)")
    p.add_argument("--only", action="append", default=[], metavar="NAME",
                   help="run only this case (repeatable; ci: a scenario name or file stem; "
                        "perf: trace, aging or guest)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario key in every ci scenario (perf: the 64 GiB guest)")
    p.add_argument("--scenarios", metavar="DIR", default=str(CI_SCENARIOS),
                   help="ci: the folder of scenario files (default: scenarios/ci)")
    p.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                   help="ci: cases run in parallel (default 1, for undisturbed timings)")
    p.add_argument("--trace", metavar="FILE", default=None,
                   help="perf: the CloudPhysics oracleGeneral trace (default: "
                        "data/cloudPhysicsIO.oracleGeneral.bin of the repository)")
    p.add_argument("--changes-only", action="store_true",
                   help="print only metrics that are not unchanged (performance always shown)")
    p.set_defaults(func=cmd_bench)


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _baseline_path(args: argparse.Namespace) -> tuple[Path, bool]:
    """The baseline file and whether the user named it."""
    if args.baseline is not None:
        return Path(args.baseline), True
    return BASELINES / f"{args.suite}.json", False


def _run(args: argparse.Namespace) -> BenchResults:
    if args.suite == "ci":
        cases = ci_cases(Path(args.scenarios), args.only)
        _progress(f"bench ci: {len(cases)} scenario(s) from {args.scenarios}, "
                  f"{args.jobs} at a time")
        return run_ci(cases, args.set, jobs=args.jobs, progress=_progress)
    from simulator.bench.perf import GUEST_SCENARIO, run_perf
    from simulator.config import load_scenario

    bad = sorted(set(args.only) - {"trace", "aging", "guest"})
    if bad:
        raise BaselineError(f"--only: no perf part {bad[0]!r} (parts: trace, aging, guest)")
    load_scenario(GUEST_SCENARIO, args.set)  # bad --set values fail here, before any run
    _progress("bench perf: trace replay, aging pass, 64 GiB guest (a few minutes)")
    return run_perf(args.only, args.set, Path(args.trace) if args.trace else None,
                    progress=_progress)


def _merge(old: BenchResults | None, new: BenchResults, partial: bool) -> BenchResults:
    """With ``--only``, an update replaces the cases that ran and keeps the others."""
    if old is None or not partial:
        return new
    cases = dict(old.cases)
    cases.update(new.cases)
    return BenchResults(new.suite, cases, new.environment, new.created_utc, new.targets,
                        new.notes)


def _load_baseline(args: argparse.Namespace) -> tuple[Path, BenchResults | None]:
    """The baseline path and its results (None when there is none yet). Raises BaselineError
    for a named file that does not exist, an unreadable one, or one of another suite."""
    path, named = _baseline_path(args)
    if not path.exists() and not (named and not args.update_baseline):
        return path, None
    baseline = load_results(path)
    if baseline.suite != args.suite:
        raise BaselineError(f"{path}: a baseline of suite {baseline.suite!r}, not "
                            f"{args.suite!r}")
    return path, baseline


def cmd_bench(args: argparse.Namespace) -> int:
    try:
        path, baseline = _load_baseline(args)
        results = _run(args)
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
        written = write_json_atomic(path, _merge(baseline, results, bool(args.only)).to_json())
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
        differ = [f"{k} {baseline.environment.get(k, '?')} -> {results.environment.get(k, '?')}"
                  for k in ENV_KEYS
                  if baseline.environment.get(k) != results.environment.get(k)]
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


__all__ = ["cmd_bench", "register"]

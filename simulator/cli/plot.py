"""``mglru-sim plot RESULTS_DIR [--out DIR]``: figures and report.html from saved results.

RESULTS_DIR is a run folder, a sweep folder, or any folder with run folders below it. Output
goes to ``DIR`` (default: RESULTS_DIR itself): ``report.html`` and ``figures/NAME.{png,svg}``.
With ``--each-run``, every run below a sweep also gets its own report, in its run folder (or in
``DIR/<run_id>/``). A missing or unreadable folder is bad input: one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simulator.cli.args import Subparsers


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "plot", help="figures (PNG and SVG) and report.html from saved results only",
        description="Write figures (PNG and SVG) and a self-contained report.html from saved "
                    "results, without re-simulating.")
    p.add_argument("results_dir", metavar="RESULTS_DIR",
                   help="a run folder, a sweep folder, or a folder with run folders below it")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="where to write report.html and figures/ (default: RESULTS_DIR)")
    p.add_argument("--each-run", action="store_true",
                   help="also write a report for every run below RESULTS_DIR")
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """Write the figures and report; print where they went."""
    from simulator.output.paths import probe
    from simulator.plots import ResultsError, load_results
    from simulator.report import write_outputs

    root = Path(args.results_dir)
    out = None if args.out is None else Path(args.out)
    if root.is_dir():  # a missing RESULTS_DIR is reported as such below
        probe(root if out is None else out)
    try:
        files = write_outputs(root, out)
        print(f"figures: {files.figures[0].parent if files.figures else '(none)'} "
              f"({len(files.figures)} as PNG and SVG)")
        for png in files.figures:
            print(f"  {png.stem}")
        print(f"report: {files.html}")
        if args.each_run:
            for run in load_results(root).runs:
                if run.folder == root:
                    continue
                page = write_outputs(run.folder, None if out is None else out / run.run_id).html
                print(f"run report: {page}")
    except ResultsError as e:
        print(f"mglru-sim: error: {e}", file=sys.stderr)
        return 2
    return 0


__all__ = ["command", "register"]

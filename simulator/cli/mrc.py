"""``mglru-sim mrc TRACE --sizes ...``: exact LRU and simulated MGLRU miss-ratio curves.

The curves are :mod:`simulator.mrc`'s: one Mattson pass for exact LRU, one MGLRU replay per
cache size (``--jobs`` at a time). Prints the table, writes ``mrc.csv``, ``mrc.png`` and
``mrc.svg`` under ``--out``.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.cli.args import Subparsers, add_jobs, add_max_memory, add_set
from simulator.config import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from simulator.mrc import Replay


def register(sub: Subparsers) -> None:
    """Add the ``mrc`` command."""
    p = sub.add_parser(
        "mrc", help="exact LRU (Mattson) and simulated MGLRU miss-ratio curves of a trace",
        description="Miss ratio at each cache size: exact LRU by Mattson's stack algorithm, "
                    "MGLRU by replaying the trace once in a host-only scenario per size.")
    p.add_argument("trace", metavar="TRACE", help="trace file (csv, npy, npz, "
                   "oracleGeneral, lackey)")
    p.add_argument("--sizes", required=True, metavar="LIST",
                   help="cache sizes: page counts (49,490,4897) or fractions of the distinct "
                        "pages (0.01,0.1)")
    p.add_argument("--format", default="auto",
                   help="trace format (default: from the file name)")
    add_jobs(p, "parallel replays (default: the number of cores; 1: in this process)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="where to write mrc.csv, mrc.png, mrc.svg (default: "
                        "results/mrc/<trace name>)")
    add_set(p, "override a scenario key of the replays, e.g. mglru.look_around=false or "
               "task.workload.trace_column=addr")
    p.add_argument("--no-mglru", action="store_true", help="exact LRU only (no replays)")
    add_max_memory(p, "refuse if the trace's pass or the parallel replays need more "
                      "(default: available memory)")
    p.set_defaults(func=command)


def _fail(message: str) -> int:
    print(f"mglru-sim: error: {message}", file=sys.stderr)
    return 2


def format_table(frame: pd.DataFrame, replays: dict[int, Replay]) -> str:
    """The table ``mrc`` prints: the three csv columns, then replay accesses/s."""
    head = f"{'cache_pages':>12}  {'lru_miss_ratio':>14}  {'mglru_miss_ratio':>16}  " \
           f"{'replay accesses/s':>17}"
    lines = [head]
    for pages, lru, mglru in zip(frame["cache_pages"], frame["lru_miss_ratio"],
                                 frame["mglru_miss_ratio"], strict=True):
        mg = "-" if math.isnan(mglru) else f"{mglru:.6f}"
        r = replays.get(int(pages))
        rate = "-" if r is None else f"{r.accesses / max(r.wall_s, 1e-9):,.0f}"
        lines.append(f"{int(pages):>12,}  {lru:>14.6f}  {mg:>16}  {rate:>17}")
    return "\n".join(lines)


def command(args: argparse.Namespace) -> int:
    """Compute, print and write the curves."""
    from simulator.mrc import (
        curve_frame,
        lru_curve,
        mglru_replays,
        mrc_frame,
        read_trace,
        write_mrc,
    )
    from simulator.output.paths import probe, safe_name

    trace = Path(args.trace)
    out = probe(Path(args.out) if args.out else Path("results") / "mrc" / safe_name(trace.name))
    try:
        tp = read_trace(trace, args.format, args.set, args.sizes, args.max_memory)
    except (ConfigError, ValueError) as e:
        return _fail(str(e))
    curve, mattson_s = lru_curve(tp.pages)
    lru = curve.miss_ratio(tp.sizes)
    replays: dict[int, Replay] = {}
    if not args.no_mglru:
        replays, warnings = mglru_replays(tp, args.jobs, args.set, args.max_memory)
        for warning in warnings:
            print(f"mglru-sim: warning: {warning}", file=sys.stderr)
    frame = mrc_frame(tp.sizes, lru, replays)
    print(f"trace {trace}: {tp.records:,} records, {tp.distinct_pages:,} distinct "
          f"pages; Mattson {mattson_s:.2f} s ({tp.records / max(mattson_s, 1e-9):,.0f} "
          "accesses/s)")
    print(format_table(frame, replays))
    written = write_mrc(frame, out, curve_frame(curve),
                        {"trace": trace.name, "records": tp.records,
                         "distinct_pages": tp.distinct_pages})
    print("\n" + "\n".join(f"wrote {p}" for p in written))
    return 0


__all__ = ["command", "format_table", "register"]

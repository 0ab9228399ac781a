"""``mglru-sim trace info|convert``: inspect a trace, or rewrite it as ``.npy`` or ``.csv``.

``info`` streams the file once (bounded memory) and prints records, distinct pages, reads and
writes, the footprint and the first and last timestamps; ``--reuse`` adds the exact LRU miss
ratio at a few fractions of the footprint (Mattson, which holds the page sequence in memory).
``convert`` writes the records in trace order, atomically. A missing or corrupt trace is bad
input: one line on stderr naming the file and the line or record, exit 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from simulator.traces import (
    DEFAULT_CHUNK_RECORDS,
    FORMATS,
    TraceError,
    TraceOptions,
    TraceSummary,
    convert_trace,
    open_trace,
    summarize,
)

REUSE_FRACTIONS = (0.01, 0.1, 0.2, 0.4, 0.8)
"""Cache sizes, as fractions of the distinct pages, that ``trace info --reuse`` reports."""


def add_reader_options(p: argparse.ArgumentParser) -> None:
    """The reader options (:class:`~simulator.traces.TraceOptions`) as command-line flags."""
    g = p.add_argument_group("trace reading")
    g.add_argument("--format", default="auto", choices=("auto", *FORMATS),
                   help="trace format (default: from the file name)")
    g.add_argument("--column", default="", help="page column: csv header name or 0-based "
                   "index, npy field, npz member (default: the first / a page field)")
    g.add_argument("--rw-column", default="", help="column telling reads from writes")
    g.add_argument("--stream-column", default="", help="column with a thread/CPU number")
    g.add_argument("--time-column", default="", help="timestamp column (csv/npy)")
    g.add_argument("--header", default="auto", choices=("auto", "yes", "no"),
                   help="csv: is the first line a header (default: detect)")
    g.add_argument("--delimiter", default=",", help="csv field separator (default: ,)")
    g.add_argument("--addresses", action="store_true",
                   help="csv/npy values are byte addresses (page = value >> 12)")
    g.add_argument("--instructions", action="store_true",
                   help="lackey: count I (instruction fetch) lines as reads")
    g.add_argument("--chunk", type=int, default=DEFAULT_CHUNK_RECORDS, metavar="RECORDS",
                   help=f"records per read (default {DEFAULT_CHUNK_RECORDS})")


def reader_options(args: argparse.Namespace) -> TraceOptions:
    """The :class:`TraceOptions` of parsed :func:`add_reader_options` flags."""
    return TraceOptions(format=args.format, column=args.column, rw_column=args.rw_column,
                        stream_column=args.stream_column, time_column=args.time_column,
                        header=args.header, delimiter=args.delimiter,
                        addresses=args.addresses, instructions=args.instructions)


def register(subparsers: Any) -> None:
    """Add the ``trace`` command (``info`` and ``convert``)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "trace", help="inspect and convert traces (csv, npy, oracleGeneral, lackey)",
        description=__doc__.splitlines()[0] if __doc__ else None)
    sub = p.add_subparsers(dest="trace_command", required=True,
                           parser_class=type(p))
    info = sub.add_parser("info", help="records, distinct pages, reads/writes, footprint")
    info.add_argument("file", metavar="FILE")
    info.add_argument("--reuse", action="store_true",
                      help="also the exact LRU miss ratio at 1%%..80%% of the footprint")
    add_reader_options(info)
    info.set_defaults(func=cmd_info)
    conv = sub.add_parser("convert", help="rewrite a trace as .npy or .csv (atomically)")
    conv.add_argument("input", metavar="IN")
    conv.add_argument("output", metavar="OUT", help="output file, ending in .npy or .csv")
    add_reader_options(conv)
    conv.set_defaults(func=cmd_convert)


def _time(t: float | None) -> str:
    if t is None:
        return "-"
    return f"{t:.0f}" if t == int(t) else f"{t:g}"


def format_info(s: TraceSummary) -> str:
    """The table ``trace info`` prints."""
    def share(v: int | None) -> str:
        return "- (the format has no read/write flag)" if v is None \
            else f"{v:,} ({v / s.records:.1%})"

    rows = [
        ("file", str(s.path)), ("format", s.format), ("records", f"{s.records:,}"),
        ("distinct pages", f"{s.distinct_pages:,}"), ("reads", share(s.reads)),
        ("writes", share(s.writes)),
        ("footprint", f"{s.footprint_mib:,.1f} MiB ({s.distinct_pages:,} x 4 KiB)"),
        ("first timestamp", _time(s.first_time)), ("last timestamp", _time(s.last_time)),
        ("streams", "-" if s.stream_values is None else f"{len(s.stream_values):,} distinct"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _reuse_lines(args: argparse.Namespace, s: TraceSummary) -> list[str]:
    import numpy as np

    from simulator.mattson import miss_ratio_curve

    reader = open_trace(args.file, reader_options(args))
    pages = np.concatenate([c.pages for c in reader.chunks(args.chunk)])
    curve = miss_ratio_curve(pages)
    sizes = [max(1, round(f * s.distinct_pages)) for f in REUSE_FRACTIONS]
    ratios = curve.miss_ratio(sizes)
    out = [f"cold misses      {curve.distinct_pages / curve.accesses:.6f} of accesses"]
    if len(curve.sorted_distances):
        median = int(np.median(curve.sorted_distances))
        out.append(f"median reuse     {median:,} pages (LRU stack distance)")
    out += [f"LRU miss ratio   {r:.6f} at {c:,} pages ({f:g} of distinct)"
            for f, c, r in zip(REUSE_FRACTIONS, sizes, ratios, strict=True)]
    return out


def cmd_info(args: argparse.Namespace) -> int:
    """Print what one pass over the trace finds."""
    try:
        s = summarize(open_trace(args.file, reader_options(args)), "first_touch", args.chunk)
        print(format_info(s))
        if args.reuse:
            print("\n".join(_reuse_lines(args, s)))
    except TraceError as e:
        print(f"mglru-sim: error: {e}", file=sys.stderr)
        return 2
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    """Write the trace as ``.npy`` or ``.csv``."""
    try:
        n = convert_trace(open_trace(args.input, reader_options(args)), args.output, args.chunk)
    except TraceError as e:
        print(f"mglru-sim: error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:
        print(f"mglru-sim: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"mglru-sim: error: {args.output}: cannot write: {e.strerror or e}",
              file=sys.stderr)
        return 2
    print(f"{args.output}: {n:,} records")
    return 0


__all__ = ["REUSE_FRACTIONS", "add_reader_options", "cmd_convert", "cmd_info", "format_info",
           "reader_options", "register"]

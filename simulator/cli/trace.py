"""``mglru-sim trace info|convert``: inspect a trace, or rewrite it as ``.npy`` or ``.csv``.

``info`` streams the file once (bounded memory) and prints records, distinct pages, reads and
writes, the footprint and the first and last timestamps; ``--reuse`` adds the exact LRU miss
ratio at a few fractions of the footprint (:mod:`simulator.traces.reuse`). ``convert`` writes
the records in trace order, atomically. The reading options are
:class:`~simulator.traces.TraceOptions`'s flags. A missing or corrupt trace is bad input: one
line on stderr naming the file and the line or record, exit 2.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.cli.args import Subparsers, add_max_memory, number
from simulator.progress import bar as progress_bar
from simulator.traces.base import DEFAULT_CHUNK_RECORDS, Chunk, TraceReader
from simulator.traces.options import TraceOptions

if TYPE_CHECKING:
    from simulator.traces import TraceSummary
    from simulator.traces.reuse import Reuse


def register(sub: Subparsers) -> None:
    """Add the ``trace`` command (``info`` and ``convert``)."""
    p = sub.add_parser("trace", help="inspect and convert traces (csv, npy, oracleGeneral, "
                                     "lackey)",
                      description="Inspect a trace, or rewrite it as .npy or .csv.")
    cmds = p.add_subparsers(dest="trace_command", required=True, parser_class=type(p))
    info = cmds.add_parser("info", help="records, distinct pages, reads/writes, footprint")
    info.add_argument("file", metavar="FILE")
    info.add_argument("--reuse", action="store_true",
                      help="also the exact LRU miss ratio at 1%%..80%% of the footprint")
    add_max_memory(info, "refuse a pass that needs more (default: available memory)")
    add_options(info)
    info.set_defaults(func=command_info)
    conv = cmds.add_parser("convert", help="rewrite a trace as .npy or .csv (atomically)")
    conv.add_argument("input", metavar="IN")
    conv.add_argument("output", metavar="OUT", help="output file, ending in .npy or .csv")
    add_max_memory(conv, "refuse a conversion that needs more (default: available memory)")
    add_options(conv)
    conv.set_defaults(func=command_convert)


def add_options(p: argparse.ArgumentParser) -> None:
    """Every :class:`TraceOptions` field that has a flag, as an option of ``p`` ("trace
    reading"), typed and range-checked by its declaration."""
    g = p.add_argument_group("trace reading")
    for f in dataclasses.fields(TraceOptions):
        flag, doc = f.metadata["flag"], f.metadata["doc"]
        if flag is None:
            continue
        if f.default is False:
            g.add_argument(flag, dest=f.name, action="store_true", help=doc)
        elif isinstance(f.default, int):
            g.add_argument(flag, dest=f.name, default=f.default,
                           type=number(int, f.metadata["lo"], f.metadata["hi"]),
                           metavar="RECORDS", help=f"{doc} (default {f.default})")
        else:
            g.add_argument(flag, dest=f.name, default=f.default, choices=f.metadata["choices"],
                           help=doc.replace("%", "%%"))


def from_args(args: argparse.Namespace, path: str = "") -> TraceOptions:
    """The options of parsed :func:`add_options` flags, reading ``path``."""
    flagged = {f.name: getattr(args, f.name) for f in dataclasses.fields(TraceOptions)
               if f.metadata["flag"] is not None}
    return TraceOptions(path=path, **flagged)


def watched(reader: TraceReader) -> TraceReader:
    """``reader``, whose passes over the file draw a progress bar of the records read (on a
    terminal; see :mod:`simulator.progress`)."""
    read = reader.chunks

    def chunks(records: int = DEFAULT_CHUNK_RECORDS) -> Iterator[Chunk]:
        with progress_bar(None, reader.path.name, "record", unit_scale=True) as bar:
            for chunk in read(records):
                bar.update(len(chunk))
                yield chunk

    # this instance only (the command's own passes); setattr: mypy forbids assigning a method
    setattr(reader, "chunks", chunks)  # noqa: B010
    return reader


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


def format_reuse(r: Reuse) -> str:
    """The lines ``trace info --reuse`` adds."""
    from simulator.traces.reuse import REUSE_FRACTIONS

    out = [f"cold misses      {r.cold_ratio:.6f} of accesses"]
    if r.median_distance is not None:
        out.append(f"median reuse     {r.median_distance:,} pages (LRU stack distance)")
    out += [f"LRU miss ratio   {m:.6f} at {c:,} pages ({f:g} of distinct)"
            for f, c, m in zip(REUSE_FRACTIONS, r.sizes, r.miss_ratios, strict=True)]
    return "\n".join(out)


def _check_memory(reader: object, chunk: int, max_memory: int | None, info: bool) -> None:
    """Refuse, before reading a record, a trace pass that would not fit: chunks of ``chunk``
    records of every column of the file, and (info) the page map of its distinct pages."""
    from simulator.resources import (
        check_estimate,
        text_fields,
        trace_estimate,
        trace_records_bound,
    )

    records = trace_records_bound(reader)
    check_estimate(trace_estimate(min(chunk, records), text_fields(reader),
                                  records if info else 0),
                   f"reading {getattr(reader, 'path', 'the trace')}", max_memory)


def command_info(args: argparse.Namespace) -> int:
    """Print what one pass over the trace finds (a bad trace: TraceError, exit 2)."""
    from simulator.traces import open_trace, summarize
    from simulator.traces.reuse import reuse

    opts = from_args(args, args.file)
    reader = watched(open_trace(args.file, opts))
    _check_memory(reader, opts.chunk, args.max_memory, info=True)
    s = summarize(reader, "first_touch", opts.chunk)
    print(format_info(s))
    if args.reuse:
        print(format_reuse(reuse(open_trace(args.file, opts), opts.chunk, s.distinct_pages)))
    return 0


def command_convert(args: argparse.Namespace) -> int:
    """Write the trace as ``.npy`` or ``.csv``."""
    from simulator.output.paths import probe_file
    from simulator.traces import convert_trace, open_trace
    from simulator.traces.convert import check_output

    output = Path(args.output)
    check_output(output)
    opts = from_args(args, args.input)
    reader = watched(open_trace(args.input, opts))
    _check_memory(reader, opts.chunk, args.max_memory, info=False)
    probe_file(output)
    n = convert_trace(reader, output, opts.chunk)
    print(f"{args.output}: {n:,} records")
    return 0


__all__ = ["add_options", "command_convert", "command_info", "format_info", "format_reuse",
           "from_args", "register"]

"""How to read and replay a trace: :class:`TraceOptions`, declared once for every use.

Each field is one option, declared with :func:`simulator.params.param`: its default, its
choices or range, one line of doc, its scenario key (``[workload]`` of kind ``trace``:
``trace``, ``trace_format``, …) and its ``mglru-sim trace`` flag (``--format``, …). The
readers take a :class:`TraceOptions`; the ``trace`` workload's parameters are these plus the
pacing every workload has (:class:`workloads.trace.TraceParams`); ``mglru-sim trace`` turns the
fields that have a flag into command-line options (``simulator.cli.trace``).
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.params import keys_of, param
from simulator.traces.base import DEFAULT_CHUNK_RECORDS, FORMATS
from simulator.traces.compressed import FORMAT_ALIASES
from simulator.traces.pagemap import REMAP_ORDERS


@dataclass(frozen=True, slots=True)
class TraceOptions:
    """How to read a trace. Column names apply to csv (header name or 0-based index) and to
    npy/npz (structured field, 2-D column index, or npz member name)."""

    path: str = param("", key="trace",
                      doc="the trace file to replay (relative to the working directory)")
    format: str = param("auto", choices=("auto", *FORMATS, *FORMAT_ALIASES), key="trace_format",
                        flag="--format", doc="file format; auto picks it from the file name "
                        "(without .zst); libCacheSim's oracleGeneralBin and txt are aliases")
    column: str = param("", key="trace_column", flag="--column",
                        doc="page column (csv header name or 0-based index, npy field, npz "
                            "member); empty: the first / a page field")
    rw_column: str = param("", key="trace_rw_column", flag="--rw-column",
                           doc="column telling reads from writes (csv/npy); empty: one named "
                               "write/is_write/rw, else none (touches write with "
                               "write_fraction)")
    stream_column: str = param("", key="trace_stream_column", flag="--stream-column",
                               doc="column with a stream (thread/CPU) number; its value (mod "
                                   "streams) picks the vCPU, with trace_split = column")
    time_column: str = param("", key=None, flag="--time-column",
                             doc="timestamp column (csv/npy; only trace info uses it)")
    header: str = param("auto", choices=("auto", "yes", "no"), key="trace_header",
                        flag="--header", doc="csv has a header line (auto: detect: a header "
                                             "if the first page field is not a number, or if "
                                             "a column is given by name)")
    delimiter: str = param(",", key="trace_delimiter", flag="--delimiter",
                           doc="csv field separator (.tsv files default to a tab)")
    addresses: bool = param(False, key="trace_addresses", flag="--addresses",
                            doc="csv/npy values are byte addresses (page = value >> 12)")
    instructions: bool = param(False, key="trace_instructions", flag="--instructions",
                               doc="lackey I (instruction fetch) lines count as reads")
    split: str = param("round_robin", choices=("round_robin", "column"), key="trace_split",
                       doc="record i goes to stream i mod streams, or by trace_stream_column")
    remap: str = param(REMAP_ORDERS[0], choices=REMAP_ORDERS, key="trace_remap",
                       doc="dense page numbering by first touch or by page id")
    chunk: int = param(DEFAULT_CHUNK_RECORDS, lo=1, hi=1 << 26, key="trace_chunk",
                       flag="--chunk", doc="records read per chunk (bounds the replay's memory)")


SCENARIO_KEYS = tuple(keys_of(TraceOptions))
"""The ``[workload]`` keys of the options (``trace``, ``trace_format``, …)."""

__all__ = ["SCENARIO_KEYS", "TraceOptions"]

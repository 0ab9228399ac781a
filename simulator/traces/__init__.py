"""Trace readers: recorded memory references, streamed in bounded memory.

Formats (:data:`FORMATS`): ``csv`` (:mod:`.csvtrace`), ``npy``/``npz`` (:mod:`.npytrace`),
libCacheSim ``oracleGeneral`` (:mod:`.oracle`) and valgrind ``lackey`` (:mod:`.lackey`). How to
read one is a :class:`TraceOptions` (:mod:`.options`: the ``trace_*`` scenario keys and the
``mglru-sim trace`` flags come from it). Open one with :func:`open_trace` and iterate
:meth:`TraceReader.chunks`; :func:`summarize` makes one
pass for the counts and the dense page map (:mod:`.pagemap`), :func:`count_distinct_pages`
sizes a region for a replay, :func:`convert_trace` writes ``.npy`` or ``.csv``.

DESIGN §4 keeps file I/O out of the model; the ``trace`` workload is the one reader of a file
during a run, and it goes through these readers.
"""

from __future__ import annotations

from simulator.traces.base import (
    DEFAULT_CHUNK_RECORDS,
    FORMATS,
    PAGE_SHIFT,
    Chunk,
    TraceError,
    TraceReader,
    detect_format,
)
from simulator.traces.convert import OUTPUT_FORMATS, convert_trace
from simulator.traces.options import TraceOptions
from simulator.traces.pagemap import REMAP_ORDERS, PageMap, PageMapBuilder, build_page_map
from simulator.traces.readers import READERS, open_trace
from simulator.traces.summary import TraceSummary, count_distinct_pages, summarize

__all__ = [
    "DEFAULT_CHUNK_RECORDS", "FORMATS", "OUTPUT_FORMATS", "PAGE_SHIFT", "READERS",
    "REMAP_ORDERS", "Chunk", "PageMap", "PageMapBuilder", "TraceError", "TraceOptions",
    "TraceReader", "TraceSummary", "build_page_map", "convert_trace", "count_distinct_pages",
    "detect_format", "open_trace", "summarize",
]

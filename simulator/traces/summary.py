"""One streaming pass over a trace: counts, the dense page map, and the distinct streams.

This is what sizes a replay: a region must hold the trace's distinct pages
(:func:`count_distinct_pages`), the trace workload builds its page map here, and
``mglru-sim trace info`` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from simulator.traces.base import DEFAULT_CHUNK_RECORDS, TraceError, TraceReader
from simulator.traces.options import TraceOptions
from simulator.traces.pagemap import PageMap, make_builder
from simulator.traces.readers import open_trace
from simulator.units import PAGE_SIZE


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """What one pass over a trace found."""

    path: Path
    format: str
    records: int
    distinct_pages: int
    reads: int | None
    """Records that read (``None`` if the format has no read/write flag)."""
    writes: int | None
    first_time: float | None
    last_time: float | None
    stream_values: npt.NDArray[np.int64] | None
    """Distinct values of the stream column, sorted, or ``None`` without one."""
    page_map: PageMap

    @property
    def footprint_bytes(self) -> int:
        """Distinct pages times 4 KiB."""
        return self.distinct_pages * PAGE_SIZE

    @property
    def footprint_mib(self) -> float:
        return self.footprint_bytes / 2**20


def summarize(reader: TraceReader, order: str = "first_touch",
              chunk_records: int = DEFAULT_CHUNK_RECORDS) -> TraceSummary:
    """Read the whole trace once. Raises :class:`TraceError` on corrupt input or no records."""
    builder = make_builder(order)
    records = 0
    writes: int | None = 0
    first_time: float | None = None
    last_time: float | None = None
    streams: npt.NDArray[np.int64] | None = None
    for chunk in reader.chunks(chunk_records):
        n = len(chunk)
        if not n:
            continue
        builder.add(chunk.pages)
        records += n
        if chunk.writes is None:
            writes = None
        elif writes is not None:
            writes += int(np.count_nonzero(chunk.writes))
        if chunk.times is not None:
            if first_time is None:
                first_time = float(chunk.times[0])
            last_time = float(chunk.times[-1])
        if chunk.streams is not None:
            u = np.unique(chunk.streams)
            streams = u if streams is None else np.union1d(streams, u)
    if records == 0:
        raise TraceError(reader.path, "no records")
    return TraceSummary(
        path=reader.path, format=reader.format, records=records, distinct_pages=len(builder),
        reads=None if writes is None else records - writes, writes=writes,
        first_time=first_time, last_time=last_time, stream_values=streams,
        page_map=builder.build())


def count_distinct_pages(path: str | Path, options: TraceOptions | None = None) -> int:
    """Distinct pages of a trace (one streaming pass): the smallest region that replays it.

    Size a scenario with it, e.g. ``task.memory = count_distinct_pages(path) * 4096`` rounded
    up to the granule the region needs.
    """
    return summarize(open_trace(path, options)).distinct_pages


__all__ = ["TraceSummary", "count_distinct_pages", "summarize"]

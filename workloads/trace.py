"""Replay a recorded trace: real references instead of a synthetic law.

What it models: whatever the trace recorded (a block-I/O trace, a valgrind lackey run of a real
program, a page trace from another tool), page by page, in order. The file is read through
:mod:`simulator.traces` in chunks of ``trace_chunk`` records, so a trace larger than memory
replays in bounded memory; when it ends it starts over (an endless stream, as the workload
interface requires; ``mglru-sim mrc`` stops after one pass).

Pages: the construction makes one pass over the file (:func:`simulator.traces.summarize`) to
count the distinct pages ``D`` and build a dense map of raw ids to ``0..D-1``, in first-touch
order (``trace_remap = "first_touch"``, deterministic and independent of the chunk size) or in
id order (``"sorted"``, which keeps address order and hence the trace's spatial locality for
PTE tables and look-around). The region must hold ``D`` pages; :func:`required_pages` and
:func:`required_memory` size a scenario for it. ``footprint`` and ``scatter`` do not apply.

Streams (vCPUs): record ``i`` goes to stream ``i mod S`` (``trace_split = "round_robin"``) or to
stream ``value mod S`` of its ``trace_stream_column`` (``"column"``, e.g. a thread id). Each
stream walks the chunks of the file and keeps only its own records; chunks come from a cache of
the last ``S + 2`` parsed ones (:class:`SharedChunks`), so streams that keep pace share one
parse of each chunk, and a stream that falls further behind reads with its own cursor instead
of making the others buffer: memory stays bounded by about ``S + 2`` chunks whatever the lag.
Every stream must receive at least one record per pass, checked at construction.

Writes: the trace's own read/write flags where the format has them (lackey, a csv/npy
``rw`` column); otherwise each touch writes with probability ``write_fraction``, drawn from the
stream's own generator.

What it simplifies: a record is one touch of one 4 KiB page (sizes, and accesses that straddle a
page boundary, count once for their first page); timestamps are ignored (touches are paced by
``think_ns``, as for every workload).
"""

from __future__ import annotations

import math
import operator
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from simulator.traces import (
    Chunk,
    TraceError,
    TraceOptions,
    TraceReader,
    TraceSummary,
    open_trace,
    summarize,
)
from simulator.units import PAGE_SIZE
from workloads import params as shared
from workloads.base import Batch, PageArray, WorkloadKind, WorkloadTable, stream_generators

_Part = tuple[PageArray, npt.NDArray[np.bool_] | None]


MAP_BYTES_PER_PAGE = 120
"""The page map, per distinct page: the compiled builder's hash table (up to 4 slots of key and
id), the old table while it grows, and the sorted (key, id) pairs
(:data:`simulator.resources.commands.PAGE_MAP_BYTES`)."""
RECORD_BYTES = 160
"""One record of a chunk in flight: page, write, stream and time (25 bytes), and the parse of
its line (a CSV field is a Python string first)."""


@dataclass(frozen=True, slots=True)
class TraceParams(TraceOptions):
    """``kind = "trace"``: the reader options (the ``trace*`` keys) and the pacing.
    ``footprint`` and ``scatter`` do not apply: the trace says which pages it touches."""

    think_ns: int = shared.think_ns()
    write_fraction: float = shared.write_fraction()


def trace_reader(opts: TraceOptions) -> TraceReader:
    """The reader of a ``trace`` workload's file. Raises TraceError."""
    if not opts.path:
        raise TraceError("<workload>", "kind = \"trace\" needs a trace file (trace = PATH)")
    return open_trace(opts.path, opts)


def required_pages(cfg: WorkloadTable) -> int:
    """Distinct pages of a trace workload's trace (one pass): the smallest region that
    replays it."""
    opts = cfg.params_as(TraceParams)
    return summarize(trace_reader(opts), opts.remap, opts.chunk).distinct_pages


def required_memory(cfg: WorkloadTable, granule: int = 512 * PAGE_SIZE) -> int:
    """Bytes of a region that holds the trace's distinct pages, rounded up to ``granule``
    (2 MiB: whole PTE tables, as ``vm.memory`` needs)."""
    return math.ceil(required_pages(cfg) * PAGE_SIZE / granule) * granule


class SharedChunks:
    """Chunk ``k`` of one pass of a trace, parsed once for all streams while they keep pace.

    One shared cursor reads ahead for the leading stream and keeps the last ``capacity``
    chunks, so streams that progress at about the same rate (vCPUs do) share one parse of each
    chunk. A stream that falls further behind than the cache reads with its own cursor instead,
    so memory stays ``capacity`` chunks plus one per lagging stream, whatever the lag.
    """

    def __init__(self, reader: TraceReader, chunk_records: int, capacity: int) -> None:
        self.reader, self.chunk_records, self.capacity = reader, chunk_records, capacity
        self._cache: OrderedDict[int, Chunk] = OrderedDict()
        self._shared: Iterator[Chunk] | None = None
        self._next = 0  # index of the chunk the shared cursor yields next
        self._end: int | None = None  # chunks per pass, once a cursor has reached the end
        self._private: dict[int, tuple[Iterator[Chunk], int]] = {}

    def get(self, stream: int, k: int) -> Chunk | None:
        """Chunk ``k`` (0-based) of a pass, or ``None`` past the last chunk."""
        if self._end is not None and k >= self._end:
            return None
        chunk = self._cache.get(k)
        if chunk is not None:
            return chunk
        if self._shared is None or (k < self._next and self._exhausted()):
            self._shared, self._next = self.reader.chunks(self.chunk_records), 0
        if k >= self._next:
            while self._next <= k:
                chunk = next(self._shared, None)
                if chunk is None:
                    self._end = self._next
                    return None
                self._cache[self._next] = chunk
                if len(self._cache) > self.capacity:
                    self._cache.popitem(last=False)
                self._next += 1
            return chunk
        return self._lagging(stream, k)

    def _exhausted(self) -> bool:
        return self._end is not None and self._next >= self._end

    def _lagging(self, stream: int, k: int) -> Chunk | None:
        cursor, at = self._private.get(stream, (None, 0))
        if cursor is None or at > k:
            cursor, at = self.reader.chunks(self.chunk_records), 0
        chunk = None
        while at <= k:
            chunk = next(cursor, None)
            if chunk is None:
                self._private.pop(stream, None)
                return None
            at += 1
        self._private[stream] = (cursor, at)
        return chunk


class TraceWorkload(WorkloadKind[TraceParams]):
    """A trace file replayed endlessly, split over streams, pages remapped densely."""

    name: ClassVar[str] = "trace"
    description: ClassVar[str] = (
        "replay a trace file (csv, npy/npz, oracleGeneral, valgrind lackey) in chunks")
    Params: ClassVar[type[TraceParams]] = TraceParams

    @classmethod
    def memory_bytes(cls, params: TraceParams, pages: int, streams: int) -> int:
        """The page map (:data:`MAP_BYTES_PER_PAGE` per distinct page; a region holds at least
        as many pages as the trace has distinct ones) and the chunks in flight: the
        shared cache (``streams + 2``), one parse, one buffer per stream."""
        return MAP_BYTES_PER_PAGE * pages \
            + RECORD_BYTES * int(params.chunk) * (2 * streams + 3)

    def __init__(self, params: TraceParams, pages: int, streams: int,
                 seed: np.random.SeedSequence) -> None:
        self.pages = operator.index(pages)
        self.streams = operator.index(streams)
        if self.pages < 1 or self.streams < 1:
            raise ValueError(f"a workload needs pages >= 1 and streams >= 1, got {pages}, "
                             f"{streams}")
        self.reader = trace_reader(params)
        self.chunk_records = int(params.chunk)
        self.split = params.split
        self.write_fraction = float(params.write_fraction)
        self.summary: TraceSummary = summarize(self.reader, params.remap, self.chunk_records)
        s = self.summary
        if s.distinct_pages > self.pages:
            need = math.ceil(s.footprint_bytes / 2**20)
            raise TraceError(self.reader.path, f"{s.distinct_pages} distinct pages do not fit "
                             f"a region of {self.pages} pages: give it at least {need} MiB")
        self._check_streams()
        self._rngs = stream_generators(seed, self.streams)
        self._chunks = SharedChunks(self.reader, self.chunk_records, self.streams + 2)
        self._next_chunk = [0] * self.streams
        empty: _Part = (np.empty(0, dtype=np.int64), None)
        self._buf: list[_Part] = [empty] * self.streams
        self._pos = [0] * self.streams
        self.passes = [0] * self.streams
        """Completed passes over the trace, per stream."""

    @property
    def records(self) -> int:
        """Records in one pass of the trace."""
        return self.summary.records

    def _check_streams(self) -> None:
        s, n = self.summary, self.streams
        path = self.reader.path
        if self.split == "round_robin":
            if s.records < n:
                raise TraceError(path, f"{s.records} record(s) cannot feed {n} streams "
                                 "round-robin")
            return
        if s.stream_values is None:
            raise TraceError(path, "trace_split = \"column\" needs a stream column "
                             "(trace_stream_column)")
        fed = np.unique(s.stream_values % n)
        if len(fed) < n:
            idle = sorted(set(range(n)) - set(fed.tolist()))
            raise TraceError(path, f"the stream column feeds {len(fed)} of {n} streams "
                             f"(none for stream {idle[0]}); use fewer vCPUs or round_robin")

    def _select(self, stream: int, chunk: Chunk) -> _Part:
        """The stream's records of a chunk, remapped to dense pages."""
        n = self.streams
        writes = chunk.writes
        if n == 1:
            raw = chunk.pages
        elif self.split == "round_robin":
            sel = slice((stream - chunk.first_record) % n, None, n)
            raw, writes = chunk.pages[sel], None if writes is None else writes[sel]
        else:
            assert chunk.streams is not None
            mask = chunk.streams % n == stream
            raw, writes = chunk.pages[mask], None if writes is None else writes[mask]
        try:
            dense = self.summary.page_map.lookup(raw)
        except KeyError as e:
            raise TraceError(self.reader.path, f"changed since it was scanned ({e})",
                             record=chunk.first_record + 1) from None
        return dense, writes

    def _refill(self, stream: int) -> None:
        """Load the stream's next non-empty part of a chunk, rewinding at the end."""
        empty_passes = 0
        while True:
            k = self._next_chunk[stream]
            chunk = self._chunks.get(stream, k)
            if chunk is None:  # the end of a pass
                self.passes[stream] += 1
                self._next_chunk[stream] = 0
                empty_passes += 1
                if empty_passes > 1:  # checked at construction: only a changed file
                    raise TraceError(self.reader.path, f"no records for stream {stream}")
                continue
            self._next_chunk[stream] = k + 1
            part = self._select(stream, chunk)
            if len(part[0]):
                self._buf[stream], self._pos[stream] = part, 0
                return

    def next_batch(self, stream: int, n: int) -> Batch:
        """The next ``n`` records of ``stream``, continuing (and wrapping) through the trace."""
        stream, n = operator.index(stream), operator.index(n)
        if not 0 <= stream < self.streams:
            raise ValueError(f"stream {stream} out of range: this workload has "
                             f"{self.streams} stream(s)")
        if n < 0:
            raise ValueError(f"batch size must be >= 0, got {n}")
        pages = np.empty(n, dtype=np.int64)
        writes = np.empty(n, dtype=np.bool_)
        filled = 0
        while filled < n:
            buf_pages, buf_writes = self._buf[stream]
            pos = self._pos[stream]
            if pos >= len(buf_pages):
                self._refill(stream)
                continue
            take = min(n - filled, len(buf_pages) - pos)
            pages[filled:filled + take] = buf_pages[pos:pos + take]
            if buf_writes is None:
                writes[filled:filled + take] = \
                    self._rngs[stream].random(take) < self.write_fraction
            else:
                writes[filled:filled + take] = buf_writes[pos:pos + take]
            self._pos[stream] = pos + take
            filled += take
        return pages, writes

    def next_batches(self, stream: int, n: int, k: int) -> Batch:
        """``k`` batches of ``n`` in one call: the same touches as ``k`` calls, because the
        records come in file order and the drawn write flags take one double per touch from
        the stream's generator, however the draws are split."""
        return self.next_batch(stream, n * k)

    def __repr__(self) -> str:
        return (f"TraceWorkload({str(self.reader.path)!r}, format={self.reader.format}, "
                f"records={self.records}, distinct_pages={self.summary.distinct_pages}, "
                f"pages={self.pages}, streams={self.streams}, split={self.split})")


__all__ = ["TraceParams", "TraceWorkload", "required_memory", "required_pages", "trace_reader"]

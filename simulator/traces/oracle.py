"""libCacheSim's ``oracleGeneral`` binary traces.

Format (libCacheSim ``traceReader/customizedReader/oracle/oracleGeneralBin.h``): packed
little-endian records of 24 bytes, ``uint32 clock_time, uint64 obj_id, uint32 obj_size,
int64 next_access_vtime``. The object id is the page id (one block or object = one page); the
size and the next-access index are ignored, and the format has no read/write flag. The file is
memory-mapped and sliced chunk by chunk. A file whose size is not a multiple of 24 has a
truncated last record: that is reported before any record is read, so a replay never starts on
a file it cannot finish. A zstd-compressed trace (``.zst``, as libCacheSim ships them) is
decompressed as a stream, a chunk of records at a time; its truncated last record is reported
when the stream ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np

from simulator.traces.base import (
    DEFAULT_CHUNK_RECORDS,
    Chunk,
    TraceError,
    check_file,
)
from simulator.traces.compressed import is_zst, open_bytes, read_exact
from simulator.traces.options import TraceOptions

RECORD = np.dtype([("ts", "<u4"), ("id", "<u8"), ("sz", "<u4"), ("nv", "<i8")])
"""One packed 24-byte record."""


class OracleGeneralReader:
    """Chunks of an ``oracleGeneral`` file (no write flags, no streams; timestamps in s)."""

    format: ClassVar[str] = "oracleGeneral"

    def __init__(self, path: str | Path, options: TraceOptions | None = None) -> None:
        self.path = check_file(path)
        opts = options or TraceOptions()
        for name in ("rw_column", "stream_column"):
            if getattr(opts, name):
                raise TraceError(self.path, f"oracleGeneral traces have no columns "
                                 f"({name} = {getattr(opts, name)!r} cannot apply)")
        self.compressed = is_zst(self.path)
        if self.compressed:
            return
        size = self.path.stat().st_size
        self.records, tail = divmod(size, RECORD.itemsize)
        if tail:
            raise TraceError(self.path, f"truncated: only {tail} of {RECORD.itemsize} bytes",
                             record=self.records + 1, offset=self.records * RECORD.itemsize)

    def chunks(self, records: int = DEFAULT_CHUNK_RECORDS) -> Iterator[Chunk]:
        if self.compressed:
            yield from self._stream(records)
            return
        data = np.memmap(self.path, dtype=RECORD, mode="r", shape=(self.records,))
        for start in range(0, self.records, records):
            yield _chunk(data[start:start + records], start)

    def _stream(self, records: int) -> Iterator[Chunk]:
        """Records of a ``.zst`` file, decompressed ``records`` at a time."""
        start = 0
        with open_bytes(self.path) as fp:
            while data := read_exact(fp, records * RECORD.itemsize):
                whole, tail = divmod(len(data), RECORD.itemsize)
                if whole:
                    yield _chunk(np.frombuffer(data[:whole * RECORD.itemsize], dtype=RECORD),
                                 start)
                    start += whole
                if tail:
                    raise TraceError(self.path, f"truncated: only {tail} of {RECORD.itemsize} "
                                     "bytes (decompressed)", record=start + 1,
                                     offset=start * RECORD.itemsize)
        if start == 0:
            raise TraceError(self.path, "no records (decompressed to 0 bytes)")


def _chunk(part: np.ndarray, start: int) -> Chunk:
    return Chunk(pages=np.array(part["id"], dtype=np.uint64), writes=None, streams=None,
                 times=part["ts"].astype(np.float64), first_record=start)


__all__ = ["RECORD", "OracleGeneralReader"]

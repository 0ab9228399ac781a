"""libCacheSim's ``oracleGeneral`` binary traces.

Format (libCacheSim ``traceReader/customizedReader/oracle/oracleGeneralBin.h``): packed
little-endian records of 24 bytes, ``uint32 clock_time, uint64 obj_id, uint32 obj_size,
int64 next_access_vtime``. The object id is the page id (one block or object = one page); the
size and the next-access index are ignored, and the format has no read/write flag. The file is
memory-mapped and sliced chunk by chunk. A file whose size is not a multiple of 24 has a
truncated last record: that is reported before any record is read, so a replay never starts on
a file it cannot finish. zstd-compressed traces (``.zst``) are not read: decompress first.
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
        size = self.path.stat().st_size
        self.records, tail = divmod(size, RECORD.itemsize)
        if tail:
            raise TraceError(self.path, f"truncated: only {tail} of {RECORD.itemsize} bytes",
                             record=self.records + 1, offset=self.records * RECORD.itemsize)

    def chunks(self, records: int = DEFAULT_CHUNK_RECORDS) -> Iterator[Chunk]:
        data = np.memmap(self.path, dtype=RECORD, mode="r", shape=(self.records,))
        for start in range(0, self.records, records):
            part = data[start:start + records]
            yield Chunk(pages=np.array(part["id"], dtype=np.uint64), writes=None,
                        streams=None, times=part["ts"].astype(np.float64), first_record=start)


__all__ = ["RECORD", "OracleGeneralReader"]

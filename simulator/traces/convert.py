"""Write a trace in another format: ``.npy`` (structured) or ``.csv``, atomically.

The output holds the records in trace order with the columns the input has: ``page`` (raw id,
``uint64``), then ``write`` (if the input records reads and writes), ``stream`` (if a stream
column was chosen) and ``time`` (if the input has timestamps). Both outputs read back with the
default options. The file is streamed, chunk by chunk, into a temporary file that
:func:`simulator.output.atomic_write` renames into place, so a failed or interrupted conversion
never leaves a partial file behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from simulator.output import atomic_write
from simulator.traces.base import DEFAULT_CHUNK_RECORDS, Chunk, TraceError, TraceReader

OUTPUT_FORMATS: dict[str, str] = {".npy": "npy", ".csv": "csv"}


def _columns(reader: TraceReader, chunk_records: int) -> tuple[int, list[str]]:
    """(records, column names) from a first pass."""
    records, has = 0, {"write": True, "stream": True, "time": True}
    for chunk in reader.chunks(chunk_records):
        records += len(chunk)
        has["write"] &= chunk.writes is not None
        has["stream"] &= chunk.streams is not None
        has["time"] &= chunk.times is not None
    if records == 0:
        raise TraceError(reader.path, "no records")
    return records, ["page", *(name for name, present in has.items() if present)]


def _values(chunk: Chunk, name: str) -> npt.NDArray[Any]:
    if name == "page":
        return chunk.pages
    if name == "write":
        assert chunk.writes is not None
        return chunk.writes
    if name == "stream":
        assert chunk.streams is not None
        return chunk.streams
    assert chunk.times is not None
    return chunk.times


_DTYPES = {"page": "<u8", "write": "?", "stream": "<i8", "time": "<f8"}


def convert_trace(reader: TraceReader, out: str | Path,
                  chunk_records: int = DEFAULT_CHUNK_RECORDS) -> int:
    """Write ``reader``'s trace to ``out`` (``.npy`` or ``.csv``); returns the record count.

    Raises ValueError for another output suffix and :class:`TraceError` for corrupt input.
    """
    out = Path(out)
    fmt = OUTPUT_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise ValueError(f"{out}: cannot write this format; the output must end in "
                         f"{' or '.join(OUTPUT_FORMATS)}")
    records, names = _columns(reader, chunk_records)
    if fmt == "npy":
        atomic_write(out, lambda tmp: _write_npy(reader, tmp, records, names, chunk_records))
    else:
        atomic_write(out, lambda tmp: _write_csv(reader, tmp, names, chunk_records))
    return records


def _write_npy(reader: TraceReader, tmp: Path, records: int, names: list[str],
               chunk_records: int) -> None:
    dtype = np.dtype([(n, _DTYPES[n]) for n in names])
    arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=(records,))
    pos = 0
    for chunk in reader.chunks(chunk_records):
        n = len(chunk)
        if pos + n > records:
            raise TraceError(reader.path, "changed while it was being converted")
        for name in names:
            arr[name][pos:pos + n] = _values(chunk, name)
        pos += n
    arr.flush()
    del arr


def _write_csv(reader: TraceReader, tmp: Path, names: list[str], chunk_records: int) -> None:
    with tmp.open("w", encoding="utf-8", newline="") as f:
        f.write(",".join(names) + "\n")
        for chunk in reader.chunks(chunk_records):
            cols = {}
            for name in names:
                v = _values(chunk, name)
                if name == "write":
                    v = v.astype(np.int8)
                elif name == "time" and np.all(v == np.floor(v)):
                    v = v.astype(np.int64)
                cols[name] = v
            pd.DataFrame(cols).to_csv(f, header=False, index=False, lineterminator="\n")


__all__ = ["OUTPUT_FORMATS", "convert_trace"]

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
from simulator.params import ConfigError
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


def check_output(out: Path) -> str:
    """The format of output file ``out`` from its suffix; ConfigError for another suffix."""
    fmt = OUTPUT_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise ConfigError(str(out), "", "cannot write this format; the output must end in "
                          f"{' or '.join(OUTPUT_FORMATS)}")
    return fmt


def convert_trace(reader: TraceReader, out: str | Path,
                  chunk_records: int = DEFAULT_CHUNK_RECORDS) -> int:
    """Write ``reader``'s trace to ``out`` (``.npy`` or ``.csv``); returns the record count.

    Raises ConfigError for another output suffix, :class:`TraceError` for corrupt input and
    OutputError if the file cannot be written (nothing is left behind).
    """
    out = Path(out)
    fmt = check_output(out)
    records, names = _columns(reader, chunk_records)
    if fmt == "npy":
        atomic_write(out, lambda tmp: _write_npy(reader, tmp, records, names, chunk_records))
    else:
        atomic_write(out, lambda tmp: _write_csv(reader, tmp, names, chunk_records))
    return records


def _write_npy(reader: TraceReader, tmp: Path, records: int, names: list[str],
               chunk_records: int) -> None:
    """The header, then each chunk's records appended with plain writes (not a memory map:
    on a full disk a write fails with ENOSPC, where a mapped page would kill the process with
    SIGBUS)."""
    dtype = np.dtype([(n, _DTYPES[n]) for n in names])
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
              "shape": (records,)}
    pos = 0
    with tmp.open("wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        for chunk in reader.chunks(chunk_records):
            n = len(chunk)
            if pos + n > records:
                raise TraceError(reader.path, "changed while it was being converted")
            part = np.empty(n, dtype=dtype)
            for name in names:
                part[name] = _values(chunk, name)
            f.write(part.tobytes())
            pos += n
    if pos != records:
        raise TraceError(reader.path, "changed while it was being converted")


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


__all__ = ["OUTPUT_FORMATS", "check_output", "convert_trace"]

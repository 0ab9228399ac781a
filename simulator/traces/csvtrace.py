"""Comma- (or otherwise) separated text traces, one record per line.

Columns are chosen by header name or by 0-based index: the page column, and optionally a
read/write column, a stream column and a timestamp column. With a header and no choice, a role
takes the column of its usual name (``page``/``id``/``obj_id``/``addr``/``address``, ``write``/
``is_write``/``rw``, ``stream``, ``time``/``ts``/``timestamp``: what ``trace convert`` writes);
the page column is otherwise the first. A header line is
detected (``header = "auto"``) when a column is given by name or when the first line's page
field is not an integer. Page values are decimal integers (page ids, or byte addresses with
``addresses``, then ``page = value >> 12``).

Read/write values are words or numbers, case-insensitive: ``r``, ``read``, ``l``, ``load``,
``get``, ``0``, ``false`` read; ``w``, ``write``, ``s``, ``store``, ``set``, ``m``, ``modify``,
``put``, ``update``, ``1``, ``true`` write.

Reading uses pandas' C parser in chunks (``chunksize``), every field as text first and then
converted with ``pandas.to_numeric``, so a bad field is found exactly and reported with its
line number (blank lines are not skipped: they are records with empty fields, hence errors).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from simulator.traces.base import (
    DEFAULT_CHUNK_RECORDS,
    MAX_LINE_BYTES,
    PAGE_SHIFT,
    Chunk,
    TraceError,
    check_file,
)
from simulator.traces.compressed import inner, open_bytes
from simulator.traces.options import TraceOptions

READ_WORDS = ("r", "read", "l", "load", "get", "0", "false")
WRITE_WORDS = ("w", "write", "s", "store", "set", "m", "modify", "put", "update", "1", "true")
_RW = {**dict.fromkeys(READ_WORDS, False), **dict.fromkeys(WRITE_WORDS, True)}
_INT = re.compile(r"^\s*[+-]?\d+\s*$")
_ROLES = ("column", "rw_column", "stream_column", "time_column")
_DEFAULT_NAMES: dict[str, tuple[str, ...]] = {
    "column": ("page", "id", "obj_id", "addr", "address"),
    "rw_column": ("write", "is_write", "rw"),
    "stream_column": ("stream",),
    "time_column": ("time", "ts", "timestamp"),
}
"""Header names a role takes when its option is empty (what ``trace convert`` writes)."""


def _parser_error(path: Path, text: str) -> TraceError:
    """pandas' ParserError as one line (its line numbers count every line of the file)."""
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if m:
        return TraceError(path, f"{m.group(3)} fields, but the first line has {m.group(1)}",
                          line=int(m.group(2)))
    m = re.search(r"line (\d+)", text)
    msg = text.strip().splitlines()[-1] if text.strip() else "malformed line"
    return TraceError(path, msg.rstrip("."), line=int(m.group(1)) if m else None)


class CsvReader:
    """Chunks of a delimited text trace."""

    format: ClassVar[str] = "csv"

    def __init__(self, path: str | Path, options: TraceOptions | None = None) -> None:
        self.path = check_file(path)
        opts = options or TraceOptions()
        self.addresses = opts.addresses
        sep = opts.delimiter or ","
        if sep == "," and inner(self.path).suffix.lower() == ".tsv":
            sep = "\t"
        self.sep = sep
        try:
            with open_bytes(self.path) as f:
                line = f.readline(MAX_LINE_BYTES + 1)
            if len(line) > MAX_LINE_BYTES:
                raise TraceError(self.path, "a line longer than 1 MiB: not a csv trace",
                                 line=1)
            first = line.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise TraceError(self.path, "not a text file (is --format right?)",
                             line=1) from None
        fields = first.split(sep)
        self.fields = len(fields)
        """Fields of the first line: every line must have as many (at most)."""
        specs = {role: getattr(opts, role).strip() for role in _ROLES}
        named = any(v and not v.isdigit() for v in specs.values())
        page_spec = specs["column"]
        page_guess = int(page_spec) if page_spec.isdigit() else 0
        if opts.header == "yes":
            self.header = True
        elif opts.header == "no":
            self.header = False
        else:
            self.header = named or (page_guess < len(fields)
                                    and not _INT.match(fields[page_guess]))
        names = [f.strip().strip('"') for f in fields] if self.header else []
        self.columns: dict[str, int] = {}
        for role, spec in specs.items():
            if not spec:
                spec = next((n for n in _DEFAULT_NAMES[role] if n in names),
                            "0" if role == "column" else "")
            if spec:
                self.columns[role] = self._resolve(role, spec, names, len(fields))
        self.names = names

    def _resolve(self, role: str, spec: str, names: list[str], nfields: int) -> int:
        if spec.isdigit():
            index = int(spec)
            if index >= nfields:
                raise TraceError(self.path, f"{role} {index} does not exist: the first line "
                                 f"has {nfields} field(s) (columns are numbered from 0)",
                                 line=1)
            return index
        if not self.header:
            raise TraceError(self.path, f"{role} {spec!r} is a name, but the file has no "
                             "header line (use a 0-based index)")
        if spec not in names:
            raise TraceError(self.path, f"no column {spec!r} in the header (columns: "
                             f"{', '.join(names)})", line=1)
        return names.index(spec)

    def chunks(self, records: int = DEFAULT_CHUNK_RECORDS) -> Iterator[Chunk]:
        skip = 1 if self.header else 0
        try:
            # every column, so that a line with more or fewer fields than the first is an error
            reader = pd.read_csv(
                self.path, sep=self.sep, header=None, skiprows=skip, dtype=str,
                keep_default_na=False, na_filter=False, skip_blank_lines=False,
                chunksize=records, engine="c", encoding="utf-8")
            row = 0
            with reader:
                for frame in reader:
                    yield self._chunk(frame, row, skip)
                    row += len(frame)
        except pd.errors.EmptyDataError:
            if not self.header:
                raise TraceError(self.path, "no records") from None
        except pd.errors.ParserError as e:
            raise _parser_error(self.path, str(e)) from None
        except UnicodeDecodeError as e:
            raise TraceError(self.path, f"not UTF-8 text ({e.reason})") from None
        except TraceError:
            raise
        except ValueError as e:
            # e.g. every data line has fewer fields than the column asked for
            raise TraceError(self.path, f"fields missing: {e}") from None

    def _chunk(self, frame: pd.DataFrame, row: int, skip: int) -> Chunk:
        line0 = row + skip + 1  # line number of the frame's first row
        pages = self._numbers(frame, "column", line0, integer=True).astype(np.uint64)
        if self.addresses:
            pages >>= np.uint64(PAGE_SHIFT)
        writes = None
        if "rw_column" in self.columns:
            col = frame[self.columns["rw_column"]]
            flags = col.str.strip().str.lower().map(_RW)
            missing = flags.isna().to_numpy()
            if missing.any():
                i = int(np.flatnonzero(missing)[0])
                self._fail("rw_column", col.iloc[i], line0 + i,
                           "r/w, read/write, 0/1 or another read or write word")
            writes = flags.to_numpy(dtype=np.bool_)
        streams = None
        if "stream_column" in self.columns:
            streams = self._numbers(frame, "stream_column", line0,
                                    integer=True).astype(np.int64)
        times = None
        if "time_column" in self.columns:
            times = self._numbers(frame, "time_column", line0,
                                  integer=False).astype(np.float64)
        return Chunk(pages=pages, writes=writes, streams=streams, times=times,
                     first_record=row)

    def _numbers(self, frame: pd.DataFrame, role: str, line0: int,
                 integer: bool) -> npt.NDArray[np.generic]:
        """The column of ``role`` as numbers; the first bad field raises TraceError."""
        col = frame[self.columns[role]]
        values = pd.to_numeric(col, errors="coerce").to_numpy()
        if values.dtype.kind == "u":
            return values
        if values.dtype.kind == "i":
            bad = values < 0 if integer else np.zeros(len(values), dtype=np.bool_)
        else:  # float: NaN where a field was not a number
            f = values.astype(np.float64)
            bad = ~np.isfinite(f)
            if integer:  # a page id is a uint64: 2**64 and more would wrap around
                bad |= (f != np.floor(f)) | (f < 0) | (f >= 2.0**64)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            self._fail(role, col.iloc[i], line0 + i,
                       "a non-negative integer" if integer else "a number")
        return values

    def _fail(self, role: str, value: object, line: int, expected: str) -> None:
        col = self.columns[role]
        name = f"{self.names[col]!r}" if self.names else str(col)
        raise TraceError(self.path, f"{role} {name}: expected {expected}, got {value!r}",
                         line=line)


__all__ = ["READ_WORDS", "WRITE_WORDS", "CsvReader"]

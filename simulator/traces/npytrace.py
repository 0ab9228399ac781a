"""numpy traces: ``.npy`` (memory-mapped) and ``.npz`` (members streamed out of the zip).

An array holds the records in one of three layouts:

* 1-D integers: the page ids, nothing else (an ``.npz`` may add 1-D members ``writes``,
  ``streams`` and ``times``, or members named by the ``*_column`` options);
* 2-D integers ``(records, columns)``: columns chosen by 0-based index (page: column 0);
* 1-D structured: fields chosen by name; the page field defaults to the first of ``page``,
  ``pages``, ``id``, ``obj_id``, ``addr``, ``address`` that exists, the write field to
  ``write``/``is_write``/``writes``, the stream field to ``stream``/``streams``, the time field
  to ``time``/``ts``/``timestamp``. ``mglru-sim trace convert`` writes this layout.

Page ids must be non-negative integers; write flags are booleans or integers (non-zero writes).
A ``.npy`` whose data is shorter than its header says is truncated: reported with the record
number before anything is read. ``.npz`` members are read through :mod:`zipfile` a chunk at a
time (``np.load`` would inflate a whole member), so compressed archives stream too.
"""

from __future__ import annotations

import tokenize
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np
import numpy.typing as npt

from simulator.traces.base import (
    DEFAULT_CHUNK_RECORDS,
    PAGE_SHIFT,
    Chunk,
    TraceError,
    check_file,
)
from simulator.traces.compressed import is_zst, open_bytes
from simulator.traces.options import TraceOptions

PAGE_FIELDS = ("page", "pages", "id", "obj_id", "addr", "address")
WRITE_FIELDS = ("write", "is_write", "writes")
STREAM_FIELDS = ("stream", "streams")
TIME_FIELDS = ("time", "ts", "timestamp", "times")
_ROLE_DEFAULTS = {"column": PAGE_FIELDS, "rw_column": WRITE_FIELDS,
                  "stream_column": STREAM_FIELDS, "time_column": TIME_FIELDS}


_CORRUPT = (zipfile.BadZipFile, zlib.error, EOFError, OSError)
"""What reading a damaged ``.npz`` member raises: a CRC mismatch, a corrupt deflate stream, a
cut-off archive."""


@dataclass(frozen=True, slots=True)
class _Header:
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    fortran: bool
    offset: int


def _read_header(fp: IO[bytes], path: Path, member: str = "") -> _Header:
    where = f"member {member!r}: " if member else ""
    try:
        major, _ = np.lib.format.read_magic(fp)
        if major == 1:
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        elif major == 2:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unsupported .npy format version {major}")
    except _CORRUPT as e:
        raise TraceError(path, f"{where}corrupt ({e})") from None
    except (ValueError, SyntaxError, TypeError, tokenize.TokenError) as e:
        # np.lib.format parses the header dict with the tokenizer: a corrupt header can fail
        # in any of these ways
        raise TraceError(path, f"{where}not a .npy array ({e})") from None
    if dtype.hasobject:
        raise TraceError(path, f"{where}object arrays are not traces")
    if any(int(n) < 0 for n in shape):
        raise TraceError(path, f"{where}not a .npy array (negative shape {tuple(shape)})")
    return _Header(tuple(int(n) for n in shape), dtype, bool(fortran), fp.tell())


class _Layout:
    """Where each role (page, write, stream, time) lives in a chunk of one array."""

    def __init__(self, header: _Header, opts: TraceOptions, path: Path, label: str,
                 only_pages: bool = False) -> None:
        self.path = path
        self.fields: dict[str, str | int | None] = {}
        dt, shape = header.dtype, header.shape
        specs = {role: getattr(opts, role).strip() for role in _ROLE_DEFAULTS}
        if only_pages:
            specs = {"column": ""}
        if dt.names:
            if len(shape) != 1:
                raise TraceError(path, f"{label}: a structured trace must be 1-D, got shape "
                                 f"{shape}")
            for role, spec in specs.items():
                if spec:
                    if spec not in dt.names:
                        raise TraceError(path, f"{label}: no field {spec!r} for {role} "
                                         f"(fields: {', '.join(dt.names)})")
                    self.fields[role] = spec
                else:
                    found = [n for n in _ROLE_DEFAULTS[role] if n in dt.names]
                    if found:
                        self.fields[role] = found[0]
            if "column" not in self.fields:
                raise TraceError(path, f"{label}: no page field (looked for "
                                 f"{', '.join(PAGE_FIELDS)}; fields: {', '.join(dt.names)})")
            _check_int(path, label, dt[self.fields["column"]])  # type: ignore[index]
        elif len(shape) == 2:
            for role, spec in specs.items():
                if spec and not spec.isdigit():
                    raise TraceError(path, f"{label}: {role} {spec!r}: a 2-D array's "
                                     "columns are chosen by 0-based index")
                index = int(spec) if spec else (0 if role == "column" else None)
                if index is not None:
                    if index >= shape[1]:
                        raise TraceError(path, f"{label}: {role} {index} does not exist "
                                         f"(the array has {shape[1]} columns)")
                    self.fields[role] = index
            _check_int(path, label, dt)
        elif len(shape) == 1:
            extra = [r for r, v in specs.items() if v and r != "column"]
            if extra and not only_pages:
                raise TraceError(path, f"{label}: a 1-D array holds page ids only "
                                 f"({', '.join(extra)} cannot apply)")
            self.fields["column"] = None
            _check_int(path, label, dt)
        else:
            raise TraceError(path, f"{label}: expected a 1-D, 2-D or structured array, got "
                             f"shape {shape}")

    def get(self, arr: npt.NDArray[Any], role: str) -> npt.NDArray[Any] | None:
        """The role's values in a chunk ``arr``, or ``None`` if the layout lacks it."""
        if role not in self.fields:
            return None
        key = self.fields[role]
        if key is None:
            return arr
        if isinstance(key, int):
            return arr[:, key]
        return arr[key]


def _check_int(path: Path, label: str, dt: np.dtype[Any]) -> None:
    if dt.kind not in "iu":
        raise TraceError(path, f"{label}: page ids must be integers, got dtype {dt}")


def _pages(path: Path, raw: npt.NDArray[Any], first: int, addresses: bool) -> npt.NDArray[
        np.uint64]:
    if raw.dtype.kind == "i" and raw.size and raw.min() < 0:
        i = int(np.flatnonzero(raw < 0)[0])
        raise TraceError(path, f"negative page id {int(raw[i])}", record=first + i + 1)
    pages = raw.astype(np.uint64)
    if addresses:
        pages >>= np.uint64(PAGE_SHIFT)
    return pages


def _flags(raw: npt.NDArray[Any] | None) -> npt.NDArray[np.bool_] | None:
    return None if raw is None else raw.astype(np.bool_)


def _ints(raw: npt.NDArray[Any] | None) -> npt.NDArray[np.int64] | None:
    return None if raw is None else raw.astype(np.int64)


def _floats(raw: npt.NDArray[Any] | None) -> npt.NDArray[np.float64] | None:
    return None if raw is None else raw.astype(np.float64)


class NpyReader:
    """Chunks of a memory-mapped ``.npy`` array."""

    format: ClassVar[str] = "npy"

    def __init__(self, path: str | Path, options: TraceOptions | None = None) -> None:
        self.path = check_file(path)
        self.opts = options or TraceOptions()
        with open_bytes(self.path) as f:
            self.header = _read_header(f, self.path)
        self.layout = _Layout(self.header, self.opts, self.path, "array")
        shape = self.header.shape
        self.records = shape[0] if shape else 0
        if self.records == 0:
            raise TraceError(self.path, "no records")
        if is_zst(self.path):
            if self.header.fortran and len(shape) > 1:
                raise TraceError(self.path, "a Fortran-ordered 2-D array cannot be streamed "
                                 "out of a .zst file (decompress it)")
            return  # a truncated array is found when the stream ends
        row = self.header.dtype.itemsize * (shape[1] if len(shape) == 2 else 1)
        have = self.path.stat().st_size - self.header.offset
        if have < self.records * row:
            whole = have // row
            raise TraceError(self.path, f"truncated: the header promises {self.records} "
                             f"records, the file holds {whole}", record=whole + 1,
                             offset=self.header.offset + whole * row)

    def _parts(self, records: int) -> Iterator[tuple[int, npt.NDArray[Any]]]:
        """``(first record, rows)`` of the array, ``records`` rows at a time."""
        if is_zst(self.path):
            with open_bytes(self.path) as fp:
                stream = _MemberStream(fp, "array", self.path)
                for start in range(0, self.records, records):
                    yield start, stream.read(start, min(records, self.records - start))
            return
        h = self.header
        data = np.memmap(self.path, dtype=h.dtype, mode="r", offset=h.offset, shape=h.shape,
                         order="F" if h.fortran else "C")
        for start in range(0, self.records, records):
            yield start, np.asarray(data[start:start + records])

    def chunks(self, records: int = DEFAULT_CHUNK_RECORDS) -> Iterator[Chunk]:
        lay = self.layout
        for start, part in self._parts(records):
            yield Chunk(pages=_pages(self.path, lay.get(part, "column"),  # type: ignore[arg-type]
                                     start, self.opts.addresses),
                        writes=_flags(lay.get(part, "rw_column")),
                        streams=_ints(lay.get(part, "stream_column")),
                        times=_floats(lay.get(part, "time_column")), first_record=start)


class _MemberStream:
    """One ``.npz`` member (or a ``.npy.zst`` stream) read sequentially, a chunk of rows at a
    time."""

    def __init__(self, fp: IO[bytes], name: str, path: Path) -> None:
        self.name, self.path = name, path
        self.fp = fp
        self.header = _read_header(self.fp, path, name)
        if self.header.fortran and len(self.header.shape) > 1:
            raise TraceError(path, f"member {name!r}: Fortran-ordered 2-D arrays cannot be "
                             "streamed")
        shape = self.header.shape
        self.rows = shape[0] if shape else 0
        self.row_shape = shape[1:]
        self.row_bytes = self.header.dtype.itemsize * int(np.prod(self.row_shape, dtype=np.int64))

    def read(self, start: int, n: int) -> npt.NDArray[Any]:
        try:
            data = self.fp.read(n * self.row_bytes)
        except _CORRUPT as e:
            raise TraceError(self.path, f"member {self.name!r}: corrupt ({e})",
                             record=start + 1) from None
        if len(data) < n * self.row_bytes:
            whole = start + len(data) // max(self.row_bytes, 1)
            raise TraceError(self.path, f"member {self.name!r} is truncated",
                             record=whole + 1)
        return np.frombuffer(data, dtype=self.header.dtype).reshape((n, *self.row_shape))


def _member(zf: zipfile.ZipFile, name: str, path: Path) -> _MemberStream:
    """The ``name`` member of an ``.npz`` archive, opened; a corrupt one is a TraceError."""
    try:
        fp = zf.open(name + ".npy")
    except _CORRUPT as e:
        raise TraceError(path, f"member {name!r}: corrupt ({e})") from None
    return _MemberStream(fp, name, path)


class NpzReader:
    """Chunks of an ``.npz`` archive.

    The page member is the one named by ``column``, else ``pages``, else the first. If it is
    2-D or structured, every role comes from it, as for ``.npy``. If it is 1-D, the other roles
    come from 1-D members of the same length: the one named by the option, else ``writes``,
    ``streams``, ``times``.
    """

    format: ClassVar[str] = "npz"

    _EXTRA_DEFAULTS: ClassVar[dict[str, str]] = {
        "rw_column": "writes", "stream_column": "streams", "time_column": "times"}

    def __init__(self, path: str | Path, options: TraceOptions | None = None) -> None:
        self.path = check_file(path)
        self.opts = options or TraceOptions()
        with self._open() as zf:
            names = [n[:-4] for n in zf.namelist() if n.endswith(".npy")]
            if not names:
                raise TraceError(self.path, "the archive holds no arrays")
            spec = self.opts.column.strip()
            self.page_member = spec if spec in names else (
                "pages" if "pages" in names else names[0])
            page = _member(zf, self.page_member, self.path)
            label = f"member {self.page_member!r}"
            self.extra: dict[str, str] = {}
            if len(page.header.shape) == 1 and not page.header.dtype.names:
                self.layout = _Layout(page.header, TraceOptions(), self.path, label)
                for role, default in self._EXTRA_DEFAULTS.items():
                    want = getattr(self.opts, role).strip()
                    if want and want not in names:
                        raise TraceError(self.path, f"{role}: no member {want!r} (members: "
                                         f"{', '.join(names)})")
                    if (want or default) in names:
                        self.extra[role] = want or default
            else:
                opts = self.opts
                if spec == self.page_member:
                    opts = TraceOptions(rw_column=opts.rw_column,
                                        stream_column=opts.stream_column,
                                        time_column=opts.time_column)
                self.layout = _Layout(page.header, opts, self.path, label)
            self.records = page.rows
            for name in self.extra.values():
                s = _member(zf, name, self.path)
                if len(s.header.shape) != 1 or s.rows != self.records \
                        or s.header.dtype.kind not in "biuf":
                    raise TraceError(self.path, f"member {name!r} must be a 1-D numeric "
                                     f"array of {self.records} rows like "
                                     f"{self.page_member!r}, got {s.header.dtype} "
                                     f"{s.header.shape}")
        if self.records == 0:
            raise TraceError(self.path, "no records")

    def _open(self) -> zipfile.ZipFile:
        if is_zst(self.path):
            raise TraceError(self.path, ".npz archives are compressed already; a .npz.zst is "
                             "not read (decompress it, or save with np.savez_compressed)")
        try:
            return zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as e:
            raise TraceError(self.path, f"not a readable .npz archive ({e})") from None

    def chunks(self, records: int = DEFAULT_CHUNK_RECORDS) -> Iterator[Chunk]:
        lay = self.layout
        with self._open() as zf:
            page = _member(zf, self.page_member, self.path)
            extra = {role: _member(zf, name, self.path)
                     for role, name in self.extra.items()}
            for start in range(0, self.records, records):
                n = min(records, self.records - start)
                main = page.read(start, n)
                values = {role: s.read(start, n) for role, s in extra.items()}
                for role in ("rw_column", "stream_column", "time_column"):
                    if role not in values:
                        got = lay.get(main, role)
                        if got is not None:
                            values[role] = got
                yield Chunk(pages=_pages(self.path, lay.get(main, "column"),  # type: ignore[arg-type]
                                         start, self.opts.addresses),
                            writes=_flags(values.get("rw_column")),
                            streams=_ints(values.get("stream_column")),
                            times=_floats(values.get("time_column")), first_record=start)


__all__ = ["PAGE_FIELDS", "STREAM_FIELDS", "TIME_FIELDS", "WRITE_FIELDS", "NpyReader",
           "NpzReader"]

"""What every trace reader shares: the chunk type, the options, the error, format detection.

A *trace* is a recorded sequence of memory references. Readers turn a file into a stream of
:class:`Chunk` objects, each holding a bounded number of consecutive records, so a trace larger
than memory replays in bounded memory. A record is one touch of one page: the page id (an
arbitrary ``uint64``: a block number, a page frame, or ``address >> 12``), and, where the format
carries them, a write flag, a stream (thread, CPU) number and a timestamp.

Every reader raises :class:`TraceError` for a missing, empty or corrupt file, naming the file
and the line (text formats) or the record and byte offset (binary formats), so the CLI prints
one line and exits 2. :class:`TraceError` is a :class:`~simulator.params.ConfigError`: a trace
is scenario input, and every command that catches bad scenario input catches bad traces too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from simulator.params import ConfigError

PAGE_SHIFT = 12
"""``log2`` of the 4 KiB page: ``page = address >> PAGE_SHIFT`` for byte-address traces."""

MAX_LINE_BYTES = 1 << 20
"""The longest line a text trace may have (1 MiB): a longer one is not a trace, and reading it
whole would hold it all in memory."""

DEFAULT_CHUNK_RECORDS = 1 << 16
"""Records per chunk unless a caller asks otherwise (about 1.5 MiB of arrays)."""

FORMATS: tuple[str, ...] = ("csv", "npy", "npz", "oracleGeneral", "lackey")
"""Trace formats with a reader; ``auto`` picks one from the file name (:func:`detect_format`)."""

PageIds = npt.NDArray[np.uint64]
"""Raw (sparse) page ids as the trace gives them."""


class TraceError(ConfigError):
    """A trace file is missing, empty, malformed or does not fit the options.

    ``str()`` is one line: ``FILE: line N: what was wrong`` (text formats) or
    ``FILE: record N (byte offset B): what was wrong`` (binary formats). Lines and records are
    numbered from 1.
    """

    def __init__(self, path: str | Path, message: str, *, line: int | None = None,
                 record: int | None = None, offset: int | None = None) -> None:
        where = ""
        if line is not None:
            where = f"line {line}: "
        elif record is not None:
            where = f"record {record}" + (f" (byte offset {offset})" if offset is not None
                                          else "") + ": "
        super().__init__(str(path), "", where + message)
        self.line = line
        self.record = record


@dataclass(frozen=True, slots=True)
class Chunk:
    """Consecutive trace records ``first_record .. first_record + len(pages) - 1`` (0-based)."""

    pages: PageIds
    """Raw page ids, ``uint64``."""

    writes: npt.NDArray[np.bool_] | None
    """Per-record write flag, or ``None`` when the format does not record reads vs writes."""

    streams: npt.NDArray[np.int64] | None
    """Per-record stream (thread/CPU) number from the chosen column, or ``None``."""

    times: npt.NDArray[np.float64] | None
    """Per-record timestamp in the trace's own unit, or ``None``."""

    first_record: int
    """Index of the first record of this chunk in the whole trace."""

    def __len__(self) -> int:
        return len(self.pages)


class TraceReader(Protocol):
    """A trace file opened for (repeatable) streaming."""

    format: ClassVar[str]
    path: Path

    def chunks(self, records: int = DEFAULT_CHUNK_RECORDS) -> Iterator[Chunk]:
        """Stream the whole trace from its first record, ``records`` records per chunk (the
        last chunk may be shorter; a reader may also yield shorter chunks at its own
        boundaries). Each call starts over. Raises :class:`TraceError` on corrupt input."""
        ...


_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".npy": "npy", ".npz": "npz",
             ".bin": "oracleGeneral", ".oraclegeneral": "oracleGeneral", ".lackey": "lackey"}


def _head(path: Path, n: int = 4096) -> bytes:
    """The first ``n`` bytes of the file, decompressed if it is ``.zst``."""
    try:
        with path.open("rb") as f:
            if not path.name.lower().endswith(".zst"):
                return f.read(n)
            import zstandard

            with zstandard.ZstdDecompressor().stream_reader(f) as z:
                return z.read(n)
    except OSError as e:
        raise TraceError(path, f"cannot read: {e.strerror or e}") from None
    except Exception as e:  # zstandard.ZstdError: not a zstd stream
        raise TraceError(path, f"not a readable zstd stream ({e})") from None


def detect_format(path: Path) -> str:
    """The format of ``path`` from its name (without a ``.zst`` suffix), else from its first
    (decompressed) bytes.

    ``.csv``/``.tsv`` csv, ``.npy``, ``.npz``, ``.bin``/``.oracleGeneral`` oracleGeneral,
    ``.lackey`` lackey; any other name (``.txt``, ``.log``, ``.out``) is sniffed: lines that
    look like lackey's (``==PID==`` banners, ``I  addr,size``, `` L addr,size``) make it
    lackey, otherwise csv. Raises :class:`TraceError` if the file cannot be read.
    """
    name = path.name.lower().removesuffix(".zst")
    if "oraclegeneral" in name and not name.endswith((".csv", ".npy", ".npz")):
        return "oracleGeneral"
    fmt = _SUFFIXES.get(Path(name).suffix)
    if fmt is not None:
        return fmt
    head = _head(path)
    lines = [ln for ln in head.split(b"\n")[:20] if ln.strip()]
    if lines and all(ln.startswith((b"==", b"I ", b" L ", b" S ", b" M ")) for ln in lines[:-1]):
        return "lackey"
    return "csv"


def check_file(path: str | Path) -> Path:
    """``path`` as a :class:`Path` if it is a readable, non-empty regular file."""
    p = Path(path)
    if not str(path):
        raise TraceError("<trace>", "no trace file given")
    try:
        st = p.stat()
    except FileNotFoundError:
        raise TraceError(p, "no such file") from None
    except OSError as e:
        raise TraceError(p, f"cannot read: {e.strerror or e}") from None
    if not p.is_file():
        raise TraceError(p, "not a regular file")
    if st.st_size == 0:
        raise TraceError(p, "empty trace (0 bytes)")
    return p


__all__ = [
    "DEFAULT_CHUNK_RECORDS", "FORMATS", "MAX_LINE_BYTES", "PAGE_SHIFT", "Chunk", "PageIds",
    "TraceError", "TraceReader", "check_file", "detect_format",
]

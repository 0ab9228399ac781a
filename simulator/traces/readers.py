"""Open a trace by format name: the registry of readers."""

from __future__ import annotations

from pathlib import Path

from simulator.traces.base import (
    FORMATS,
    TraceError,
    TraceReader,
    check_file,
    detect_format,
)
from simulator.traces.compressed import FORMAT_ALIASES
from simulator.traces.csvtrace import CsvReader
from simulator.traces.lackey import LackeyReader
from simulator.traces.npytrace import NpyReader, NpzReader
from simulator.traces.options import TraceOptions
from simulator.traces.oracle import OracleGeneralReader

READERS: dict[str, type[CsvReader | NpyReader | NpzReader | OracleGeneralReader | LackeyReader]]
READERS = {cls.format: cls for cls in (CsvReader, NpyReader, NpzReader, OracleGeneralReader,
                                       LackeyReader)}
assert tuple(READERS) == FORMATS


def open_trace(path: str | Path, options: TraceOptions | None = None) -> TraceReader:
    """A reader for ``path`` in ``options.format`` (``auto``: from the name, see
    :func:`~simulator.traces.base.detect_format`; libCacheSim's names are aliases, see
    :data:`~simulator.traces.compressed.FORMAT_ALIASES`), ``.zst`` or not. Raises
    :class:`TraceError` if the file is missing, empty, of an unknown format or does not fit the
    options."""
    opts = options or TraceOptions()
    p = check_file(path)
    fmt = detect_format(p) if opts.format == "auto" else opts.format
    fmt = FORMAT_ALIASES.get(fmt, fmt)
    if fmt not in READERS:
        raise TraceError(p, f"unknown trace format {fmt!r} (known: auto, {', '.join(FORMATS)})")
    reader: TraceReader = READERS[fmt](p, opts)
    return reader


__all__ = ["READERS", "open_trace"]

"""zstd-compressed traces (``.zst``), as libCacheSim distributes them.

A trace whose name ends in ``.zst`` is read through a streaming zstd decompressor by every
reader (csv, npy, oracleGeneral, lackey); its format comes from the name without ``.zst``
(``cloudPhysicsIO.oracleGeneral.bin.zst`` is oracleGeneral) or, failing that, from its first
decompressed bytes. Readers that memory-map a plain file read a compressed one sequentially
instead, a chunk at a time, so memory stays bounded; a truncated record is then found when the
stream ends (a plain file's size tells before the first record). ``.npz`` archives are
compressed already and are not read as ``.npz.zst``. Formats also take libCacheSim's names
(:data:`FORMAT_ALIASES`: ``oracleGeneralBin``, ``txt``).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import zstandard

from simulator.traces.base import TraceError

ZST_SUFFIX = ".zst"

FORMAT_ALIASES: dict[str, str] = {"oracleGeneralBin": "oracleGeneral", "txt": "csv"}
"""libCacheSim's trace-type names (``cachesim TRACE TYPE``) for the formats read here: its
``txt`` (one id per line) is a one-column csv."""


def is_zst(path: Path) -> bool:
    """Whether ``path`` names a zstd-compressed file."""
    return path.name.lower().endswith(ZST_SUFFIX)


def inner(path: Path) -> Path:
    """``path`` without a ``.zst`` suffix (the name the format is told from)."""
    return path.with_name(path.name[:-len(ZST_SUFFIX)]) if is_zst(path) else path


@contextmanager
def open_bytes(path: Path) -> Iterator[IO[bytes]]:
    """The file's bytes, decompressed if it is ``.zst``; a corrupt stream raises
    :class:`TraceError` naming the file."""
    with path.open("rb") as raw:
        if not is_zst(path):
            yield raw
            return
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        try:
            yield io.BufferedReader(reader)
        except zstandard.ZstdError as e:
            raise TraceError(path, f"not a readable zstd stream ({e})") from None


def read_exact(fp: IO[bytes], n: int) -> bytes:
    """Up to ``n`` bytes: fewer only at the end of the stream (a decompressor may return
    short reads)."""
    parts, got = [], 0
    while got < n:
        part = fp.read(n - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


__all__ = ["FORMAT_ALIASES", "ZST_SUFFIX", "inner", "is_zst", "open_bytes", "read_exact"]

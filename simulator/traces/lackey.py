"""valgrind ``--tool=lackey --trace-mem=yes`` output.

Lackey prints one line per memory reference (valgrind ``lackey/lk_main.c``, ``trace_load`` and
friends): ``I  %08lx,%lu`` for an instruction fetch and `` L``, `` S``, `` M`` (load, store,
modify) followed by ``%08lx,%lu`` for data, address in hex and size in bytes. Lines starting with
``==`` are valgrind's banner and summary (they appear when the trace went to ``--log-file``),
``SB`` lines come from ``--trace-superblocks=yes``; both are skipped, as are blank lines.

Each reference becomes one record of page ``address >> 12``: ``L`` reads, ``S`` writes, ``M``
(a load and a store to the same address, e.g. ``inc`` on memory) is one record that writes.
Instruction fetches are dropped unless ``instructions`` is set, then they are reads. An access
that straddles a page boundary counts for the page of its first byte only.

Parsing is vectorised over a whole block of bytes: line boundaries, the record kind, the hex
address (up to 16 digits, read four bits at a time across all lines at once) and the size field
are found with numpy, so there is no Python loop per line. Anything else (another program's
output on the same stream, a cut-off line) is an error naming the line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from simulator.traces.base import (
    DEFAULT_CHUNK_RECORDS,
    MAX_LINE_BYTES,
    PAGE_SHIFT,
    Chunk,
    TraceError,
    check_file,
)
from simulator.traces.compressed import open_bytes
from simulator.traces.options import TraceOptions

BYTES_PER_RECORD = 16
"""Bytes read per requested record: lackey lines are 14 to 28 bytes long."""

_HEX = np.full(256, 255, dtype=np.uint8)
_HEX[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10, dtype=np.uint8)
_HEX[np.frombuffer(b"abcdef", np.uint8)] = np.arange(10, 16, dtype=np.uint8)
_HEX[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16, dtype=np.uint8)

_DIGIT = np.zeros(256, dtype=np.bool_)
_DIGIT[np.frombuffer(b"0123456789", np.uint8)] = True

_NL, _CR, _SP, _COMMA = 10, 13, 32, 44
_I, _L, _S, _M, _EQ, _B = (ord(c) for c in "ILSM=B")


def _at(buf: npt.NDArray[np.uint8], pos: npt.NDArray[np.int64],
        ok: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint8]:
    """``buf[pos]`` where ``ok``, 0 elsewhere (positions past a line's end are not read)."""
    return np.where(ok, buf[np.where(ok, pos, 0)], 0).astype(np.uint8)


class LackeyReader:
    """Chunks of a lackey trace: page ids and write flags (no streams, no timestamps)."""

    format: ClassVar[str] = "lackey"

    def __init__(self, path: str | Path, options: TraceOptions | None = None) -> None:
        self.path = check_file(path)
        opts = options or TraceOptions()
        for name in ("column", "rw_column", "stream_column", "time_column"):
            if getattr(opts, name):
                raise TraceError(self.path, f"lackey traces have no columns "
                                 f"({name} = {getattr(opts, name)!r} cannot apply)")
        self.instructions = opts.instructions

    def chunks(self, records: int = DEFAULT_CHUNK_RECORDS) -> Iterator[Chunk]:
        block_bytes = max(64, records * BYTES_PER_RECORD)
        first_record, line_base, carry = 0, 0, b""
        with open_bytes(self.path) as f:
            while True:
                data = f.read(block_bytes)
                at_eof = not data
                block = carry + data
                if at_eof:
                    if not block:
                        return
                    if not block.endswith(b"\n"):
                        block += b"\n"
                    carry = b""
                else:
                    cut = block.rfind(b"\n") + 1
                    block, carry = block[:cut], block[cut:]
                    if len(carry) > MAX_LINE_BYTES:
                        raise TraceError(self.path, "a line longer than 1 MiB: not a lackey "
                                         "trace", line=line_base + block.count(b"\n") + 1)
                    if not block:
                        continue  # a line longer than a block: keep reading
                pages, writes, lines = self._parse(block, line_base)
                line_base += lines
                if len(pages):
                    yield Chunk(pages=pages, writes=writes, streams=None, times=None,
                                first_record=first_record)
                    first_record += len(pages)
                if at_eof:
                    return

    def _parse(self, block: bytes, line_base: int
               ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_], int]:
        """Records of a block of whole lines; returns (pages, writes, number of lines)."""
        buf = np.frombuffer(block, dtype=np.uint8)
        ends = np.flatnonzero(buf == _NL).astype(np.int64)
        starts = np.empty_like(ends)
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
        has_cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == _CR)
        ends = ends - has_cr
        length = ends - starts
        c0 = _at(buf, starts, length > 0)
        c1 = _at(buf, starts + 1, length > 1)
        c2 = _at(buf, starts + 2, length > 2)
        skip = (length == 0) | ((c0 == _EQ) & (c1 == _EQ)) | ((c0 == _S) & (c1 == _B))
        instr = (c0 == _I) & (c1 == _SP) & (c2 == _SP)
        data = (c0 == _SP) & ((c1 == _L) | (c1 == _S) | (c1 == _M)) & (c2 == _SP)
        rec = instr | data
        bad = ~(skip | rec)
        idx = np.flatnonzero(rec)
        s, e = starts[idx], ends[idx]
        commas = np.flatnonzero(buf == _COMMA)
        k = np.searchsorted(commas, s + 3)
        comma = e.copy()
        found = k < len(commas)
        comma[found] = np.minimum(commas[k[found]], e[found])  # a later line's comma: none
        ndig = comma - (s + 3)
        ok = (comma < e) & (ndig >= 1) & (ndig <= 16)
        addr = np.zeros(len(idx), dtype=np.uint64)
        for bit in range(16):
            use = ok & (bit < ndig)
            nib = _HEX[_at(buf, comma - 1 - bit, use)]
            ok &= ~use | (nib != 255)
            addr |= np.where(use, nib, 0).astype(np.uint64) << np.uint64(4 * bit)
        digits = np.concatenate(([0], np.cumsum(_DIGIT[buf], dtype=np.int64)))
        size_len = e - comma - 1
        ok &= (size_len >= 1) & (digits[e] - digits[np.minimum(comma + 1, e)] == size_len)
        bad[idx[~ok]] = True
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            text = block[starts[first]:ends[first]].decode("utf-8", "replace")
            shown = text if len(text) <= 60 else text[:57] + "..."
            raise TraceError(self.path, f"not a lackey line: {shown!r} (expected 'I  addr,size'"
                             " or ' L|S|M addr,size')", line=line_base + first + 1)
        kind = c1[idx]
        keep = np.ones(len(idx), dtype=np.bool_) if self.instructions else (c0[idx] != _I)
        pages = (addr >> np.uint64(PAGE_SHIFT))[keep]
        writes = ((c0[idx] == _SP) & ((kind == _S) | (kind == _M)))[keep]
        return pages, writes, len(ends)


__all__ = ["LackeyReader"]

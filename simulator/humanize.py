"""Numbers for people: durations in ns/µs/ms/s, sizes in KiB/MiB/GiB, counts with separators.

What the terminal and the report show; files keep exact machine units (integer ns, bytes,
pages). :func:`size_text` is the exact form a scenario file takes (``"256MiB"``), which
``config.toml`` uses so that a run's configuration reads as it was written.
"""

from __future__ import annotations

import math
from typing import Any

from simulator.units import PAGE_SIZE

_BINARY = (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10))
_TIMES = (("s", 1e9), ("ms", 1e6), ("µs", 1e3))


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _sig(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits, without an exponent or trailing zeros."""
    if x == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    return f"{x:,.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{x:,.0f}"


def duration(ns: Any) -> str:
    """``817 µs``, ``28.5 ms``, ``1.98 s``, ``950 ns`` (three significant digits)."""
    if _missing(ns):
        return "-"
    x = float(ns)
    for unit, scale in _TIMES:
        if abs(x) >= scale:
            return f"{_sig(x / scale)} {unit}"
    return f"{_sig(x)} ns"


def size(nbytes: Any) -> str:
    """``768 MiB``, ``1 GiB``, ``1.5 GiB``, ``512 B`` (three significant digits)."""
    if _missing(nbytes):
        return "-"
    x = float(nbytes)
    for unit, scale in _BINARY:
        if abs(x) >= scale:
            return f"{_sig(x / scale)} {unit}"
    return f"{_sig(x)} B"


def pages(n: Any) -> str:
    """``1 GiB (262,144 pages)``: 4 KiB pages as a size, and the count."""
    if _missing(n):
        return "-"
    return f"{size(int(n) * PAGE_SIZE)} ({int(n):,} pages)"


def count(v: Any) -> str:
    """``7,261,184``; a float is rounded to a whole number first."""
    if _missing(v):
        return "-"
    return f"{round(float(v)):,}"


def ratio(v: Any) -> str:
    """``0.05159`` (four significant digits), ``1`` for exactly one."""
    if _missing(v):
        return "-"
    return f"{float(v):.4g}"


def size_text(nbytes: int) -> str | int:
    """The exact size as a scenario file writes it: ``"256MiB"`` when a binary unit divides
    it, else the byte count (an int); ``0`` stays ``0``."""
    for unit, scale in _BINARY:
        if nbytes and nbytes % scale == 0:
            return f"{nbytes // scale}{unit}"
    return nbytes


__all__ = ["count", "duration", "pages", "ratio", "size", "size_text"]

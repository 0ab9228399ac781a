"""Units: the page size, and sizes written with units (``"4GiB"``, ``"256M"``).

A leaf module (it imports nothing of the simulator): the configuration, the trace readers and
the workloads all need these, and the configuration imports the other two.
"""

from __future__ import annotations

import re
from fractions import Fraction

PAGE_SIZE = 4096
"""Bytes per base page (x86-64 and arm64 with a 4 KiB granule)."""

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_size(text: object) -> int:
    """Bytes from ``"4GiB"``, ``"256M"``, ``"1G"``, ``"4096"`` or an int. Raises ValueError.

    The ``K/M/G/T`` suffixes are binary, as in the kernel selftests' ``parse_size()``.
    """
    if isinstance(text, bool):
        raise ValueError("a size, not a boolean")
    if isinstance(text, int):
        if text < 0:
            raise ValueError("a size must not be negative")
        return text
    if not isinstance(text, str):
        raise ValueError(f"a size like '4GiB', '256M' or a byte count, not {text!r}")
    m = _SIZE_RE.match(text)
    if not m:
        raise ValueError(f"a size like '4GiB', '256M' or a byte count, not {text!r}")
    value = Fraction(m.group(1)) * _UNITS[m.group(2).upper()]  # exact, however large
    if value.denominator != 1:
        raise ValueError(f"size {text!r} is not a whole number of bytes")
    return int(value)


__all__ = ["PAGE_SIZE", "parse_size"]

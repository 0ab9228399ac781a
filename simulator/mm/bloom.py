"""The aging walk's double-buffered Bloom filters over PTE tables (mm/vmscan.c).

Models ``get_item_key`` (``hash_ptr(item, 30)`` split into two 15-bit keys), ``test_bloom_filter``,
``update_bloom_filter`` and ``reset_bloom_filter``: m = 2^15 bits, k = 2, two filters indexed by
``seq % NR_BLOOM_FILTERS``. The walker tests ``filters[walk->seq]`` and inserts into
``filters[walk->seq + 1]``, which the first mm of an iteration clears. A filter that was never
allocated tests true (scan everything), as in the kernel before the first iteration.

The kernel's item is the address of the PMD entry; here it is a stable synthetic address built
from the mm id and the PTE table index, hashed with the kernel's ``hash_64`` (multiplication by
GOLDEN_RATIO_64, top bits), so false positives behave like the kernel's (~1/5 at n = 10,000).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from simulator.mm.constants import BLOOM_FILTER_SHIFT, NR_BLOOM_FILTERS

GOLDEN_RATIO_64 = np.uint64(0x61C8864680B583EB)
_BITS = 1 << BLOOM_FILTER_SHIFT
_PMD_BASE = 0xFFFF_8880_0000_0000
"""A kernel direct-map address: the synthetic PMD pages live there, 4 KiB apart per 512 tables."""


def pmd_item(mm_id: int, tables: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
    """The address of the PMD entry that points to each PTE table (8 bytes per entry)."""
    addr = _PMD_BASE + (mm_id << 32) + tables.astype(np.uint64) * np.uint64(8)
    return np.asarray(addr, dtype=np.uint64)


def get_item_key(items: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[np.int64], ...]:
    """``hash_ptr(item, 30)`` → (low 15 bits, high 15 bits)."""
    with np.errstate(over="ignore"):
        h = (items * GOLDEN_RATIO_64) >> np.uint64(64 - 2 * BLOOM_FILTER_SHIFT)
    mask = np.uint64(_BITS - 1)
    return (h & mask).astype(np.int64), (h >> np.uint64(BLOOM_FILTER_SHIFT)).astype(np.int64)


class BloomFilters:
    """``lru_gen_mm_state.filters[NR_BLOOM_FILTERS]``."""

    def __init__(self) -> None:
        self.bits = np.zeros((NR_BLOOM_FILTERS, _BITS), dtype=bool)
        self.allocated = np.zeros(NR_BLOOM_FILTERS, dtype=bool)

    def reset(self, seq: int) -> None:
        """``reset_bloom_filter``: clear (allocating on first use) ``filters[seq % 2]``."""
        gen = seq % NR_BLOOM_FILTERS
        self.bits[gen] = False
        self.allocated[gen] = True

    def test(self, seq: int, items: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
        """``test_bloom_filter``: both key bits set (or the filter is missing)."""
        gen = seq % NR_BLOOM_FILTERS
        if not self.allocated[gen]:
            return np.ones(len(items), dtype=bool)
        k0, k1 = get_item_key(items)
        out: npt.NDArray[np.bool_] = self.bits[gen, k0] & self.bits[gen, k1]
        return out

    def update(self, seq: int, items: npt.NDArray[np.uint64]) -> None:
        """``update_bloom_filter``: set both key bits (no-op on a missing filter)."""
        gen = seq % NR_BLOOM_FILTERS
        if not self.allocated[gen] or len(items) == 0:
            return
        k0, k1 = get_item_key(items)
        self.bits[gen, k0] = True
        self.bits[gen, k1] = True

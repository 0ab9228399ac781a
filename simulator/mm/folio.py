"""Folios of more than one page: PMD-mapped 2 MiB THPs over the per-page arrays.

Every per-page array of the model (PTE bits, LRU state, shadow tokens, truth) stays indexed by
page; this module adds the folio layer on top. The only large folio the model has is the anon
PMD-mapped THP of ``do_huge_pmd_anonymous_page`` (``vm.thp`` / ``task.thp = "always"``): 512
pages, 2 MiB aligned, mapped by one PMD. It is therefore exactly one PTE table's range, and one
bit per table (:attr:`FolioMap.huge`) says whether that range is one THP. A folio's state lives
on its *head* (the table's first page): LRU membership, gen, refs, tier, PG_workingset, and the
PMD's A and D bits (``pt.young[head]``; the tails' bits stay clear). Every size counter moves by
``folio_nr_pages`` (:meth:`FolioMap.sizes`).

Not modelled, and why: mTHP (PTE-mapped large folios of orders 1-8, ≥6.8): off by default in
sysfs and needing the per-PTE look-around rules of kernel-round2 D.3; PTE-mapped THPs (a PMD split
by mprotect, partial munmap or ``split_huge_pmd``): nothing in the model splits a mapping
without unmapping the folio; khugepaged collapse: a range that once held 4 KiB folios stays
4 KiB (its PTE table exists, so the fault is not ``pmd_none``).

When no THP exists (every run with ``thp = "never"``), :meth:`FolioMap.sizes` returns None and
callers keep their 4 KiB code paths unchanged: a run without THP does the same arithmetic it did
before the folio layer existed.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from simulator.mm.constants import PTRS_PER_PTE

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

HPAGE_PMD_NR = PTRS_PER_PTE
"""Pages of a PMD-mapped THP (``HPAGE_PMD_NR``: 512 with 4 KiB pages)."""
_HEAD_MASK = ~np.int64(HPAGE_PMD_NR - 1)


class FolioMap:
    """Which PTE-table ranges are one PMD-mapped THP, and folio arithmetic over page indices."""

    def __init__(self, nr_tables: int) -> None:
        self.huge: BoolArray = np.zeros(nr_tables, dtype=bool)
        """The table's 2 MiB is one PMD-mapped THP (its folio head is the first page)."""
        self.nr_huge = 0

    def set_huge(self, tables: IntArray) -> None:
        fresh = tables[~self.huge[tables]]
        self.huge[fresh] = True
        self.nr_huge += len(fresh)

    def clear_huge(self, tables: IntArray) -> None:
        gone = tables[self.huge[tables]]
        self.huge[gone] = False
        self.nr_huge -= len(gone)

    def heads(self, pages: IntArray) -> IntArray:
        """The folio head of each page (``page_folio``)."""
        if self.nr_huge == 0:
            return pages
        out: IntArray = np.where(self.huge[pages // HPAGE_PMD_NR], pages & _HEAD_MASK, pages)
        return out

    def sizes(self, heads: IntArray) -> IntArray | None:
        """``folio_nr_pages`` of each head, or None when every folio is one page."""
        if self.nr_huge == 0:
            return None
        out: IntArray = np.where(self.huge[heads // HPAGE_PMD_NR], HPAGE_PMD_NR, 1)
        return out

    def total(self, heads: IntArray) -> int:
        """Pages in the folios of ``heads``."""
        sizes = self.sizes(heads)
        return len(heads) if sizes is None else int(sizes.sum())

    def is_large(self, heads: IntArray) -> BoolArray:
        if self.nr_huge == 0:
            return np.zeros(len(heads), dtype=bool)
        large: BoolArray = self.huge[heads // HPAGE_PMD_NR]
        return large

    def expand(self, heads: IntArray) -> IntArray:
        """Every page of the folios of ``heads``, folio after folio."""
        return expand_ranges(heads, self.sizes(heads))


def expand_ranges(starts: IntArray, sizes: IntArray | None) -> IntArray:
    """``[start, start + size)`` of every range, concatenated in order."""
    if sizes is None:
        return starts
    total = int(sizes.sum())
    firsts = np.cumsum(sizes) - sizes
    out: IntArray = (np.repeat(starts - firsts, sizes) + np.arange(total, dtype=np.int64))
    return out


def map_pmd(present: BoolArray, young: BoolArray, dirty: BoolArray, tables: IntArray,
            write: BoolArray) -> IntArray:
    """Map each table's 2 MiB as one young leaf (dirty where ``write``): every page present,
    the A and D bits on the first page only. Returns the first pages (the leaves)."""
    heads: IntArray = tables * HPAGE_PMD_NR
    pages = (heads[:, None] + np.arange(HPAGE_PMD_NR, dtype=np.int64)[None, :]).reshape(-1)
    present[pages] = True
    young[pages] = False
    dirty[pages] = False
    young[heads] = True
    dirty[heads] = write
    return heads


def expand_mask(heads_mask: BoolArray, folios: FolioMap) -> BoolArray:
    """A per-page mask set on folio heads, extended to every page of each large folio."""
    if folios.nr_huge == 0:
        return heads_mask
    tables = np.flatnonzero(folios.huge)
    out = heads_mask.copy()
    starts = tables * HPAGE_PMD_NR
    out[expand_ranges(starts, np.full(len(starts), HPAGE_PMD_NR, dtype=np.int64))] = \
        np.repeat(heads_mask[starts], HPAGE_PMD_NR)
    return out


def weighted_bincount(keys: npt.NDArray[np.integer], sizes: IntArray | None,
                      minlength: int) -> IntArray:
    """``np.bincount`` of ``keys`` counting each by its folio's pages (1 without sizes)."""
    if sizes is None:
        counts: IntArray = np.bincount(keys, minlength=minlength)
        return counts
    weighted: IntArray = np.bincount(keys, weights=sizes, minlength=minlength).astype(np.int64)
    return weighted


__all__ = ["HPAGE_PMD_NR", "FolioMap", "expand_mask", "expand_ranges", "map_pmd",
           "weighted_bincount"]

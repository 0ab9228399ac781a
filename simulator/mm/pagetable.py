"""Primary (host) page tables: present / young / dirty / swapped bits per page, 512 per table.

Models the leaf PTEs the MGLRU page-table walker (``walk_pte_range``) and the rmap walker
(``folio_referenced_one``) read. Every simulated mm (the VMM process that maps guest memory, a
host task) owns a contiguous, 2 MiB-aligned region of one flat page index space, so the page
index doubles as PFN and as the virtual page number inside its mm, and ``page >> 9`` is the PTE
table. Simplifications: one VMA per mm covering the whole region (look-around windows are
clipped only by the PTE table); no non-leaf PMD A bit (it is disabled for mms with notifiers
anyway, ``walk_pmd_range``); one memcg, one node.

PMD-mapped THPs (``simulator.mm.folio``): an mm with ``thp = "always"`` gets a 2 MiB folio
at the first touch of a PMD range that has no PTE table yet (``do_huge_pmd_anonymous_page`` on
``pmd_none``), provided the range lies wholly inside the mm (``thp_vma_suitable_order``: the
VMA covers the aligned 2 MiB). The PMD's A and D bits are kept on the folio's head page. Swap-out
replaces the PMD with a PTE table of swap entries (``TTU_SPLIT_HUGE_PMD``), so the range is
4 KiB from then on: refaults come back as 4 KiB folios (``do_swap_page`` allocates order 0
for a PMD range; mTHP swap-in below PMD order, ≈6.13, needs sysfs orders the model leaves off).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulator.mm.constants import PTRS_PER_PTE
from simulator.mm.folio import FolioMap, map_pmd

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

MM_ID_DTYPE = np.int8
"""The type of an mm id (``mm_of_table``); the configuration caps the number of mms by it."""
MAX_MMS = int(np.iinfo(MM_ID_DTYPE).max) + 1
"""How many mms (VMs and the host task) one run can have: ids 0 .. MAX_MMS - 1."""


@dataclass(frozen=True, slots=True)
class Region:
    """One mm's mapping: pages ``[start, start + pages)`` of the flat index space."""

    mm_id: int
    name: str
    start: int
    pages: int
    has_notifiers: bool
    thp: bool = False
    """``thp = "always"``: a first touch of an empty, wholly covered PMD range maps a THP."""

    @property
    def end(self) -> int:
        return self.start + self.pages


def layout(sizes: list[tuple[str, int, bool]], thp: frozenset[str] = frozenset(),
           ) -> list[Region]:
    """Place mms one after another, each starting on a PTE-table boundary; the mms named in
    ``thp`` get THPs."""
    regions: list[Region] = []
    start = 0
    for mm_id, (name, pages, notifiers) in enumerate(sizes):
        regions.append(Region(mm_id, name, start, pages, notifiers, name in thp))
        start += -(-pages // PTRS_PER_PTE) * PTRS_PER_PTE
    return regions


class PageTables:
    """Leaf PTE bits of every mm, as flat numpy arrays indexed by page."""

    def __init__(self, regions: list[Region]) -> None:
        self.regions = regions
        self.nr_pages = -(-regions[-1].end // PTRS_PER_PTE) * PTRS_PER_PTE if regions else 0
        n = self.nr_pages
        self.present: BoolArray = np.zeros(n, dtype=bool)
        self.young: BoolArray = np.zeros(n, dtype=bool)
        self.dirty: BoolArray = np.zeros(n, dtype=bool)
        self.swapped: BoolArray = np.zeros(n, dtype=bool)
        """A swap entry (not present); the page was evicted and may refault."""
        self.nr_tables = n // PTRS_PER_PTE
        self.table_allocated: BoolArray = np.zeros(self.nr_tables, dtype=bool)
        """pmd_present(): the PTE table exists (some page in it was ever faulted in)."""
        self.mm_of_table = np.full(self.nr_tables, -1, dtype=MM_ID_DTYPE)
        self.mapped: BoolArray = np.zeros(n, dtype=bool)
        """Inside some mm's region (the tail of a region's last table is unmapped)."""
        self.thp_ok: BoolArray = np.zeros(self.nr_tables, dtype=bool)
        """The table's 2 MiB may be faulted in as a THP (its mm has THP, the range is whole)."""
        self.folios = FolioMap(self.nr_tables)
        for r in regions:
            self.mm_of_table[r.start // PTRS_PER_PTE: -(-r.end // PTRS_PER_PTE)] = r.mm_id
            self.mapped[r.start:r.end] = True
            if r.thp:
                self.thp_ok[r.start // PTRS_PER_PTE: r.end // PTRS_PER_PTE] = True
        self.has_thp = bool(self.thp_ok.any())

    def region_of(self, mm_id: int) -> Region:
        return self.regions[mm_id]

    def map_pages(self, pages: IntArray, write: BoolArray) -> None:
        """Install present, young PTEs (a fault through gup/handle_mm_fault marks them young)."""
        self.present[pages] = True
        self.young[pages] = True
        self.dirty[pages] |= write
        self.swapped[pages] = False
        self.table_allocated[pages // PTRS_PER_PTE] = True

    def thp_faults(self, pages: IntArray) -> BoolArray:
        """Which faulting pages get a THP: the mm has THP, the range is whole and its PMD is
        none (``pmd_none``: no page of it was ever faulted in as 4 KiB, no swap entry)."""
        tables = pages // PTRS_PER_PTE
        out: BoolArray = self.thp_ok[tables] & ~self.table_allocated[tables]
        return out

    def map_thp(self, tables: IntArray, write: BoolArray) -> IntArray:
        """``do_huge_pmd_anonymous_page``: map each table's 2 MiB as one young PMD (dirty if
        ``write``); returns the folio heads."""
        heads = map_pmd(self.present, self.young, self.dirty, tables, write)  # pmd_none: no
        # PTE table, so no swap entry to replace
        self.table_allocated[tables] = True
        self.folios.set_huge(tables)
        return heads

    def unmap_to_swap(self, pages: IntArray) -> None:
        """try_to_unmap(): replace the PTEs with swap entries. A THP's pages are given all
        together; its PMD becomes a PTE table of swap entries (``TTU_SPLIT_HUGE_PMD``)."""
        if self.folios.nr_huge:
            self.folios.clear_huge(np.unique(pages // PTRS_PER_PTE))
        self.present[pages] = False
        self.young[pages] = False
        self.dirty[pages] = False
        self.swapped[pages] = True

"""KVM's secondary page table entries (SPTEs) for one VM: present / young / dirty per guest page.

Guest page ``g`` is backed by host page ``g`` of the VMM's region (the memslot maps guest
memory linearly into the VMM's address space, so gfn order = hva order = primary PTE order).
The hardware sets an SPTE's Accessed bit on a TLB fill (``kvm.tlb``); guest accesses never set
the primary PTE's A bit, which is why MGLRU must ask KVM (mmu_notifier ``clear_young``).

A 2 MiB leaf (``huge``, mapped while the host maps the range with a PMD, on backends that do:
``KvmBackend.maps_2m``) is one SPTE for the 512 gfns of a PTE-table range: every gfn is present,
and its A and D bits sit on the range's first gfn (the *leaf*; :meth:`Sptes.leaf`), the tails'
bits staying clear. A TLB entry for it is tagged with that first gfn.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from simulator.mm.constants import PTRS_PER_PTE
from simulator.mm.folio import map_pmd

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
_HEAD_MASK = ~np.int64(PTRS_PER_PTE - 1)


class Sptes:
    """Leaf SPTE bits of one VM."""

    def __init__(self, guest_pages: int) -> None:
        self.present: BoolArray = np.zeros(guest_pages, dtype=bool)
        self.young: BoolArray = np.zeros(guest_pages, dtype=bool)
        self.dirty: BoolArray = np.zeros(guest_pages, dtype=bool)
        self.huge: BoolArray = np.zeros(-(-guest_pages // PTRS_PER_PTE), dtype=bool)
        """The table's 512 gfns are one 2 MiB leaf."""
        self.nr_huge = 0

    def map(self, pages: IntArray, write: BoolArray) -> None:
        """Install SPTEs after a fault; the faulting access sets the A (and D) bit."""
        self.present[pages] = True
        self.young[pages] = True
        self.dirty[pages] |= write

    def map_huge(self, tables: IntArray, write: BoolArray) -> None:
        """Install 2 MiB leaves (``kvm_mmu_hugepage_adjust`` chose PG_LEVEL_2M); the faulting
        access sets the leaf's A (and D) bit."""
        fresh = ~self.huge[tables]
        tables, write = tables[fresh], write[fresh]
        map_pmd(self.present, self.young, self.dirty, tables, write)
        self.huge[tables] = True
        self.nr_huge += len(tables)

    def leaf(self, pages: IntArray) -> IntArray:
        """The gfn whose entry maps each page: the 2 MiB leaf's first gfn, or the page."""
        if self.nr_huge == 0:
            return pages
        out: IntArray = np.where(self.huge[pages // PTRS_PER_PTE], pages & _HEAD_MASK, pages)
        return out

    def is_leaf(self, pages: IntArray) -> BoolArray:
        """Pages that carry their own leaf's bits (not a tail of a 2 MiB leaf)."""
        if self.nr_huge == 0:
            return np.ones(len(pages), dtype=bool)
        out: BoolArray = ~self.huge[pages // PTRS_PER_PTE] | (pages % PTRS_PER_PTE == 0)
        return out

    def zap(self, pages: IntArray) -> None:
        """Remove SPTEs (``kvm_unmap_gfn_range`` from ``invalidate_range_start``); a 2 MiB
        leaf goes when any of its gfns is zapped (callers pass all 512)."""
        if self.nr_huge:
            tables = np.unique(pages // PTRS_PER_PTE)
            gone = tables[self.huge[tables]]
            self.huge[gone] = False
            self.nr_huge -= len(gone)
        self.present[pages] = False
        self.young[pages] = False
        self.dirty[pages] = False

"""KVM's secondary page table entries (SPTEs) for one VM: present / young / dirty per guest page.

Guest page ``g`` is backed by host page ``g`` of the VMM's region (the memslot maps guest
memory linearly into the VMM's address space, so gfn order = hva order = primary PTE order).
The hardware sets an SPTE's Accessed bit on a TLB fill (``kvm.tlb``); guest accesses never set
the primary PTE's A bit, which is why MGLRU must ask KVM (mmu_notifier ``clear_young``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class Sptes:
    """Leaf SPTE bits of one VM."""

    def __init__(self, guest_pages: int) -> None:
        self.present: BoolArray = np.zeros(guest_pages, dtype=bool)
        self.young: BoolArray = np.zeros(guest_pages, dtype=bool)
        self.dirty: BoolArray = np.zeros(guest_pages, dtype=bool)

    def map(self, pages: IntArray, write: BoolArray) -> None:
        """Install SPTEs after a fault; the faulting access sets the A (and D) bit."""
        self.present[pages] = True
        self.young[pages] = True
        self.dirty[pages] |= write

    def zap(self, pages: IntArray) -> None:
        """Remove SPTEs (``kvm_unmap_gfn_range`` from ``invalidate_range_start``)."""
        self.present[pages] = False
        self.young[pages] = False
        self.dirty[pages] = False

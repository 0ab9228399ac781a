"""KVM's mmu_notifier subscription, as consulted by MGLRU under each notifier design.

Implements :class:`simulator.mm.notify.SecondaryMmu` for one VM (virt/kvm/kvm_main.c
``kvm_mmu_notifier_clear_young`` / ``clear_flush_young`` / ``invalidate_range_start``), for the
designs of DESIGN §2:

- ``blind`` (before 6.12): the aging walk and look-around never call into KVM
  (``ptep_test_and_clear_young`` only); the secondary MMU is asked once per folio at eviction,
  through ``ptep_clear_flush_young_notify`` in ``folio_referenced_one``.
- ``per_page`` (6.12+, commit 1d4832becdc2): every PTE the walk or look-around examines costs one
  ``clear_young`` call (``ptep_clear_young_notify``), and the eviction pivot too.

Every call is counted in the caller's :class:`~simulator.accounting.Work` (by the backend), and
zapping for reclaim flushes the zapped translations from every vCPU's TLB.
"""

from __future__ import annotations

import numpy as np

from simulator.accounting import Work
from simulator.kvm.backends.base import BoolArray, IntArray, KvmBackend
from simulator.kvm.tlb import Tlbs

NOTIFIER_MODES = ("blind", "per_page")


class KvmNotifier:
    """The secondary-MMU view MGLRU gets of one VM."""

    def __init__(self, backend: KvmBackend, tlbs: Tlbs, mode: str) -> None:
        if mode not in NOTIFIER_MODES:
            raise ValueError(f"unknown notifier mode {mode!r}")
        self.backend = backend
        self.tlbs = tlbs
        self.mode = mode

    @property
    def examines_old_ptes(self) -> bool:
        """``mm_has_notifiers`` in ``get_pte_pfn``: only 6.12+ walkers ask about old PTEs."""
        return self.mode != "blind"

    def walk_young(self, pages: IntArray, work: Work) -> BoolArray:
        if self.mode == "blind":
            return np.zeros(len(pages), dtype=bool)
        return self.backend.clear_young(pages, work)

    def look_around_young(self, pages: IntArray, work: Work) -> BoolArray:
        return self.walk_young(pages, work)

    def pivot_young(self, pages: IntArray, work: Work) -> BoolArray:
        if self.mode == "blind":
            return self.backend.clear_flush_young(pages, work)
        return self.backend.clear_young(pages, work)

    def invalidate_range(self, pages: IntArray, work: Work) -> None:
        self.backend.unmap(pages, work)
        self.tlbs.invalidate(pages)

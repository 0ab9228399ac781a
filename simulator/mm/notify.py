"""What the MGLRU code needs from a secondary MMU: the mmu_notifier calls it makes.

MGLRU (mm/) never imports KVM (kvm/). It talks to whatever is subscribed to an mm through this
Protocol, the way mm/vmscan.c talks to ``mmu_notifier_*`` helpers (include/linux/mmu_notifier.h):

- ``walk_young`` / ``look_around_young``: the secondary half of ``ptep_clear_young_notify()``
  for each PTE the aging walk or ``lru_gen_look_around`` examines (6.12+, commit 1d4832becdc2);
  a subscriber that is not consulted there (``blind``, before 6.12) returns all-False;
- ``pivot_young``: the rmap check of the folio being evicted (``folio_referenced_one``);
- ``invalidate_range``: ``mmu_notifier_invalidate_range_start`` when reclaim unmaps a page.

``examines_old_ptes`` is ``mm_has_notifiers(mm)`` as ``get_pte_pfn`` uses it: when true, old
primary PTEs are not skipped, because the secondary MMU may hold the young bit.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from simulator.accounting import Work

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class SecondaryMmu(Protocol):
    """The mmu_notifier subscription of one mm, as MGLRU sees it."""

    @property
    def examines_old_ptes(self) -> bool: ...

    def walk_young(self, pages: IntArray, work: Work) -> BoolArray: ...

    def look_around_young(self, pages: IntArray, work: Work) -> BoolArray: ...

    def pivot_young(self, pages: IntArray, work: Work) -> BoolArray: ...

    def invalidate_range(self, pages: IntArray, work: Work) -> None: ...

"""What the MGLRU code needs from a secondary MMU: the mmu_notifier calls it makes.

MGLRU (mm/) never imports KVM (kvm/). It talks to whatever is subscribed to an mm through this
Protocol, at the three places mm/vmscan.c and mm/rmap.c consult secondary MMUs:

- ``walk_young``: the aging walk (``walk_pte_range``) over whole PTE tables. Depending on the
  notifier design this is one ``clear_young`` per examined PTE (``ptep_clear_young_notify``,
  6.12+), two bitmap calls per 64 PTEs (v3's ``test_spte_young``/``clear_spte_young``), fast-only
  calls (v5–v7), or nothing at all (before 6.12);
- ``pivot_young``: the rmap check of a folio being evicted (``folio_referenced_one`` →
  ``lru_gen_look_around`` / ``ptep_clear_flush_young_notify`` / v3's ``should_look_around``),
  which also decides whether look-around may proceed;
- ``window_young``: the look-around window around a young pivot;
- ``clear_flush_young``: ``ptep_clear_flush_young_notify`` from the classic LRU's rmap walk
  (``folio_referenced_one`` with lru_gen disabled): one call per mapped PTE;
- ``invalidate_range``: ``mmu_notifier_invalidate_range_start`` when reclaim unmaps a folio;
- ``walk_pmd_young`` and ``pmd_clear_flush_young``: the same questions over PMD_SIZE for a
  PMD-mapped THP, in the walk (``pmdp_clear_young_notify``) and at eviction
  (``pmdp_clear_flush_young_notify``).

Every method test-and-clears the secondary A bits it reports young, and charges its calls to
the caller's :class:`~simulator.accounting.Work`. ``examines_old_ptes`` is the
``mm_has_notifiers(mm)`` test of ``get_pte_pfn``: when true, old primary PTEs are not skipped.
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

    def walk_young(self, pages: IntArray, candidates: BoolArray, work: Work,
                   valid: BoolArray | None = None) -> BoolArray:
        """Secondary young bits (cleared) of ``candidates`` in ``pages`` (rows = PTE tables;
        ``valid``: the present PTEs, which pass ``get_pte_pfn``)."""
        ...

    def walk_pmd_young(self, heads: IntArray, sizes: IntArray, candidates: BoolArray,
                       work: Work) -> BoolArray:
        """Secondary young bits (cleared) of the THPs at ``heads`` that are ``candidates``:
        one call over each one's ``sizes`` pages."""
        ...

    def pmd_clear_flush_young(self, heads: IntArray, sizes: IntArray, work: Work) -> BoolArray:
        """``pmdp_clear_flush_young_notify``'s secondary half for THPs being evicted."""
        ...

    def pivot_young(self, pages: IntArray, primary_young: BoolArray,
                    work: Work) -> tuple[BoolArray, BoolArray]:
        """(referenced, may look around) for eviction pivots whose primary bit was tested."""
        ...

    def window_young(self, window: IntArray, candidates: BoolArray, work: Work,
                     valid: BoolArray | None = None) -> BoolArray:
        """Secondary young bits (cleared) of ``candidates`` in a look-around window."""
        ...

    def clear_flush_young(self, pages: IntArray, work: Work) -> BoolArray:
        """One ``clear_flush_young`` per page (the notifier op itself, whatever the MGLRU
        design): the secondary young bits, cleared."""
        ...

    def invalidate_range(self, pages: IntArray, work: Work,
                         sizes: IntArray | None = None) -> None:
        """Unmap folios (heads ``pages`` of ``sizes`` pages; None: 4 KiB), one call each."""
        ...

"""Page faults on the primary side: first touch and swap-in (``handle_mm_fault``, ``do_swap_page``).

A first touch allocates a folio, maps a young PTE (``do_anonymous_page``) and adds the folio to
the LRU as active (``lru_gen_in_fault`` → PG_active → ``max_seq - 1``). A swap-in of an evicted
page is a refault: ``lru_gen_refault`` checks its shadow token, may restore PG_workingset, and
the folio is added as active (``max_seq`` with PG_workingset). KVM faults reach this path
through gup (``hva_to_pfn``) when the primary PTE is not present.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulator.mm.lruvec import Lruvec
from simulator.mm.pagetable import PageTables
from simulator.mm.workingset import Workingset

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(slots=True)
class FaultResult:
    first_touch: int = 0
    swap_in: int = 0
    refault_recent: int = 0


def handle_faults(pt: PageTables, lruvec: Lruvec, ws: Workingset, pages: IntArray,
                  writes: BoolArray) -> FaultResult:
    """Fault in distinct, non-present ``pages``."""
    if len(pages) == 0:
        return FaultResult()
    swapped = pt.swapped[pages]
    n_swapped = int(np.count_nonzero(swapped))
    recent = 0
    if n_swapped:
        refault = pages[swapped]
        fresh = pages[~swapped]
        recent = int(np.count_nonzero(ws.lru_gen_refault(lruvec, refault)))
    else:
        fresh = pages
    lruvec.refs[fresh] = 0
    lruvec.workingset[fresh] = False
    pt.map_pages(pages, writes)
    lruvec.add_folios(pages)
    return FaultResult(first_touch=len(pages) - n_swapped, swap_in=n_swapped,
                       refault_recent=recent)

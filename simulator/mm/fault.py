"""Page faults on the primary side: first touch and swap-in (``handle_mm_fault``, ``do_swap_page``).

A first touch allocates a folio, maps a young PTE (``do_anonymous_page``) and adds the folio to
the LRU as active (``lru_gen_in_fault`` → PG_active → ``max_seq - 1``). A swap-in of an evicted
page is a refault: ``lru_gen_refault`` checks its shadow token, may restore PG_workingset, and
the folio is added as active (``max_seq`` with PG_workingset). KVM faults reach this path
through gup (``hva_to_pfn``) when the primary PTE is not present.

With THP (``simulator.mm.folio``) a first touch of an empty, wholly covered PMD range maps the
whole 2 MiB folio (``do_huge_pmd_anonymous_page``): one fault that charges 512 pages to the memcg
and adds one folio to the LRU. Swap-ins are always 4 KiB (see ``simulator.mm.pagetable``).
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
    """First-touch faults (a THP fault is one)."""
    swap_in: int = 0
    refault_recent: int = 0
    thp: int = 0
    """First-touch faults that mapped a 2 MiB THP (each charged 512 pages)."""


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
    folios, n_thp = map_faults(pt, pages, writes)
    fresh = fresh if not n_thp else lruvec.folios.heads(fresh)
    lruvec.refs[fresh] = 0
    lruvec.workingset[fresh] = False
    lruvec.add_folios(folios)
    return FaultResult(first_touch=len(pages) - n_swapped - n_thp[1], swap_in=n_swapped,
                       refault_recent=recent, thp=n_thp[0])


def map_faults(pt: PageTables, pages: IntArray, writes: BoolArray,
               ) -> tuple[IntArray, tuple[int, int]]:
    """Map distinct faulting ``pages`` (ascending): THPs where the range allows one, 4 KiB
    PTEs elsewhere. Returns the new folios' heads in ascending order and (THPs mapped, faulting
    pages folded into them beyond one per THP)."""
    thp = pt.thp_faults(pages) if pt.has_thp else None
    if thp is None or not thp.any():
        pt.map_pages(pages, writes)
        return pages, (0, 0)
    small = ~thp
    pt.map_pages(pages[small], writes[small])
    tables, first = np.unique(pages[thp] // 512, return_index=True)
    dirty = np.logical_or.reduceat(writes[thp], first)
    heads = pt.map_thp(tables, dirty)
    folios = np.sort(np.concatenate([pages[small], heads]))
    return folios, (len(tables), int(thp.sum()) - len(tables))

"""Shadow entries and refaults: ``lru_gen_eviction`` / ``lru_gen_refault`` (mm/workingset.c).

When reclaim evicts a folio it leaves a shadow token in the swap slot holding the generation it
was evicted from (``min_seq``), its refs and PG_workingset, and counts it in
``evicted[hist][type][tier]``. When the page faults back in, the token tells whether the refault
is *recent*: ``lru_gen_test_recent`` = ``abs_diff(max_seq, token_seq) < MAX_NR_GENS``. A recent
refault counts in ``refaulted[hist][type][tier]`` (the PID controller's input) and restores
PG_workingset, so the folio is added to ``max_seq`` instead of ``max_seq - 1``.

Simplification: the refs bits are also restored in the kernel, but anonymous folios touched only
through page tables never carry refs above 1, so only PG_workingset matters here.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from simulator.mm.constants import MAX_NR_GENS, MAX_NR_TIERS
from simulator.mm.lruvec import Lruvec, lru_tier_from_refs

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class Workingset:
    """Shadow tokens of swapped-out pages."""

    def __init__(self, nr_pages: int) -> None:
        self.token_seq = np.full(nr_pages, -1, dtype=np.int64)
        self.token_refs = np.zeros(nr_pages, dtype=np.int8)
        self.token_ws = np.zeros(nr_pages, dtype=bool)

    def lru_gen_eviction(self, lruvec: Lruvec, pages: IntArray) -> None:
        """Store the tokens of folios being evicted and count them per tier."""
        refs = lruvec.refs[pages]
        ws = lruvec.workingset[pages]
        self.token_seq[pages] = lruvec.min_seq
        self.token_refs[pages] = refs
        self.token_ws[pages] = ws
        lruvec.evicted += np.bincount(lru_tier_from_refs(refs, ws), minlength=MAX_NR_TIERS)

    def lru_gen_refault(self, lruvec: Lruvec, pages: IntArray) -> BoolArray:
        """Handle refaults: count recent ones, restore PG_workingset; returns ``recent``."""
        if len(pages) == 0:
            return np.zeros(0, dtype=bool)
        token = self.token_seq[pages]
        recent = (token >= 0) & (np.abs(lruvec.max_seq - token) < MAX_NR_GENS)
        rp = pages[recent]
        tiers = lru_tier_from_refs(self.token_refs[rp], self.token_ws[rp])
        lruvec.refaulted += np.bincount(tiers, minlength=MAX_NR_TIERS)
        lruvec.refs[pages] = 0
        lruvec.workingset[pages] = False
        lruvec.workingset[rp] = self.token_ws[rp]
        self.token_seq[pages] = -1
        return recent

"""Shadow entries and refaults: ``lru_gen_eviction`` / ``lru_gen_refault`` (mm/workingset.c).

When reclaim evicts a folio it leaves a shadow token in the swap slot holding the generation it
was evicted from (``min_seq``), its refs and PG_workingset, and counts it in
``evicted[hist][type][tier]``. When the page faults back in, the token tells whether the refault
is *recent*: ``lru_gen_test_recent`` = ``abs_diff(max_seq, token_seq) < MAX_NR_GENS``. A recent
refault counts in ``refaulted[hist][type][tier]`` (the PID controller's input) and restores
PG_workingset, so the folio is added to ``max_seq`` instead of ``max_seq - 1``.

A large folio leaves the same token in each of its swap slots (``__delete_from_swap_cache``
stores the shadow in every slot of the folio's range) and counts its pages in ``evicted``; its
pages refault one by one as 4 KiB folios, each crediting one page to ``refaulted``
(``lru_gen_refault`` adds ``folio_nr_pages`` of the new folio).

Simplification: the refs bits are also restored in the kernel, but anonymous folios touched only
through page tables never carry refs above 1, so only PG_workingset matters here.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from simulator.mm.constants import MAX_NR_GENS, MAX_NR_TIERS
from simulator.mm.folio import expand_ranges, weighted_bincount
from simulator.mm.lruvec import Lruvec

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class Workingset:
    """Shadow tokens of swapped-out pages."""

    def __init__(self, nr_pages: int) -> None:
        self.token_seq = np.full(nr_pages, -1, dtype=np.int64)
        self.token_refs = np.zeros(nr_pages, dtype=np.int8)
        self.token_ws = np.zeros(nr_pages, dtype=bool)

    def lru_gen_eviction(self, lruvec: Lruvec, pages: IntArray) -> None:
        """Store the tokens of folios (heads) being evicted, in every page's slot, and count
        their pages per tier."""
        refs = lruvec.refs[pages]
        ws = lruvec.workingset[pages]
        sizes = lruvec.folios.sizes(pages)
        slots = expand_ranges(pages, sizes)
        self.token_seq[slots] = lruvec.min_seq
        self.token_refs[slots] = refs if sizes is None else np.repeat(refs, sizes)
        self.token_ws[slots] = ws if sizes is None else np.repeat(ws, sizes)
        lruvec.evicted += weighted_bincount(lruvec.tier_of(refs, ws), sizes, MAX_NR_TIERS)

    def lru_gen_refault(self, lruvec: Lruvec, pages: IntArray) -> BoolArray:
        """Handle refaults: count recent ones, restore PG_workingset; returns ``recent``."""
        if len(pages) == 0:
            return np.zeros(0, dtype=bool)
        token = self.token_seq[pages]
        recent = (token >= 0) & (np.abs(lruvec.max_seq - token) < MAX_NR_GENS)
        rp = pages[recent]
        tiers = lruvec.tier_of(self.token_refs[rp], self.token_ws[rp])
        lruvec.refaulted += np.bincount(tiers, minlength=MAX_NR_TIERS)
        lruvec.refs[pages] = 0
        lruvec.workingset[pages] = False
        lruvec.workingset[rp] = self.token_ws[rp]
        self.token_seq[pages] = -1
        return recent


class ClassicWorkingset:
    """Shadow entries of the classic active/inactive LRU (mm/workingset.c, lru_gen disabled).

    ``workingset_eviction`` stores the lruvec's non-resident age (``nonresident_age``, a clock
    that ticks once per eviction and once per activation) and the folio's PG_workingset.
    ``workingset_refault`` measures the refault distance, ``age now − age at eviction``: the
    pages that left or were activated meanwhile. A refault is *recent* when the distance is at
    most the workingset size; for an anonymous refault with swap that is the active anon list
    (``workingset_test_recent``, 6.x: active file + inactive file + active anon, and there is
    no file list here). A recent refault is activated (PG_active), ticks the clock and counts
    in ``WORKINGSET_ACTIVATE``; with the shadow's workingset bit it also regains PG_workingset
    (``WORKINGSET_RESTORE``). ``bucket_order`` is 0 (the age fits the shadow entry).
    """

    def __init__(self, nr_pages: int) -> None:
        self.token_age = np.full(nr_pages, -1, dtype=np.int64)
        self.token_ws = np.zeros(nr_pages, dtype=bool)
        self.nonresident_age = 0
        self.activate = 0
        """``WORKINGSET_ACTIVATE_ANON``: recent refaults (drives ``may_deactivate``)."""

    def workingset_eviction(self, pages: IntArray, workingset: BoolArray,
                            sizes: IntArray | None = None) -> None:
        """Evict folios (heads ``pages`` of ``sizes`` pages) in order: each stores the age
        before its own ticks (``workingset_age_nonresident`` by ``folio_nr_pages``) in every
        page's slot."""
        if sizes is None:
            self.token_age[pages] = self.nonresident_age + np.arange(len(pages),
                                                                     dtype=np.int64)
            self.token_ws[pages] = workingset
            self.nonresident_age += len(pages)
            return
        before = self.nonresident_age + np.cumsum(sizes) - sizes
        slots = expand_ranges(pages, sizes)
        self.token_age[slots] = np.repeat(before, sizes)
        self.token_ws[slots] = np.repeat(workingset, sizes)
        self.nonresident_age += int(sizes.sum())

    def workingset_activation(self, nr_pages: int) -> None:
        """``workingset_age_nonresident`` for folios put back active."""
        self.nonresident_age += nr_pages

    def workingset_refault(self, pages: IntArray,
                           active_size: int) -> tuple[BoolArray, BoolArray]:
        """Refaults of ``pages`` (all evaluated against the clock and list size at the start of
        the batch, the quantum's order approximation): returns (activate, restore
        PG_workingset)."""
        if len(pages) == 0:
            empty = np.zeros(0, dtype=bool)
            return empty, empty
        token = self.token_age[pages]
        recent = (token >= 0) & (self.nonresident_age - token <= active_size)
        restore = recent & self.token_ws[pages]
        n = int(np.count_nonzero(recent))
        self.nonresident_age += n
        self.activate += n
        self.token_age[pages] = -1
        return recent, restore

"""The aging: ``try_to_inc_max_seq`` → ``iterate_mm_list`` → ``walk_mm`` → ``walk_pte_range``.

Models mm/vmscan.c (≈6.15): one iteration over the memcg's mm list produces one generation.
For each mm, ``walk_pmd_range`` visits the PTE tables that exist (``pmd_present``) and, unless
``force_scan``, only those in the Bloom filter of ``walk->seq``; ``walk_pte_range`` reads every
PTE, skips non-present ones and, for mms without notifiers (or before 6.12), old ones
(``get_pte_pfn``), test-and-clears the A bit of the rest (``ptep_clear_young_notify``, which
also asks the secondary MMU), and promotes young folios with ``folio_update_gen`` (two
sightings). A table with at least one young PTE per cache line (``suitable_to_scan``) is carried
over into the next Bloom filter. The last walker of an iteration calls ``inc_max_seq``.

The walk is a generator that yields a :class:`~simulator.accounting.Work` record every
``TABLES_PER_STEP`` PTE tables, so the SimPy actor driving it can advance simulated time (and let
vCPUs run) in between, like the kernel walker yielding at ``MAX_LRU_BATCH`` or ``need_resched``.

Simplifications: one walker at a time (``machine`` serialises aging; the kernel lets several
walkers share the mm-list cursor); every mm is walked each iteration (the per-node ``bitmap``
set on context switch is assumed set: vCPUs and the host task always run); no THP, no non-leaf
PMD A bit; ``mmap_read_trylock`` and ``spin_trylock(ptl)`` always succeed.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import numpy as np

from simulator.accounting import Work
from simulator.costs import CostConfig
from simulator.mm.bloom import BloomFilters, pmd_item
from simulator.mm.constants import MIN_NR_GENS, PTRS_PER_PTE, SUITABLE_TO_SCAN_N
from simulator.mm.lruvec import Lruvec
from simulator.mm.notify import SecondaryMmu
from simulator.mm.pagetable import PageTables
from simulator.truth import Confusion, GroundTruth

TABLES_PER_STEP = 64
"""PTE tables per simulated step (32768 PTEs, 128 MiB): the granularity at which a walk
interleaves with vCPUs. The kernel yields after MAX_LRU_BATCH promotions or need_resched."""

_OFFSETS = np.arange(PTRS_PER_PTE, dtype=np.int64)


@dataclass(slots=True)
class MmStats:
    """``lru_gen_mm_state.stats``: the debugfs ``TYFA`` counters of the 6.12+ kernel."""

    leaf_total: int = 0
    leaf_young: int = 0
    nonleaf_found: int = 0
    nonleaf_added: int = 0


@dataclass(slots=True)
class WalkResult:
    """What one aging iteration did (one row of ``passes.csv`` once timed)."""

    seq: int
    force_scan: bool
    stats: MmStats = field(default_factory=MmStats)
    promoted: int = 0
    first_sightings: int = 0
    work: Work = field(default_factory=Work)
    confusion: Confusion = field(default_factory=Confusion)
    success: bool = False


def _table_run(tables: np.ndarray) -> slice | None:
    """The page slice of ``tables`` when they are consecutive (and not empty), else None."""
    if len(tables) == 0 or int(tables[-1]) - int(tables[0]) + 1 != len(tables):
        return None
    return slice(int(tables[0]) * PTRS_PER_PTE, (int(tables[-1]) + 1) * PTRS_PER_PTE)


class Aging:
    """The MGLRU aging engine of one lruvec."""

    def __init__(self, pt: PageTables, lruvec: Lruvec, notifiers: dict[int, SecondaryMmu | None],
                 truth: GroundTruth, costs: CostConfig, *, walk_mmu: bool = True,
                 bloom_filter: bool = True) -> None:
        self.pt = pt
        self.lruvec = lruvec
        self.notifiers = notifiers
        self.truth = truth
        self.costs = costs
        self.walk_mmu = walk_mmu
        self.use_bloom = bloom_filter
        self.bloom = BloomFilters()
        self.mm_state_seq = MIN_NR_GENS
        """``lru_gen_mm_state.seq``: iterations finished (init MIN_NR_GENS, lru_gen_init_lruvec)."""
        self.mm_stats = MmStats()

    def try_to_inc_max_seq(self, seq: int, force_scan: bool,
                           clock: Callable[[], int]) -> Generator[Work, None, WalkResult]:
        """Age once if ``seq`` is still current; yields Work per step, returns a WalkResult.

        ``clock`` gives the simulated time at the end (the new generation's birth time). Drive
        it with ``next()`` and take the :class:`WalkResult` from ``StopIteration.value``.
        """
        result = WalkResult(seq=seq, force_scan=force_scan)
        if seq <= self.mm_state_seq:  # another walker already finished this iteration
            return result
        if self.walk_mmu:
            self.bloom.reset(seq + 1)  # first mm of the iteration: iterate_mm_list()
            for region in self.pt.regions:
                yield from self._walk_mm(region.mm_id, result)
                if self.lruvec.max_seq != seq:
                    return result  # raced with another inc_max_seq (walk_mm gives up)
        self.mm_state_seq += 1
        if seq == self.lruvec.max_seq:
            self.lruvec.inc_max_seq(clock())
            result.success = True
        return result

    def _walk_mm(self, mm_id: int, result: WalkResult) -> Generator[Work, None, None]:
        region = self.pt.region_of(mm_id)
        first = region.start // PTRS_PER_PTE
        last = -(-region.end // PTRS_PER_PTE)
        for lo in range(first, last, TABLES_PER_STEP):
            tables = np.arange(lo, min(lo + TABLES_PER_STEP, last), dtype=np.int64)
            work = self._walk_tables(mm_id, tables, result)
            result.work.add(work)
            yield work

    def _walk_tables(self, mm_id: int, tables: np.ndarray, result: WalkResult) -> Work:
        """``walk_pmd_range`` + ``walk_pte_range`` over a run of PTE tables of one mm."""
        work = Work()
        stats = MmStats()
        costs, pt = self.costs, self.pt
        work.cpu_ns += len(tables) * costs.pmd_scan_ns
        allocated = pt.table_allocated[tables]
        stats.leaf_total += int((~allocated).sum())  # !pmd_present: MM_LEAF_TOTAL++
        tables = tables[allocated]
        items = pmd_item(mm_id, tables)
        if self.use_bloom and not result.force_scan:
            work.cpu_ns += len(tables) * costs.bloom_ns
            keep = self.bloom.test(result.seq, items)
            tables, items = tables[keep], items[keep]
        stats.nonleaf_found += len(tables)
        if len(tables):
            self._walk_pte_range(self.notifiers.get(mm_id), tables, items, result, work, stats)
        self._account(result, stats)
        return work

    def _walk_pte_range(self, notifier: SecondaryMmu | None, tables: np.ndarray,
                        items: np.ndarray, result: WalkResult, work: Work,
                        stats: MmStats) -> None:
        """``walk_pte_range`` over PTE tables that passed the Bloom filter: test-and-clear
        the A bits (asking the secondary MMU as the design says), promote young folios,
        feed the next filter and score every verdict."""
        costs, pt, lruvec = self.costs, self.pt, self.lruvec
        pages = (tables[:, None] * PTRS_PER_PTE + _OFFSETS[None, :])
        # A run of consecutive tables (every force_scan walk, most filtered ones) is one slice
        # of each per-page array: read it through views instead of gathering page by page.
        view = _table_run(tables)
        mapped = pt.mapped[view].reshape(pages.shape) if view else pt.mapped[pages]
        total = mapped.sum(axis=1)
        stats.leaf_total += int(total.sum())
        work.cpu_ns += int(total.sum()) * costs.pte_scan_ns
        # get_pte_pfn + get_pfn_folio: present and on an LRU list; old PTEs are skipped
        # unless a secondary MMU may hold the young bit.
        if view:
            on_lru = pt.present[view].reshape(pages.shape) \
                & (lruvec.gen[view].reshape(pages.shape) >= 0)
            pyoung = pt.young[view].reshape(pages.shape)  # a view: read before the clear
        else:
            on_lru = pt.present[pages] & (lruvec.gen[pages] >= 0)
            pyoung = pt.young[pages]
        consult = notifier is not None and notifier.examines_old_ptes
        examined = on_lru & (pyoung | consult)
        young = pyoung & examined
        if view:
            pt.young[view].reshape(pages.shape)[examined] = False  # ptep_test_and_clear_young
        else:
            pt.young[pages[examined]] = False  # ptep_test_and_clear_young
        if notifier is not None:
            young |= notifier.walk_young(pages, on_lru, work) & on_lru
        nyoung = young.sum(axis=1)
        stats.leaf_young += int(nyoung.sum())
        # suitable_to_scan(): carry the table over to the next generation's filter.
        suitable = nyoung * SUITABLE_TO_SCAN_N >= total
        stats.nonleaf_added += int(suitable.sum())
        if self.use_bloom:
            work.cpu_ns += int(suitable.sum()) * costs.bloom_ns
            self.bloom.update(result.seq + 1, items[suitable])
        young_pages = pages[young]
        first, promoted = lruvec.folio_update_gen(young_pages)
        work.cpu_ns += len(young_pages) * costs.gen_update_ns
        result.first_sightings += first
        result.promoted += promoted
        # Every resident folio whose PTE was read got a young/old verdict.
        if on_lru.all():
            decided, verdicts = pages.reshape(-1), young.reshape(-1)
        else:
            decided, verdicts = pages[on_lru], young[on_lru]
        result.confusion.add(self.truth.score(decided, verdicts, "walk"))

    def _account(self, result: WalkResult, stats: MmStats) -> None:
        for target in (result.stats, self.mm_stats):
            target.leaf_total += stats.leaf_total
            target.leaf_young += stats.leaf_young
            target.nonleaf_found += stats.nonleaf_found
            target.nonleaf_added += stats.nonleaf_added

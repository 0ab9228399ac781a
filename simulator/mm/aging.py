"""The aging: ``try_to_inc_max_seq`` → ``iterate_mm_list`` → ``walk_mm`` → ``walk_pte_range``.

Models mm/vmscan.c: one iteration over the memcg's mm list produces one generation.

- **The mm list** (``iterate_mm_list``, ≥6.4, 7f63cf2d9b9b): every walker of an iteration
  shares one cursor; each call hands the next mm to the caller (one walker per mm per
  iteration), and the caller whose step wraps the cursor back to the list head ends the
  iteration and alone increments ``max_seq``; a walker that comes too late gets nothing and
  returns at once, and one still walking stops at its next chunk (``walk_mm``: "another thread
  might have called inc_max_seq()"). Before 6.4 (``walkers = wait``) a walker that found no mm
  left waited for the iteration at ``priority <= DEF_PRIORITY - 2``
  (``wait_event_killable``) and the last walker to finish incremented ``max_seq``.
- **No walk** (``iterate_mm_list_nowalk``): without a hardware A bit (arm64 without FEAT_HAFDBS:
  ``should_walk_mmu()`` is false) or without the ``LRU_GEN_MM_WALK`` cap, aging increments
  ``max_seq`` without reading any page table; recency is then found only at eviction (rmap and
  look-around). Until 6.2 a debugfs ``force_scan`` still walked (``force_scan_walks``).
- **The walk**: for each mm, ``walk_pmd_range`` visits the PTE tables that exist
  (``pmd_present``) and, unless ``force_scan``, only those in the Bloom filter of
  ``walk->seq``; ``walk_pte_range`` reads every PTE, skips non-present ones and, for mms
  without notifiers (or before 6.11.7), old ones (``get_pte_pfn``), test-and-clears the A bit
  of the rest (``ptep_clear_young_notify``, which also asks the secondary MMU), and promotes
  young folios (``folio_update_gen``: one or two sightings by release). A table with at least
  one young PTE per cache line (``suitable_to_scan``) is carried into the next Bloom filter.

- **THP PMDs** (``walk_pmd_range`` → ``walk_pmd_range_locked``): a PMD-mapped THP is one leaf
  (``MM_LEAF_TOTAL``) visited whatever the Bloom filter says, skipped when old only in mms
  without notifiers (``get_pmd_pfn``; before 6.11.7 always, ``examines_old_ptes``), and
  test-and-cleared by ``pmdp_clear_young_notify``: the PMD's A bit and, from 6.11.7/6.12
  (1d4832becdc2) and in v3, one ``clear_young`` over PMD_SIZE (``walk_pmd_young``). A young THP
  is promoted as one folio and never feeds the Bloom filter. The kernel queues up to 64 more
  THP PMDs behind the first of a batch and takes the PMD lock once per batch (≤ 64 + 2 PMDs per
  ``spin_trylock``, a batch ending at each PUD); the model counts those batches
  (``WalkResult.thp_batches``, :func:`pmd_lock_batches`) but, as for the PTE table's lock,
  charges no lock time and never fails the trylock.

The walk is a generator that yields a :class:`~simulator.accounting.Work` record every
``TABLES_PER_STEP`` PTE tables, so the SimPy actor driving it can advance simulated time (and let
vCPUs and other walkers run) in between, like the kernel walker yielding at ``MAX_LRU_BATCH`` or
``need_resched``; a waiting walker yields :data:`WAIT`.

Simplifications: every mm is eligible each iteration (the per-node ``bitmap`` set on context
switch is assumed set: vCPUs and the host task always run); no non-leaf PMD A bit;
``mmap_read_trylock`` and ``spin_trylock(ptl)`` always succeed.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import numpy as np

from simulator.accounting import Work
from simulator.costs import CostConfig
from simulator.mm.bloom import BloomFilters, pmd_item
from simulator.mm.constants import (
    DEF_PRIORITY,
    MIN_LRU_BATCH,
    MIN_NR_GENS,
    PTRS_PER_PTE,
    SUITABLE_TO_SCAN_N,
)
from simulator.mm.lruvec import Lruvec
from simulator.mm.notify import SecondaryMmu
from simulator.mm.pagetable import PageTables
from simulator.truth import Confusion, GroundTruth

TABLES_PER_STEP = 64
"""PTE tables per simulated step (32768 PTEs, 128 MiB): the granularity at which a walk
interleaves with vCPUs. The kernel yields after MAX_LRU_BATCH promotions or need_resched."""

_OFFSETS = np.arange(PTRS_PER_PTE, dtype=np.int64)


class _Wait:
    """Yielded by a walker that must wait until the current iteration ends (before 6.4)."""

    def __repr__(self) -> str:
        return "WAIT"


WAIT = _Wait()


@dataclass(slots=True)
class MmStats:
    """``lru_gen_mm_state.stats``: the debugfs ``TYFA`` counters of the 6.12+ kernel."""

    leaf_total: int = 0
    leaf_young: int = 0
    nonleaf_found: int = 0
    nonleaf_added: int = 0


@dataclass(slots=True)
class WalkResult:
    """What one walker's ``try_to_inc_max_seq`` did (one row of ``passes.csv`` once timed)."""

    seq: int
    force_scan: bool
    stats: MmStats = field(default_factory=MmStats)
    promoted: int = 0
    first_sightings: int = 0
    work: Work = field(default_factory=Work)
    confusion: Confusion = field(default_factory=Confusion)
    success: bool = False
    """This walker produced the new generation (it ended the iteration)."""
    mms_walked: int = 0
    waited: bool = False
    thp_batches: int = 0
    """PMD-lock batches of THP PMDs (``walk_pmd_range_locked``)."""


@dataclass(slots=True)
class MmState:
    """``lru_gen_mm_state`` of the lruvec: the shared cursor over the memcg's mm list."""

    seq: int = MIN_NR_GENS
    """Iterations finished (``lru_gen_init_lruvec`` starts it at MIN_NR_GENS)."""
    head: int = -1
    """Cursor: index of the mm handed out last, -1 at the list head."""
    walkers: int = 0
    """Walkers inside the current iteration (before 6.4: the last one to leave ends it)."""


PMDS_PER_PUD = 512


def pmd_lock_batches(tables: np.ndarray) -> int:
    """How many times ``walk_pmd_range_locked`` takes a PMD lock for the THP PMDs at
    ``tables`` (ascending PTE-table indices = PMD indices): the first THP PMD of a batch is
    remembered, later ones within ``MIN_LRU_BATCH`` PMD slots are queued in its bitmap, the
    next one beyond flushes the batch together with itself, and each PUD's end flushes what
    is queued."""
    batches = 0
    first = -1
    for t in tables.tolist():
        if first >= 0 and t // PMDS_PER_PUD != first // PMDS_PER_PUD:
            batches += 1  # walk_pmd_range_locked(pud, -1, ...) at the PUD's end
            first = -1
        if first < 0:
            first = t
        elif t - first > MIN_LRU_BATCH:
            batches += 1
            first = -1
    return batches + (first >= 0)


def drain(walker: Generator[Work | _Wait, None, WalkResult]) -> WalkResult:
    """Run a walker (``Aging.try_to_inc_max_seq``) to its end without simulated time: for
    tests and tools that need its result only."""
    while True:
        try:
            next(walker)
        except StopIteration as stop:
            result: WalkResult = stop.value
            return result


def _table_run(tables: np.ndarray) -> slice | None:
    """The page slice of ``tables`` when they are consecutive (and not empty), else None."""
    if len(tables) == 0 or int(tables[-1]) - int(tables[0]) + 1 != len(tables):
        return None
    return slice(int(tables[0]) * PTRS_PER_PTE, (int(tables[-1]) + 1) * PTRS_PER_PTE)


class Aging:
    """The MGLRU aging engine of one lruvec."""

    def __init__(self, pt: PageTables, lruvec: Lruvec, notifiers: dict[int, SecondaryMmu | None],
                 truth: GroundTruth, costs: CostConfig, *, walk_mmu: bool = True,
                 bloom_filter: bool = True, hw_young: bool = True, walkers: str = "no_wait",
                 force_scan_walks: bool = False) -> None:
        self.pt = pt
        self.lruvec = lruvec
        self.notifiers = notifiers
        self.truth = truth
        self.costs = costs
        self.walk_mmu = walk_mmu
        """The ``LRU_GEN_MM_WALK`` cap."""
        self.hw_young = hw_young
        """``arch_has_hw_pte_young()``: false on arm64 without FEAT_HAFDBS."""
        self.use_bloom = bloom_filter
        self.waits = walkers == "wait"
        self.force_scan_walks = force_scan_walks
        self.bloom = BloomFilters()
        self.mm_state = MmState()
        self.mm_stats = MmStats()
        self.mm_list = [r.mm_id for r in pt.regions]

    @property
    def mm_state_seq(self) -> int:
        return self.mm_state.seq

    def should_walk_mmu(self, force_scan: bool) -> bool:
        """``should_walk_mmu()``: the cap and a hardware A bit (before 6.3 a debugfs
        ``force_scan`` walked without one)."""
        return self.walk_mmu and (self.hw_young or (force_scan and self.force_scan_walks))

    def try_to_inc_max_seq(self, seq: int, force_scan: bool, clock: Callable[[], int],
                           priority: int = DEF_PRIORITY,
                           ) -> Generator[Work | _Wait, None, WalkResult]:
        """One walker's aging call for ``seq``; yields Work per step (or :data:`WAIT`) and
        returns its WalkResult (``success`` if it produced the new generation).

        ``clock`` gives the simulated time at the end (the new generation's birth time). Drive
        it with ``next()`` and take the :class:`WalkResult` from ``StopIteration.value``.
        """
        result = WalkResult(seq=seq, force_scan=force_scan)
        st = self.mm_state
        if seq <= st.seq:  # this iteration has handed out its last mm already
            last = False
        elif not self.should_walk_mmu(force_scan):
            st.seq, st.head = st.seq + 1, -1  # iterate_mm_list_nowalk
            last = True
        elif self.waits:
            last = yield from self._walk_6_1(seq, result)
        else:
            last = yield from self._walk(seq, result)
        if last:
            return self._inc_max_seq(seq, clock, result)
        if self.waits and priority <= DEF_PRIORITY - 2 and self.lruvec.max_seq == seq:
            result.waited = True
            yield WAIT  # before 6.4: wait_event_killable until max_seq moves
        return result

    def _walk(self, seq: int, result: WalkResult) -> Generator[Work, None, bool]:
        """≥6.4: take mms from the shared cursor until it wraps; True if this caller's step
        wrapped it (the caller then increments ``max_seq``)."""
        while True:
            last, mm = self._iterate_mm_list(seq)
            if mm is None:
                return last
            result.mms_walked += 1
            yield from self._walk_mm(mm, result)

    def _iterate_mm_list(self, seq: int) -> tuple[bool, int | None]:
        """``iterate_mm_list`` (≥6.4): (this caller ended the iteration, the next mm)."""
        st = self.mm_state
        if seq <= st.seq:
            return False, None
        first = st.head == -1
        st.head += 1
        if st.head == len(self.mm_list):
            st.head = -1
            st.seq += 1
            return True, None
        if first:
            self.bloom.reset(seq + 1)
        return False, self.mm_list[st.head]

    def _walk_6_1(self, seq: int, result: WalkResult) -> Generator[Work, None, bool]:
        """6.1-6.3: walkers count themselves in (``nr_walkers``); the iteration's ``seq``
        moves on once the cursor has handed out the last mm, and the walker that leaves last
        increments ``max_seq``. Returns True for that walker."""
        holding = False
        while True:
            last, mm = self._iterate_mm_list_6_1(seq, holding)
            holding = mm is not None
            if mm is None:
                return last
            result.mms_walked += 1
            yield from self._walk_mm(mm, result)

    def _iterate_mm_list_6_1(self, seq: int, holding: bool) -> tuple[bool, int | None]:
        """``iterate_mm_list`` of 6.1 (before 7f63cf2d9b9b): (last walker out, next mm)."""
        st = self.mm_state
        mm = None
        last = holding  # a caller that walked nothing is never the last one out
        if seq > st.seq:
            last = True
            first = st.walkers == 0
            if first:
                st.head = 0
            if st.head < len(self.mm_list):
                mm = self.mm_list[st.head]
                st.head += 1
            if st.head >= len(self.mm_list):
                st.seq += 1
            if mm is not None and first:
                self.bloom.reset(seq + 1)
        if holding and mm is None:
            st.walkers -= 1
        if not holding and mm is not None:
            st.walkers += 1
        return last and st.walkers == 0, mm

    def _inc_max_seq(self, seq: int, clock: Callable[[], int],
                     result: WalkResult) -> WalkResult:
        if seq == self.lruvec.max_seq:
            self.lruvec.inc_max_seq(clock())
            result.success = True
        return result

    def _walk_mm(self, mm_id: int, result: WalkResult) -> Generator[Work, None, None]:
        """``walk_mm``: the mm's PTE tables in chunks; stops when another walker has
        incremented ``max_seq`` meanwhile."""
        region = self.pt.region_of(mm_id)
        first = region.start // PTRS_PER_PTE
        last = -(-region.end // PTRS_PER_PTE)
        for lo in range(first, last, TABLES_PER_STEP):
            if self.lruvec.max_seq != result.seq:
                return
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
        if pt.folios.nr_huge:
            huge = pt.folios.huge[tables]
            if huge.any():  # pmd_trans_huge: before and regardless of the Bloom filter
                self._walk_thp(self.notifiers.get(mm_id), tables[huge], result, work, stats)
                tables = tables[~huge]
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
            present = pt.present[view].reshape(pages.shape)
            on_lru = present & (lruvec.gen[view].reshape(pages.shape) >= 0)
            pyoung = pt.young[view].reshape(pages.shape)  # a view: read before the clear
        else:
            present = pt.present[pages]
            on_lru = present & (lruvec.gen[pages] >= 0)
            pyoung = pt.young[pages]
        consult = notifier is not None and notifier.examines_old_ptes
        examined = on_lru & (pyoung | consult)
        young = pyoung & examined
        if view:
            pt.young[view].reshape(pages.shape)[examined] = False  # ptep_test_and_clear_young
        else:
            pt.young[pages[examined]] = False  # ptep_test_and_clear_young
        if notifier is not None:
            young |= notifier.walk_young(pages, on_lru, work, valid=present) & on_lru
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

    def _walk_thp(self, notifier: SecondaryMmu | None, tables: np.ndarray,
                  result: WalkResult, work: Work, stats: MmStats) -> None:
        """The THP branch of ``walk_pmd_range`` and ``walk_pmd_range_locked``: one PMD per
        THP, ``pmdp_clear_young_notify``, promotion, no Bloom filter feedback."""
        pt, lruvec = self.pt, self.lruvec
        heads = tables * PTRS_PER_PTE
        sizes = np.full(len(heads), PTRS_PER_PTE, dtype=np.int64)
        stats.leaf_total += len(heads)
        work.cpu_ns += len(heads) * self.costs.pte_scan_ns  # get_pmd_pfn + get_pfn_folio
        on_lru = lruvec.gen[heads] >= 0
        pyoung = pt.young[heads]
        consult = notifier is not None and notifier.examines_old_ptes
        queued = pyoung | consult  # get_pmd_pfn; get_pfn_folio runs under the PMD lock
        examined = on_lru & queued
        pt.young[heads[examined]] = False  # pmdp_test_and_clear_young
        young = pyoung & examined
        if notifier is not None:
            young |= notifier.walk_pmd_young(heads, sizes, examined, work) & examined
        stats.leaf_young += int(young.sum())
        result.thp_batches += pmd_lock_batches(tables[queued])
        first, promoted = lruvec.folio_update_gen(heads[young])
        work.cpu_ns += int(young.sum()) * self.costs.gen_update_ns
        result.first_sightings += first
        result.promoted += promoted
        result.confusion.add(self.truth.score(heads[on_lru], young[on_lru], "walk"))

    def _account(self, result: WalkResult, stats: MmStats) -> None:
        for target in (result.stats, self.mm_stats):
            target.leaf_total += stats.leaf_total
            target.leaf_young += stats.leaf_young
            target.nonleaf_found += stats.nonleaf_found
            target.nonleaf_added += stats.nonleaf_added

"""One MGLRU lruvec: generations, folio flags, list order and the PID controller's counters.

Models ``struct lru_gen_folio`` (include/linux/mmzone.h) and the generation arithmetic of
mm/vmscan.c and include/linux/mm_inline.h: ``max_seq``/``min_seq``, ``inc_max_seq``,
``inc_min_seq``, ``try_to_inc_min_seq``, ``folio_update_gen`` (two-sighting promotion, 6.14+),
``folio_inc_gen``, ``lru_gen_set_refs``, ``lru_gen_folio_seq``, ``read_ctrl_pos``,
``reset_ctrl_pos``, ``positive_ctrl_err`` and ``get_tier_idx``.

Per-folio state is kept in numpy arrays indexed by page, on the folio's head page (a 4 KiB
folio is its own head; a 2 MiB THP's state sits on its first page and its tails read -1 / 0,
``simulator.mm.folio``):

- ``gen``: the generation field of folio->flags (``seq % MAX_NR_GENS``; -1 = not on an LRU list);
- ``lst``/``pos``: which list the folio physically sits on and its place in it. Promotion by the
  aging walk only rewrites ``gen``; the folio stays on its old list until ``sort_folio`` or
  ``inc_min_seq`` meets it (the kernel's lazy sorting). ``pos`` orders a list: the head has the
  largest value, eviction scans from the smallest (the tail);
- ``refs``: ``folio_lru_refs()`` (0 = PG_referenced clear, else LRU_REFS field + 1) and
  ``workingset`` (PG_workingset).

Every size counter moves by the folio's pages (``update_batch_size``, ``lru_gen_update_size``):
``nr_pages`` per generation and the PID controller's ``protected``/``evicted``/``refaulted``;
counts of folios (``list_len``, the promotions returned) stay folio counts.

Simplifications, stated where they matter: anonymous memory only (one type; ``min_seq`` is a
scalar, swappiness is irrelevant, ``get_type_to_scan`` always answers anon); one zone; one memcg
and one node, so the memcg LRU is not modelled; ``NR_HIST_GENS`` = 1.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from simulator.mm.constants import (
    LRU_REFS_WIDTH,
    MAX_LRU_BATCH,
    MAX_NR_GENS,
    MAX_NR_TIERS,
    MIN_LRU_BATCH,
    MIN_NR_GENS,
)
from simulator.mm.folio import FolioMap, weighted_bincount

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

LAZY_REFS = (1 << LRU_REFS_WIDTH) + 1
"""refs + workingset of a folio being lazily promoted (not counted as protected)."""
_HEAD0 = 1 << 40


class InvariantError(AssertionError):
    """An MGLRU invariant does not hold; the message names the invariant and a page."""


def lru_gen_from_seq(seq: int) -> int:
    """mm_inline.h: the list index of a sequence number."""
    return seq % MAX_NR_GENS


def _tier_table() -> IntArray:
    """Tier of every int8 refs value, indexed by its unsigned byte: order_base_2(refs) capped
    at 2 (0 and 1 → 0, 2 → 1, 3+ → 2); negative values (bytes 128..255) → 0."""
    r = np.arange(256, dtype=np.int64).astype(np.uint8).view(np.int8).astype(np.int64)
    table: IntArray = np.where(r <= 1, 0, np.where(r == 2, 1, 2)).astype(np.int64)
    return table


_TIER_OF_REFS = _tier_table()


def lru_tier_from_refs_before_614(refs: npt.NDArray[np.int8], workingset: BoolArray) -> IntArray:
    """``lru_tier_from_refs`` before 6.14: ``order_base_2(n + 1)`` with n = the LRU_REFS count
    plus PG_workingset (``folio_lru_refs``); ``refs`` here is the 6.14 encoding (0 =
    PG_referenced clear, else LRU_REFS + 1), so LRU_REFS = max(refs - 1, 0)."""
    n = np.maximum(refs.astype(np.int64) - 1, 0) + np.asarray(workingset, dtype=np.int64)
    tiers: IntArray = np.ceil(np.log2(n + 1)).astype(np.int64)
    return tiers


def lru_tier_from_refs(refs: npt.NDArray[np.int8], workingset: BoolArray) -> IntArray:
    """mm_inline.h ``lru_tier_from_refs``: workingset → tier 3, else order_base_2(refs)."""
    if refs.dtype == np.int8:  # the folio flags' type: one table lookup
        tiers: IntArray = _TIER_OF_REFS[refs.view(np.uint8)]
        tiers[np.asarray(workingset, dtype=bool)] = MAX_NR_TIERS - 1
        return tiers
    r = refs.astype(np.int64)
    base = np.where(r <= 1, 0, np.where(r == 2, 1, 2))
    return np.where(workingset, MAX_NR_TIERS - 1, base).astype(np.int64)


class Lruvec:
    """``struct lru_gen_folio`` plus the per-folio flag bits, for one memcg on one node."""

    def __init__(self, nr_pages: int, now_ns: int = 0, *, promotion: str = "two",
                 tiers: str = "new", insertion: str = "distance",
                 folios: FolioMap | None = None) -> None:
        self.folios = folios if folios is not None else FolioMap(-(-nr_pages // 512))
        """Which heads are large folios (the page tables' map; an empty one in unit tests)."""
        self.two_sightings = promotion == "two"
        """6.14+ ``folio_update_gen``; before, the first young sighting promotes."""
        self.tier_of = lru_tier_from_refs if tiers == "new" else lru_tier_from_refs_before_614
        self.youngest_insertion = insertion == "youngest"
        """Before 6.14 a PG_active folio (every fault-in, every putback of a mapped folio)
        goes to ``max_seq``; since, ``lru_gen_folio_seq`` puts it at ``max_seq - 1``."""
        # lru_gen_init_lruvec(): max_seq = MIN_NR_GENS + 1, min_seq = 0.
        self.max_seq = MIN_NR_GENS + 1
        self.min_seq = 0
        self.timestamps = np.full(MAX_NR_GENS, now_ns, dtype=np.int64)
        self.nr_pages = np.zeros(MAX_NR_GENS, dtype=np.int64)
        self.gen = np.full(nr_pages, -1, dtype=np.int8)
        self.lst = np.full(nr_pages, -1, dtype=np.int8)
        self.pos = np.zeros(nr_pages, dtype=np.int64)
        self.refs = np.zeros(nr_pages, dtype=np.int8)
        self.workingset = np.zeros(nr_pages, dtype=bool)
        self._head = _HEAD0
        self._tail = _HEAD0 - 1
        # PID controller (NR_HIST_GENS == 1, one type): mm/vmscan.c struct ctrl_pos inputs.
        self.avg_refaulted = np.zeros(MAX_NR_TIERS, dtype=np.int64)
        self.avg_total = np.zeros(MAX_NR_TIERS, dtype=np.int64)
        self.protected = np.zeros(MAX_NR_TIERS, dtype=np.int64)
        self.evicted = np.zeros(MAX_NR_TIERS, dtype=np.int64)
        self.refaulted = np.zeros(MAX_NR_TIERS, dtype=np.int64)
        self.list_len = np.zeros(MAX_NR_GENS, dtype=np.int64)
        """Folios physically on each list (promoted ones included), for list_empty()."""
        self.list_version = 0
        """Bumped whenever folios are appended to a list's tail (invalidates scan caches)."""

    # --- geometry -----------------------------------------------------------------------------
    @property
    def nr_gens(self) -> int:
        """get_nr_gens(): max_seq - min_seq + 1, always in [MIN_NR_GENS, MAX_NR_GENS]."""
        return self.max_seq - self.min_seq + 1

    def resident_pages(self) -> int:
        return sum(self.nr_pages.tolist())  # 4 counters: cheaper in Python than a ufunc

    # --- list placement -----------------------------------------------------------------------
    def _set_list(self, pages: IntArray, lst: int | IntArray) -> None:
        old = self.lst[pages]
        if np.any(old >= 0):
            self.list_len -= np.bincount(old[old >= 0], minlength=MAX_NR_GENS)
        self.lst[pages] = lst
        if isinstance(lst, int):
            if lst >= 0:  # every entry of pages (repeats included) now reads lst
                self.list_len[lst] += len(pages)
            return
        new = self.lst[pages]
        self.list_len += np.bincount(new[new >= 0], minlength=MAX_NR_GENS)

    def move_to_head(self, pages: IntArray, lst: int | IntArray) -> None:
        """``list_move``: put folios at the head of list(s) ``lst`` (scanned last)."""
        k = len(pages)
        self._set_list(pages, lst)
        self.pos[pages] = self._head + np.arange(k, dtype=np.int64)
        self._head += k

    def _to_tail(self, pages: IntArray, lst: int) -> None:
        # Appending in order: the first page given ends up nearest the tail (scanned first).
        k = len(pages)
        self._set_list(pages, lst)
        self.pos[pages] = self._tail - np.arange(k - 1, -1, -1, dtype=np.int64) - k
        self._tail -= 2 * k
        self.list_version += 1

    def add_folios(self, pages: IntArray) -> None:
        """``lru_gen_add_folio``: insert new folios at the head of their generation.

        ``lru_gen_folio_seq``: a PG_active folio (every fault-in, ``lru_gen_in_fault``) goes to
        ``max_seq - 1``, or ``max_seq`` with PG_workingset; an inactive anon folio not in the swap
        cache also goes to ``max_seq - 1`` (``MIN_NR_GENS``), so anon always lands there.
        """
        if len(pages) == 0:
            return
        sizes = self.folios.sizes(pages)
        if self.youngest_insertion:
            gen = lru_gen_from_seq(self.max_seq)
            self.gen[pages] = gen
            self.nr_pages[gen] += len(pages) if sizes is None else int(sizes.sum())
            self.move_to_head(pages, gen)
            return
        # seq = max(max_seq - MIN_NR_GENS + 1 + workingset, min_seq): two possible values
        base = self.max_seq - MIN_NR_GENS + 1
        gen_cold = max(base, self.min_seq) % MAX_NR_GENS
        gen_ws = max(base + 1, self.min_seq) % MAX_NR_GENS
        ws = self.workingset[pages]
        n_ws = int(np.count_nonzero(ws))
        if n_ws == 0:
            self.gen[pages] = gen_cold
            self.nr_pages[gen_cold] += len(pages) if sizes is None else int(sizes.sum())
            self.move_to_head(pages, gen_cold)
            return
        gens = np.where(ws, gen_ws, gen_cold).astype(np.int8)
        self.gen[pages] = gens
        if sizes is None:
            self.nr_pages[gen_cold] += len(pages) - n_ws
            self.nr_pages[gen_ws] += n_ws
        else:
            self.nr_pages[gen_cold] += int(sizes[~ws].sum())
            self.nr_pages[gen_ws] += int(sizes[ws].sum())
        self.move_to_head(pages, gens.astype(np.int64))

    def del_folios(self, pages: IntArray) -> None:
        """``lru_gen_del_folio`` (isolation): take folios off their lists."""
        if len(pages) == 0:
            return
        self.nr_pages -= weighted_bincount(self.gen[pages], self.folios.sizes(pages),
                                           MAX_NR_GENS)
        self.gen[pages] = -1
        self._set_list(pages, -1)

    # --- flag updates -------------------------------------------------------------------------
    def folio_update_gen(self, pages: IntArray) -> tuple[int, int]:
        """Aging-walk promotion of young folios, the 6.14+ two-sighting rule.

        mm/vmscan.c ``folio_update_gen``: a folio with neither PG_referenced nor PG_workingset
        only gets PG_referenced; otherwise its gen becomes ``gen(max_seq)``, PG_workingset is set
        and the refs flags are cleared. The folio is not moved (lazy sorting). Returns
        ``(first_sightings, promoted)``.
        """
        on_lru = self.gen[pages] >= 0
        if not on_lru.all():
            pages = pages[on_lru]
        if not self.two_sightings:
            return 0, self._promote(pages)
        first = (self.refs[pages] == 0) & ~self.workingset[pages]
        self.refs[pages[first]] = 1
        rest = pages[~first]
        n_moved = self._move_to_gen(rest, lru_gen_from_seq(self.max_seq))
        self.workingset[rest] = True
        self.refs[rest] = 0
        return int(np.count_nonzero(first)), n_moved

    def _move_to_gen(self, pages: IntArray, new_gen: int) -> int:
        """Rewrite the gen of folios (no list move) and their pages' counts; returns the folios
        whose gen changed."""
        old = self.gen[pages]
        moved = old != new_gen
        n_moved = int(np.count_nonzero(moved))
        if n_moved:
            sizes = self.folios.sizes(pages[moved])
            self.nr_pages -= weighted_bincount(old[moved], sizes, MAX_NR_GENS)
            self.nr_pages[new_gen] += n_moved if sizes is None else int(sizes.sum())
        self.gen[pages] = new_gen
        return n_moved

    def _promote(self, pages: IntArray) -> int:
        """``folio_update_gen`` before 6.14: the folio moves to ``max_seq`` at once and loses
        its refs flags (PG_referenced, PG_workingset, LRU_REFS). Returns folios moved."""
        n_moved = self._move_to_gen(pages, lru_gen_from_seq(self.max_seq))
        self.refs[pages] = 0
        self.workingset[pages] = False
        return n_moved

    def folio_inc_refs(self, pages: IntArray) -> None:
        """``folio_mark_accessed`` under MGLRU (``folio_inc_refs``, ≤6.13; KVM's access-flag
        fault called it until 6.12): the first access sets PG_referenced, the second
        PG_workingset, later ones count in LRU_REFS (saturating)."""
        pages = pages[self.gen[pages] >= 0]
        refs, ws = self.refs[pages], self.workingset[pages]
        first = refs == 0
        second = ~first & ~ws
        more = ~first & ws
        self.refs[pages[first]] = 1
        self.workingset[pages[second]] = True
        m = pages[more]
        self.refs[m] = np.minimum(self.refs[m] + 1, 1 << LRU_REFS_WIDTH)

    def lru_gen_set_refs(self, pages: IntArray) -> BoolArray:
        """mm/vmscan.c ``lru_gen_set_refs`` (rmap path): True = second sighting (activate).

        First sighting sets PG_referenced only; a second one sets PG_workingset and clears the
        refs flags.
        """
        first = (self.refs[pages] == 0) & ~self.workingset[pages]
        self.refs[pages[first]] = 1
        again = pages[~first]
        self.workingset[again] = True
        self.refs[again] = 0
        second: BoolArray = ~first
        return second

    def folio_inc_gen(self, pages: IntArray) -> IntArray:
        """``folio_inc_gen``: move oldest-gen folios to ``min_seq + 1``; keep promoted ones.

        Clears the refs flags (not PG_workingset). Returns each folio's resulting gen.
        """
        old_gen = lru_gen_from_seq(self.min_seq)
        gens = self.gen[pages].astype(np.int64)
        stay = gens == old_gen
        new_gen = (old_gen + 1) % MAX_NR_GENS
        inc = pages[stay]
        self.gen[inc] = new_gen
        self.refs[inc] = 0
        n = self.folios.total(inc)
        self.nr_pages[old_gen] -= n
        self.nr_pages[new_gen] += n
        gens[stay] = new_gen
        return gens

    # --- generations --------------------------------------------------------------------------
    def list_members(self, lst: int) -> IntArray:
        """Folios physically on list ``lst``, from the tail (scanned first) to the head."""
        members = np.flatnonzero(self.lst == lst)
        return members[np.argsort(self.pos[members], kind="stable")]

    def inc_min_seq(self) -> None:
        """``inc_min_seq``: empty the oldest list into the next generation, then bump min_seq.

        Every folio on the oldest list goes through ``folio_inc_gen`` (a promoted folio keeps its
        newer gen) and to the tail of its new list; each is counted as protected in its tier,
        except folios being lazily promoted. The kernel does this ``MAX_LRU_BATCH`` folios per
        lru_lock hold; the simulation does it in one step (same end state).
        """
        old_gen = lru_gen_from_seq(self.min_seq)
        members = self.list_members(old_gen)
        if len(members):
            refs = self.refs[members].copy()
            ws = self.workingset[members].copy()
            new_gens = self.folio_inc_gen(members)
            counted = refs.astype(np.int64) + ws != LAZY_REFS
            tiers = self.tier_of(refs[counted], ws[counted])
            self.protected += weighted_bincount(
                tiers, self.folios.sizes(members[counted]), MAX_NR_TIERS)
            # taken one by one from the tail and list_move_tail'ed: the run ends up reversed
            for g in np.flatnonzero(np.bincount(new_gens, minlength=MAX_NR_GENS)):
                self._to_tail(members[new_gens == g][::-1], int(g))
        self.reset_ctrl_pos(carryover=True)
        self.min_seq += 1

    def inc_max_seq(self, now_ns: int) -> None:
        """``inc_max_seq``: open a new youngest generation (after ``inc_min_seq`` if full)."""
        if self.nr_gens == MAX_NR_GENS:
            self.inc_min_seq()
        self.reset_ctrl_pos(carryover=False)
        self.timestamps[lru_gen_from_seq(self.max_seq + 1)] = now_ns
        self.max_seq += 1

    def try_to_inc_min_seq(self) -> bool:
        """``try_to_inc_min_seq``: skip empty oldest generations (keeping >= MIN_NR_GENS)."""
        moved = False
        while self.min_seq + MIN_NR_GENS <= self.max_seq:
            if self.list_len[lru_gen_from_seq(self.min_seq)]:
                break
            self.reset_ctrl_pos(carryover=True)
            self.min_seq += 1
            moved = True
        return moved

    # --- PID controller -----------------------------------------------------------------------
    def reset_ctrl_pos(self, carryover: bool) -> None:
        """``reset_ctrl_pos`` with NR_HIST_GENS == 1: fold into the EMA, then clear."""
        if not carryover:
            return  # clear = NR_HIST_GENS > 1 is false: nothing to do at inc_max_seq
        self.avg_refaulted = (self.avg_refaulted + self.refaulted) // 2
        self.avg_total = (self.avg_total + self.protected + self.evicted) // 2
        self.refaulted[:] = 0
        self.evicted[:] = 0
        self.protected[:] = 0

    def read_ctrl_pos(self, tier: int, gain: int) -> tuple[int, int, int]:
        """``read_ctrl_pos``: (refaulted, total, gain) of one tier, or all when tier == 4."""
        tiers = slice(0, MAX_NR_TIERS) if tier == MAX_NR_TIERS else slice(tier, tier + 1)
        refaulted = int((self.avg_refaulted[tiers] + self.refaulted[tiers]).sum())
        total = int((self.avg_total[tiers] + self.protected[tiers] + self.evicted[tiers]).sum())
        return refaulted, total, gain

    @staticmethod
    def positive_ctrl_err(sp: tuple[int, int, int], pv: tuple[int, int, int]) -> bool:
        """True if the PV has few refaults or a lower refaulted/total than the SP."""
        return pv[0] < MIN_LRU_BATCH or (
            pv[0] * (sp[1] + MIN_LRU_BATCH) * sp[2] <= (sp[0] + 1) * pv[1] * pv[2])

    def get_tier_idx(self) -> int:
        """``get_tier_idx``: tiers above the returned index are protected from eviction."""
        sp = self.read_ctrl_pos(0, 2)
        tier = 1
        while tier < MAX_NR_TIERS:
            if not self.positive_ctrl_err(sp, self.read_ctrl_pos(tier, 3)):
                break
            tier += 1
        return tier - 1

    # --- invariants ---------------------------------------------------------------------------
    def _tail_mask(self) -> BoolArray:
        """Pages that are tails of a THP."""
        mask = np.repeat(self.folios.huge, 512)[:len(self.gen)]
        mask[::512] = False
        return mask

    def check_invariants(self) -> None:
        """Raise :class:`InvariantError` when the generation bookkeeping is broken."""
        if not MIN_NR_GENS <= self.nr_gens <= MAX_NR_GENS:
            raise InvariantError(f"nr_gens={self.nr_gens} outside [2, 4] "
                                 f"(min_seq={self.min_seq}, max_seq={self.max_seq})")
        on = self.gen >= 0
        valid = {lru_gen_from_seq(s) for s in range(self.min_seq, self.max_seq + 1)}
        bad = np.flatnonzero(on & ~np.isin(self.gen, list(valid)))
        if len(bad):
            raise InvariantError(f"page {bad[0]} in gen {self.gen[bad[0]]} outside "
                                 f"[min_seq={self.min_seq}, max_seq={self.max_seq}]")
        heads = np.flatnonzero(on)
        counts = weighted_bincount(self.gen[heads], self.folios.sizes(heads), MAX_NR_GENS)
        if not np.array_equal(counts, self.nr_pages):
            raise InvariantError(f"nr_pages {self.nr_pages.tolist()} != pages of the folios "
                                 f"per gen {counts.tolist()}")
        tails = on & self._tail_mask() if self.folios.nr_huge else None
        if tails is not None and np.any(tails):
            raise InvariantError(f"page {int(np.flatnonzero(tails)[0])}: a THP tail page on "
                                 "an LRU list (the folio's state lives on its head)")
        if np.any((self.lst >= 0) != on):
            page = int(np.flatnonzero((self.lst >= 0) != on)[0])
            raise InvariantError(f"page {page}: on a list without a gen (or the reverse)")
        if np.any(self.nr_pages < 0):
            raise InvariantError(f"negative nr_pages {self.nr_pages.tolist()}")
        if not np.array_equal(np.bincount(self.lst[on], minlength=MAX_NR_GENS), self.list_len):
            raise InvariantError(f"list lengths {self.list_len.tolist()} are stale")
        stray = on & ~np.isin(self.lst, list(valid))
        if np.any(stray):
            page = int(np.flatnonzero(stray)[0])
            raise InvariantError(f"page {page} sits on list {self.lst[page]} of no live gen")


__all__ = ["MAX_LRU_BATCH", "InvariantError", "Lruvec", "lru_gen_from_seq", "lru_tier_from_refs",
           "lru_tier_from_refs_before_614"]

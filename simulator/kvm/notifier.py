"""KVM's mmu_notifier aging ops and the four notifier designs MGLRU can consult them with.

:class:`KvmAgingOps` is KVM's side (virt/kvm/kvm_main.c ``kvm_mmu_notifier_test_young`` /
``clear_young`` / ``clear_flush_young``) with the v3 bitmap API of "[PATCH v3 1/7] mm: Add a
bitmap into mmu_notifier_{clear,test}_young" (the seed mail): ``test_young(start, end, bitmap)``
and ``clear_young(start, end, bitmap)`` over at most 64 pages, bit 0 being the page at
``end - PAGE_SIZE`` (bit i ↔ page ``end - (i + 1)``), returning

- ``MMU_NOTIFIER_YOUNG`` (1 << 0): young, found by the legacy (locked) path, no bitmap used;
- ``MMU_NOTIFIER_YOUNG_BITMAP_UNRELIABLE`` (1 << 1): a bitmap was passed but is not supported:
  nothing was tested or cleared;
- ``MMU_NOTIFIER_YOUNG_FAST`` (1 << 2): young, found by a "fast" walk (lockless on x86, mmu_lock
  read on arm64): the backend's ``aging_lock`` is in its ``bitmap_locks``.

The designs, each a :class:`~simulator.mm.notify.SecondaryMmu`:

- ``blind`` (before 6.12): the walk and look-around never call KVM; the eviction pivot alone
  gets ``clear_flush_young`` (``ptep_clear_flush_young_notify``), and look-around runs only on a
  young *primary* pivot;
- ``per_page`` (6.12+): one ``clear_young`` per examined PTE, in the walk, the pivot and
  look-around (``ptep_clear_young_notify``);
- ``bitmap`` (v3 7/7, Yu Zhao): in the walk, per 64-PTE batch one ``test_young`` with a bitmap
  (``test_spte_young``) and one ``clear_young`` trimmed to the first and last set bit
  (``clear_spte_young``): at most two calls per 64 PTEs. The pivot is tested with a per-page
  ``clear_young`` (``should_look_around``); a secondary-only young pivot allows look-around
  only if the answer carried ``MMU_NOTIFIER_YOUNG_FAST``; the window then uses the two bitmap
  calls. On ``UNRELIABLE`` the caller does what ``unreliable_fallback`` says: ``blind`` (treat
  the secondary as not young, the behaviour David Matlack warned about) or ``per_page``.
  ``bitmap_variant`` picks the batches as intended or the 7/7 code as posted, whose clear
  call mis-indexes KVM's bitmap (``simulator.kvm.bitmap_batch``);
- ``fast_only`` (v5–v7): only subscribers that can age without blocking (``has_fast_aging``:
  aging lock ``none`` or ``rmap``) are consulted in the walk and look-around; others are
  skipped and read as not young. The pivot falls back to the normal call on ``FAST_FAILED``.

PMD-mapped THPs (``simulator.mm.folio``): the walk's ``pmdp_clear_young_notify`` is one
``clear_young`` over PMD_SIZE per THP from 6.12 (and in v3, without a bitmap), none before; the
eviction rmap's ``pmdp_clear_flush_young_notify`` is one ``clear_flush_young`` over PMD_SIZE in
every design (no look-around for a PMD); unmapping a THP is one invalidation of 2 MiB.

Flushes: ``clear_flush_young`` (the pre-6.12 MGLRU eviction pivot, and the classic LRU's rmap
check) flushes the VM's TLBs when it found a young SPTE, as the kernel release does it
(``young_flush``: x86 until 6.12, arm64 and spinlock arches always; 2ebbe0308c29 elided it on x86
in 6.13). ``clear_young``, which the 6.12+ walk and look-around use, never flushes.
``tlb_flush_on_age`` is a what-if on top: every clearing call that finds a young page flushes, the
question of Q4 ("what would flushing buy"). Unmapping a page at eviction flushes whenever its SPTE
was present (``invalidate_range``). A flush empties every vCPU TLB; its initiator pays ``flush_ns``
inside the call's lock hold and every vCPU ``flush_vcpu_ns`` (the IPI on x86; arm64's broadcast
TLBI interrupts nobody).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.accounting import Work
from simulator.kvm import bitmap_batch
from simulator.kvm.backends.base import (
    FAST_LOCKS,
    BoolArray,
    IntArray,
    KvmBackend,
    charge_aging_calls,
)
from simulator.kvm.bitmap_batch import MMU_NOTIFIER_YOUNG_BITMAP_UNRELIABLE
from simulator.kvm.false_young import FalseYoung
from simulator.kvm.tlb import Tlbs
from simulator.mm.folio import expand_ranges
from simulator.params import NoParams, param

MMU_NOTIFIER_YOUNG = 1 << 0
MMU_NOTIFIER_YOUNG_FAST = 1 << 2
MMU_NOTIFIER_FAST_YOUNG = 1 << 0
"""v5 ``test_clear_young_fast_only``: succeeded and found young."""
MMU_NOTIFIER_FAST_FAILED = 1 << 1
"""v5: could not do an accurate fast-only test/clear."""

class KvmAgingOps:
    """KVM's aging notifier handlers for one VM, with call and flag accounting."""

    def __init__(self, backend: KvmBackend, tlbs: Tlbs, *, tlb_flush_on_age: bool,
                 young_flush: bool | None = None, false_young: FalseYoung | None = None,
                 ) -> None:
        self.backend = backend
        self.tlbs = tlbs
        self.false_young = false_young if false_young is not None and false_young.active \
            else None
        """Speculative A bits and lost cmpxchgs (``simulator.kvm.false_young``), if any."""
        self.young_flush = (backend.kernel.young_flush(backend.name) if young_flush is None
                            else young_flush)
        """``clear_flush_young`` flushes when it found a young SPTE (the release's rule)."""
        self.tlb_flush_on_age = tlb_flush_on_age
        """What-if: every clearing call that finds a young SPTE flushes (``clear_young``
        too, which never did in any release)."""

    @property
    def bitmap_supported(self) -> bool:
        """``kvm_arch_prepare_bitmap_age()`` succeeds: the walk is fast enough for a bitmap."""
        return self.backend.aging_lock in self.backend.bitmap_locks

    @property
    def fast(self) -> bool:
        """v5–v7 ``has_fast_aging``: aging never blocks on mmu_lock."""
        return self.backend.aging_lock in FAST_LOCKS

    def _age(self, pages: IntArray, clear: bool, work: Work) -> BoolArray:
        """The backend's harvest of ``pages``' SPTEs, with the false-young sources if any."""
        if self.false_young is None:
            return self.backend.age_sptes(pages, clear)
        return self.false_young.harvest(pages, clear, work)

    def _flush(self, flushes: int, work: Work) -> None:
        """``kvm_flush_remote_tlbs`` after ``flushes`` calls that found young SPTEs: every vCPU
        TLB is emptied and each vCPU pays its IPI (the initiator's cost is charged with the
        calls, inside their lock hold)."""
        if flushes:
            work.tlb_flushes += flushes
            self.tlbs.flush_all(flushes * self.backend.flush_vcpu_ns())

    def _charge_unreliable(self, work: Work) -> None:
        """A bitmap call the arch cannot serve: KVM answers UNRELIABLE before taking any lock
        or walking anything (``kvm_arch_prepare_bitmap_age()`` said no), so only the notifier
        dispatch is paid."""
        work.notifier_calls += 1
        work.notifier_unreliable += 1
        work.cpu_ns += self.backend.costs.notifier_call_ns

    # --- per-page calls (no bitmap) -------------------------------------------------------
    def clear_young_pages(self, pages: IntArray, work: Work, *,
                          flush: bool = False) -> tuple[BoolArray, np.ndarray]:
        """One ``clear_young(addr, addr + PAGE_SIZE, NULL)`` per page: (young, flags). With
        ``flush`` (``clear_flush_young``) a call that finds a young SPTE flushes."""
        mapped = int(np.count_nonzero(self.backend.sptes.present[pages]))
        young = self._age(pages, True, work)
        flushes = int(young.sum()) if flush or self.tlb_flush_on_age else 0
        n = len(pages)
        charge_aging_calls(work, self.backend, n, n, mapped, int(np.count_nonzero(young)),
                           flushes)
        flag = MMU_NOTIFIER_YOUNG_FAST if self.bitmap_supported else MMU_NOTIFIER_YOUNG
        self._flush(flushes, work)
        return young, np.where(young, flag, 0)

    def clear_flush_young_pages(self, pages: IntArray, work: Work) -> BoolArray:
        """``clear_flush_young`` per page: flushes after each young SPTE when the release does
        (x86 until 6.12, arm64 and the others always)."""
        young, _ = self.clear_young_pages(pages, work, flush=self.young_flush)
        return young

    def clear_young_ranges(self, starts: IntArray, sizes: IntArray, work: Work, *,
                           flush: bool = False) -> BoolArray:
        """One ``clear_young(start, start + size)`` per range (a THP's 2 MiB:
        ``pmdp_clear_young_notify``; with ``flush``, ``pmdp_clear_flush_young_notify``): each
        visits a 2 MiB leaf or up to ``size`` 4 KiB ones, clears them and returns one bit.
        Charged as one call over the range's pages (the backend's range cost)."""
        pages = expand_ranges(starts, sizes)
        leaf = self.backend.sptes.is_leaf(pages)
        young_leaf = self._age(pages[leaf], True, work)
        young_pages = np.zeros(len(pages), dtype=bool)
        young_pages[leaf] = young_leaf
        young: BoolArray = np.add.reduceat(young_pages, np.cumsum(sizes) - sizes) > 0
        flushes = int(young.sum()) if flush or self.tlb_flush_on_age else 0
        # the iterator steps once per leaf: a 2 MiB leaf is one step, not 512
        mapped = int(np.count_nonzero(self.backend.sptes.present[pages[leaf]]))
        charge_aging_calls(work, self.backend, len(starts), int(np.count_nonzero(leaf)),
                           mapped, int(np.count_nonzero(young_leaf)), flushes)
        self._flush(flushes, work)
        return young

    # --- v3 bitmap calls ------------------------------------------------------------------
    def test_young(self, start: int, end: int, work: Work) -> tuple[int, int]:
        """``test_young(start, end, bitmap)``: (flags, bitmap of young pages)."""
        assert 0 < end - start <= bitmap_batch.BITMAP_BITS
        work.notifier_calls_bitmap += 1
        if not self.bitmap_supported:
            self._charge_unreliable(work)
            return MMU_NOTIFIER_YOUNG_BITMAP_UNRELIABLE, 0
        pages = np.arange(start, end, dtype=np.int64)
        mapped = int(np.count_nonzero(self.backend.sptes.present[pages]))
        young = self._age(pages, False, work)
        # one call: one descent, a step per further gfn; young leaves are only recorded
        charge_aging_calls(work, self.backend, 1, end - start, mapped, 0)
        bitmap = bitmap_batch.pack_bitmap(young)
        if bitmap:
            work.notifier_fast += 1
            return MMU_NOTIFIER_YOUNG_FAST, bitmap
        return 0, 0

    def clear_young(self, start: int, end: int, bitmap: int, work: Work) -> int:
        """``clear_young(start, end, bitmap)``: clear the pages whose bit is set; flags."""
        assert 0 < end - start <= bitmap_batch.BITMAP_BITS
        work.notifier_calls_bitmap += 1
        if not self.bitmap_supported:
            self._charge_unreliable(work)
            return MMU_NOTIFIER_YOUNG_BITMAP_UNRELIABLE
        pages = np.arange(start, end, dtype=np.int64)
        want = bitmap_batch.bitmap_bits(bitmap, end, pages)
        mapped = int(np.count_nonzero(self.backend.sptes.present[pages]))
        young = self._age(pages[want], True, work)
        flushes = int(bool(young.any())) if self.tlb_flush_on_age else 0
        # the walk covers the whole range; only the leaves whose bit is set are cleared
        charge_aging_calls(work, self.backend, 1, end - start, mapped,
                           int(np.count_nonzero(young)), flushes)
        self._flush(flushes, work)
        if young.any():
            work.notifier_fast += 1
            return MMU_NOTIFIER_YOUNG_FAST
        return 0


class NotifierDesign:
    """Base of the four designs: the unmap path and the eviction of a PMD-mapped THP are the
    same for all of them."""

    name = ""

    def __init__(self, ops: KvmAgingOps, unreliable_fallback: str = "blind",
                 bitmap_variant: str = "intended") -> None:
        self.ops = ops
        self.unreliable_fallback = unreliable_fallback
        self.bitmap_variant = bitmap_variant

    @property
    def examines_old_ptes(self) -> bool:
        return True

    def invalidate_range(self, pages: IntArray, work: Work,
                         sizes: IntArray | None = None) -> None:
        """``mmu_notifier_invalidate_range_start`` per evicted folio (``pages`` are heads of
        ``sizes`` pages; None: 4 KiB folios): the zap, and one ``kvm_flush_remote_tlbs`` for
        every call that zapped a present SPTE."""
        large = sizes > 1 if sizes is not None else None
        if sizes is not None and large is not None and large.any():
            zapped = self.ops.backend.unmap_ranges(pages[large], sizes[large], work)
            self.ops.tlbs.invalidate(expand_ranges(pages[large], sizes[large]))
            pages = pages[~large]
        else:
            zapped = 0
        if len(pages):
            zapped += self.ops.backend.unmap(pages, work)
            self.ops.tlbs.invalidate(pages)
        if zapped:
            self.ops.tlbs.flush_all(zapped * self.ops.backend.flush_vcpu_ns())

    def clear_flush_young(self, pages: IntArray, work: Work) -> BoolArray:
        return self.ops.clear_flush_young_pages(pages, work)

    def pmd_clear_flush_young(self, heads: IntArray, sizes: IntArray, work: Work) -> BoolArray:
        """``pmdp_clear_flush_young_notify`` for PMD-mapped THPs at eviction (every release
        and design: ``folio_referenced_one`` has no look-around for a PMD): one
        ``clear_flush_young`` over PMD_SIZE each, flushing when young as the release does."""
        return self.ops.clear_young_ranges(heads, sizes, work, flush=self.ops.young_flush)

    def walk_pmd_young(self, heads: IntArray, sizes: IntArray, candidates: BoolArray,
                       work: Work) -> BoolArray:
        """The secondary half of ``pmdp_clear_young_notify`` for the walk's THP PMDs (6.12+,
        1d4832becdc2; v3 the same, without a bitmap): one ``clear_young`` over PMD_SIZE per
        candidate."""
        out = np.zeros(len(heads), dtype=bool)
        if candidates.any():
            out[candidates] = self.ops.clear_young_ranges(heads[candidates],
                                                          sizes[candidates], work)
        return out

    # the three consultation points each design defines (simulator.mm.notify.SecondaryMmu)
    def walk_young(self, pages: IntArray, candidates: BoolArray, work: Work,
                   valid: BoolArray | None = None) -> BoolArray:
        raise NotImplementedError

    def pivot_young(self, pages: IntArray, primary_young: BoolArray,
                    work: Work) -> tuple[BoolArray, BoolArray]:
        raise NotImplementedError

    def window_young(self, window: IntArray, candidates: BoolArray, work: Work,
                     valid: BoolArray | None = None) -> BoolArray:
        raise NotImplementedError


class Blind(NotifierDesign):
    """Before 6.12: the secondary MMU is asked only about eviction pivots."""

    name = "blind"

    @property
    def examines_old_ptes(self) -> bool:
        return False  # get_pte_pfn skipped every old PTE before 6.12

    def walk_young(self, pages: IntArray, candidates: BoolArray, work: Work,
                   valid: BoolArray | None = None) -> BoolArray:
        return np.zeros(pages.shape, dtype=bool)

    def walk_pmd_young(self, heads: IntArray, sizes: IntArray, candidates: BoolArray,
                       work: Work) -> BoolArray:
        return np.zeros(len(heads), dtype=bool)  # pmdp_test_and_clear_young only (≤6.11.6)

    def pivot_young(self, pages: IntArray, primary_young: BoolArray,
                    work: Work) -> tuple[BoolArray, BoolArray]:
        secondary = self.ops.clear_flush_young_pages(pages, work)
        return primary_young | secondary, primary_young

    def window_young(self, window: IntArray, candidates: BoolArray, work: Work,
                     valid: BoolArray | None = None) -> BoolArray:
        return np.zeros(window.shape, dtype=bool)


class PerPage(NotifierDesign):
    """6.12+: one ``clear_young`` per examined PTE (``ptep_clear_young_notify``)."""

    name = "per_page"

    def _each(self, pages: IntArray, candidates: BoolArray, work: Work) -> BoolArray:
        out = np.zeros(pages.shape, dtype=bool)
        if candidates.any():
            out[candidates], _ = self.ops.clear_young_pages(pages[candidates], work)
        return out

    def walk_young(self, pages: IntArray, candidates: BoolArray, work: Work,
                   valid: BoolArray | None = None) -> BoolArray:
        return self._each(pages, candidates, work)

    def pivot_young(self, pages: IntArray, primary_young: BoolArray,
                    work: Work) -> tuple[BoolArray, BoolArray]:
        secondary, _ = self.ops.clear_young_pages(pages, work)
        young = primary_young | secondary
        return young, young

    def window_young(self, window: IntArray, candidates: BoolArray, work: Work,
                     valid: BoolArray | None = None) -> BoolArray:
        return self._each(window, candidates, work)


class Bitmap(PerPage):
    """v3: two bitmap calls per 64 PTEs (``simulator.kvm.bitmap_batch``: as intended, or as
    posted); look-around on a secondary-only pivot iff FAST."""

    name = "bitmap"

    def _batched(self, pages: IntArray, candidates: BoolArray, work: Work,
                 valid: BoolArray | None) -> BoolArray:
        fallback = self._each if self.unreliable_fallback == "per_page" else None
        if self.bitmap_variant == "posted_v3":
            return bitmap_batch.posted(self.ops, pages, candidates,
                                       candidates if valid is None else valid, work, fallback)
        return bitmap_batch.intended(self.ops, pages, candidates, work, fallback)

    def walk_young(self, pages: IntArray, candidates: BoolArray, work: Work,
                   valid: BoolArray | None = None) -> BoolArray:
        return self._batched(pages, candidates, work, valid)

    def pivot_young(self, pages: IntArray, primary_young: BoolArray,
                    work: Work) -> tuple[BoolArray, BoolArray]:
        secondary, flags = self.ops.clear_young_pages(pages, work)
        fast = (flags & MMU_NOTIFIER_YOUNG_FAST) != 0
        if fast.any():
            work.notifier_fast += int(fast.sum())
        return primary_young | secondary, primary_young | (secondary & fast)

    def window_young(self, window: IntArray, candidates: BoolArray, work: Work,
                     valid: BoolArray | None = None) -> BoolArray:
        return self._batched(window, candidates, work, valid)


class FastOnly(PerPage):
    """v5–v7: consult only subscribers with ``has_fast_aging``; others read as not young.
    THP PMDs in the walk are treated like PTEs (a fast-only call over PMD_SIZE, inferred: the
    series' PMD path was not re-read)."""

    name = "fast_only"

    @property
    def examines_old_ptes(self) -> bool:
        return self.ops.fast  # mm_has_fast_young_notifiers()

    def _fast_calls(self, pages: IntArray, candidates: BoolArray, work: Work) -> BoolArray:
        if not self.ops.fast:
            return np.zeros(pages.shape, dtype=bool)  # skipped by the core: "not young"
        out = self._each(pages, candidates, work)
        work.notifier_fast += int(out.sum())
        return out

    def walk_young(self, pages: IntArray, candidates: BoolArray, work: Work,
                   valid: BoolArray | None = None) -> BoolArray:
        return self._fast_calls(pages, candidates, work)

    def walk_pmd_young(self, heads: IntArray, sizes: IntArray, candidates: BoolArray,
                       work: Work) -> BoolArray:
        if not self.ops.fast:
            return np.zeros(len(heads), dtype=bool)
        out = super().walk_pmd_young(heads, sizes, candidates, work)
        work.notifier_fast += int(out.sum())
        return out

    def pivot_young(self, pages: IntArray, primary_young: BoolArray,
                    work: Work) -> tuple[BoolArray, BoolArray]:
        # should_look_around(): fast-only first; FAST_FAILED falls back to clear_young()
        if not self.ops.fast:
            work.notifier_fast_failed += len(pages)
        secondary, _ = self.ops.clear_young_pages(pages, work)
        if self.ops.fast:
            work.notifier_fast += int(secondary.sum())
        return primary_young | secondary, primary_young | (secondary & self.ops.fast)

    def window_young(self, window: IntArray, candidates: BoolArray, work: Work,
                     valid: BoolArray | None = None) -> BoolArray:
        return self._fast_calls(window, candidates, work)


@dataclass(frozen=True, slots=True)
class BitmapParams:
    """The ``[mglru]`` key only the bitmap design reads."""

    unreliable_fallback: str = param("blind", choices=("blind", "per_page"),
                                     doc="bitmap design: what the caller does on "
                                         "MMU_NOTIFIER_YOUNG_BITMAP_UNRELIABLE")
    bitmap_variant: str = param("intended", choices=("intended", "posted_v3"),
                                doc="bitmap design: the API as intended, or the v3 patches "
                                    "as posted (batches start at the first present PTE; the "
                                    "clear call trims end but passes the bitmap unshifted)")


@dataclass(frozen=True, slots=True)
class DesignEntry:
    """Registry facts of one notifier design: what the configuration and the docs need."""

    cls: type[NotifierDesign]
    kernels: str
    """Which kernels (or patch series versions) consult KVM this way."""
    params: type = NoParams
    """The ``[mglru]`` keys this design alone reads (a frozen dataclass)."""
    memory_per_page: int = 0
    """Bytes per page it keeps: none (a design's arrays live for one call)."""


NOTIFIER_DESIGNS: dict[str, DesignEntry] = {e.cls.name: e for e in (
    DesignEntry(Blind, "<6.12"), DesignEntry(PerPage, "6.12+"),
    DesignEntry(Bitmap, "v3", BitmapParams), DesignEntry(FastOnly, "v5-v7"))}
"""Registry: ``mglru.notifier`` → the design's facts, in the order of the docs."""

DESIGNS: dict[str, type[NotifierDesign]] = {name: e.cls for name, e in NOTIFIER_DESIGNS.items()}


def make_design(name: str, ops: KvmAgingOps, unreliable_fallback: str,
                bitmap_variant: str = "intended") -> NotifierDesign:
    """The notifier design ``name`` over KVM's ops."""
    if name not in DESIGNS:
        raise ValueError(f"unknown notifier design {name!r} (known: {', '.join(DESIGNS)})")
    return DESIGNS[name](ops, unreliable_fallback, bitmap_variant)

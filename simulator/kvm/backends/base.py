"""The Protocol every KVM MMU backend implements, and the behaviour they share.

A backend is one architecture's KVM MMU as aging and faults see it: which ``mmu_lock`` modes its
aging handlers can take (``aging_locks``; which one a kernel release uses is the release
profile's, ``simulator.kernels``), how a vCPU fault takes ``mmu_lock`` (``fault_lock``), whether
clearing the A bit makes the next access fault (``young_via_fault``: x86 without A/D bits, arm64
with software Access Flag), what an aging call costs its handler (``handler_ns``: how the
backend walks a range of gfns, with its own constants), and with which lock modes the v3 bitmap
walk is supported (``bitmap_locks``: the walk is "fast", i.e.
``MMU_NOTIFIER_YOUNG_FAST``).

Backends differ by mechanism and by the constants of their own walker (``simulator.costs``;
which constants two backends share, and why, is in docs/backends.md). Lock modes:
``write`` (``KVM_MMU_LOCK`` for write around the memslot walk), ``read`` (arm64 v3),
``none`` (RCU-protected lockless walk, ``CONFIG_KVM_MMU_LOCKLESS_AGING``), ``rmap`` (shadow MMU
per-rmap lock, 6.15).

THP-backed guest memory: each backend states as a fact (``maps_2m``, ``thp_rule``) whether KVM
maps a 2 MiB SPTE while the host maps the range with a PMD, or 4 KiB SPTEs. An aging call over
a THP's 2 MiB (``pmdp_clear_young_notify``) then visits one 2 MiB leaf or up to 512 4 KiB ones
and returns one bit (``kvm_handle_hva_range`` ORs the handlers' answers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from simulator.accounting import Work
from simulator.costs import CostConfig
from simulator.kernels.profile import KernelProfile
from simulator.kvm.sptes import Sptes
from simulator.mm.folio import expand_ranges
from simulator.params import NoParams

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

FAST_LOCKS = ("none", "rmap")
"""Aging that never blocks on mmu_lock: what v5–v7 called "fast" (``has_fast_aging``)."""

SHARED_COSTS: dict[str, str] = {
    "notifier_call_ns": "every backend: the notifier dispatch is generic code "
                        "(mm/mmu_notifier.c, virt/kvm/kvm_main.c kvm_handle_hva_range)",
    "mmu_lock_ns": "every backend that takes mmu_lock: the same rwlock or spinlock code",
    "tdp_descend_ns": "x86_tdp and x86_tdp_noad: the same TDP MMU iterator (tdp_iter_start)",
    "tdp_leaf_step_ns": "x86_tdp and x86_tdp_noad: the same TDP MMU iterator (tdp_iter_next)",
    "zap_ns": "every backend: one unmapped gfn in kvm_mmu_notifier_invalidate_range_start "
              "(the generic part; the walk over a range's further leaves is each backend's "
              "own handler_ns); no per-arch figure is published, one estimate for all",
    "tlb_flush_ns": "x86_tdp, x86_tdp_noad, x86_shadow, generic: kvm_flush_remote_tlbs by "
                    "KVM_REQ_TLB_FLUSH and IPIs (arm64 broadcasts a TLBI: tlbi_vmid_ns)",
    "tlb_flush_vcpu_ns": "the same four: a vCPU's VM exit for the flush IPI (arm64: none)",
    "fault_first_touch_ns": "every backend: the host side of a first touch (GUP, page "
                            "allocation, zeroing, memcg) is common code; fitted on x86 TDP, "
                            "no other arch figure is published",
    "fault_gup_ns": "every backend: hva_to_pfn / GUP under mmap_lock is common code",
    "fault_lock_hold_ns": "every backend: fitted on the x86 TDP MMU's kvm_tdp_mmu_map; the "
                          "stage-2 and shadow map paths have no published figure (an "
                          "assumption, swept in Q1's sensitivity)",
    "thp_fault_page_ns": "every backend: folio_zero_user of a THP is host code",
    "spte_fault_ns": "every backend: an EPT/stage-2 fault on a page the host maps (estimate)",
}
"""The cost constants more than one backend charges, and why they are the same: the aging
walkers' (``aging_costs``) and the fault, zap and flush paths'."""


@dataclass(slots=True)
class LockDebt:
    """mmu_lock acquisitions made on this VM's lock by kswapd since its last timed step.

    The same acquisitions are also counted in the caller's :class:`Work` (for totals); this
    per-VM copy tells the machine *which* VM's lock they contend on, and keeps acquisitions
    of different kinds apart (a 300 ns zap and a 12 ns ``clear_young`` are not two 156 ns
    holds: waits grow with the square of the hold).
    """

    groups: dict[tuple[str, int], int] = field(default_factory=dict)
    """(mode, hold in whole ns) → acquisitions."""

    def add(self, mode: str, count: int, hold_ns: float) -> None:
        if count:
            key = (mode, max(1, round(hold_ns)))
            self.groups[key] = self.groups.get(key, 0) + count

    @property
    def write_locks(self) -> int:
        return sum(n for (mode, _), n in self.groups.items() if mode == "write")

    @property
    def read_locks(self) -> int:
        return sum(n for (mode, _), n in self.groups.items() if mode == "read")

    def take(self) -> LockDebt:
        out = LockDebt(self.groups)
        self.groups = {}
        return out


class KvmBackend(Protocol):
    """One KVM MMU implementation (x86 TDP MMU, shadow MMU, arm64 stage-2, ...)."""

    name: ClassVar[str]
    description: ClassVar[str]
    aging_locks: ClassVar[tuple[str, ...]]
    fault_lock: ClassVar[str]
    bitmap_locks: ClassVar[tuple[str, ...]]
    maps_2m: ClassVar[bool]
    """KVM maps a 2 MiB SPTE while the host maps the range with a PMD (THP)."""
    thp_rule: ClassVar[str]
    """The backend's mapping-size rule for THP-backed memory, with its source."""
    cmpxchg_counts_young: ClassVar[bool]
    """Lockless aging ages by cmpxchg and counts a failed one as young (x86 A/D off, 6.15)."""
    aging_costs: ClassVar[tuple[str, ...]]
    """The cost constants its aging handler charges (``handler_ns``)."""

    sptes: Sptes
    aging_lock: str
    costs: CostConfig
    kernel: KernelProfile
    pending: LockDebt

    @property
    def young_via_fault(self) -> bool:
        """True if an old SPTE makes the next TLB fill fault (no hardware A bit)."""
        ...

    @property
    def access_fault_ns(self) -> float:
        """Cost of the fault that marks an old SPTE young again (``young_via_fault``)."""
        ...

    @property
    def access_fault_lock(self) -> str:
        """``none``, ``read`` or ``write``: the lock that fault takes."""
        ...

    @property
    def marks_accessed_on_fault(self) -> bool:
        """That fault marks the host folio accessed (``folio_mark_accessed``)."""
        ...

    def handler_ns(self, calls: int, gfns: int, mapped: int, cleared: int) -> float:
        """The arch handler's work for ``calls`` aging calls over ``gfns`` gfns in all, of which
        ``mapped`` have an SPTE and ``cleared`` young leaves get cleared: the part of a call
        that runs under the aging lock (the notifier dispatch is outside it)."""
        ...

    def age_sptes(self, pages: IntArray, clear: bool) -> BoolArray:
        """Test (and, if ``clear``, clear) the young state of SPTEs; state change only."""
        ...

    def flush_ns(self) -> float:
        """The initiator's cost of one ``kvm_flush_remote_tlbs``."""
        ...

    def flush_vcpu_ns(self) -> float:
        """What one flush costs each vCPU (its IPI and VM exit; 0 for a broadcast TLBI)."""
        ...

    def unmap(self, pages: IntArray, work: Work) -> int:
        """``kvm_unmap_gfn_range`` for evicted pages: zap SPTEs under the write lock, one
        notifier call per page, each flushing the TLBs if it zapped a present SPTE. Returns
        the number of flushes."""
        ...

    def unmap_ranges(self, starts: IntArray, sizes: IntArray, work: Work) -> int:
        """The same with one notifier call per range ``[start, start + size)`` (a THP's
        2 MiB). Returns the number of flushes."""
        ...


class BackendBase:
    """Shared implementation: hardware A bits, a TDP-style SPTE walk, write-locked zaps."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams
    """Registry fact: the ``[vm]`` keys this backend alone reads (a frozen dataclass)."""
    memory_per_page: ClassVar[int] = 3
    """Registry fact: bytes per page of the index space (``Sptes``: present, young, dirty)."""
    aging_locks: ClassVar[tuple[str, ...]] = ("write",)
    fault_lock: ClassVar[str] = "read"
    bitmap_locks: ClassVar[tuple[str, ...]] = ()
    maps_2m: ClassVar[bool] = False
    thp_rule: ClassVar[str] = "4 KiB SPTEs whatever the host mapping"
    cmpxchg_counts_young: ClassVar[bool] = False
    aging_costs: ClassVar[tuple[str, ...]] = ("tdp_descend_ns", "tdp_leaf_step_ns",
                                              "tdp_young_ns")

    def __init__(self, guest_pages: int, aging_lock: str, costs: CostConfig,
                 hw_af: bool, kernel: KernelProfile) -> None:
        self.sptes = Sptes(guest_pages)
        self.aging_lock = aging_lock
        self.costs = costs
        self.hw_af = hw_af
        self.kernel = kernel
        self.pending = LockDebt()

    @property
    def young_via_fault(self) -> bool:
        return False

    @property
    def access_fault_ns(self) -> float:
        return 0.0

    @property
    def access_fault_lock(self) -> str:
        return "none"

    @property
    def marks_accessed_on_fault(self) -> bool:
        return False

    def handler_ns(self, calls: int, gfns: int, mapped: int, cleared: int) -> float:
        """A range walk in the TDP MMU's way (``__kvm_tdp_mmu_age_gfn_range``): one descent
        per call (``tdp_iter_start``), one step per further gfn (``tdp_iter_next``), one
        atomic clear per young leaf (``kvm_tdp_mmu_age_spte``)."""
        c = self.costs
        return (calls * c.tdp_descend_ns + (gfns - calls) * c.tdp_leaf_step_ns
                + cleared * self.young_ns())

    def young_ns(self) -> float:
        """Clearing one young leaf (``tdp_mmu_clear_spte_bits_atomic`` with A/D bits)."""
        return self.costs.tdp_young_ns

    def age_sptes(self, pages: IntArray, clear: bool) -> BoolArray:
        young: BoolArray = self.sptes.present[pages] & self.sptes.young[pages]
        if clear:
            self.sptes.young[pages] = False
        return young

    def flush_ns(self) -> float:
        """x86 (and the spinlock arches): ``KVM_REQ_TLB_FLUSH`` to every vCPU, an IPI to those
        in guest mode, waiting for each to exit and acknowledge."""
        return self.costs.tlb_flush_ns

    def flush_vcpu_ns(self) -> float:
        return self.costs.tlb_flush_vcpu_ns

    def unmap(self, pages: IntArray, work: Work) -> int:
        c = self.costs
        zapped = int(np.count_nonzero(self.sptes.present[pages]))
        self.sptes.zap(pages)
        n = len(pages)
        flush = zapped * self.flush_ns()
        work.cpu_ns += n * (c.zap_ns + c.mmu_lock_ns) + flush
        work.write_locks += n
        work.write_hold_ns += n * c.zap_ns + flush
        work.unmap_flushes += zapped
        self.pending.add("write", n - zapped, c.zap_ns)
        self.pending.add("write", zapped, c.zap_ns + self.flush_ns())
        return zapped

    def unmap_ranges(self, starts: IntArray, sizes: IntArray, work: Work) -> int:
        """One ``invalidate_range_start`` per range: the write lock once, ``zap_ns`` for the
        call and its first leaf, the backend's aging walk over every further leaf as if it
        were young (``handler_ns`` with no call: the same step and atomic write as aging one),
        one flush if anything was present."""
        c = self.costs
        pages = expand_ranges(starts, sizes)
        live = self.sptes.present[pages] & self.sptes.is_leaf(pages)
        leaves = np.add.reduceat(live.astype(np.int64), np.cumsum(sizes) - sizes)
        self.sptes.zap(pages)
        n, zapped = len(starts), int(np.count_nonzero(leaves))
        further = int(np.maximum(leaves - 1, 0).sum())
        hold = n * c.zap_ns + self.handler_ns(0, further, further, further)
        flush = zapped * self.flush_ns()
        work.cpu_ns += hold + n * c.mmu_lock_ns + flush
        work.write_locks += n
        work.write_hold_ns += hold + flush
        work.unmap_flushes += zapped
        self.pending.add("write", n, (hold + flush) / n if n else 0.0)
        return zapped


def charge_aging_calls(work: Work, backend: KvmBackend, calls: int, gfns: int, mapped: int,
                       cleared: int, flushes: int = 0) -> None:
    """Charge ``calls`` aging notifier calls that cover ``gfns`` gfns in all (``mapped`` with an
    SPTE, ``cleared`` young leaves cleared), ``flushes`` of which end in a remote TLB flush.

    Each call pays the notifier dispatch (``notifier_call_ns``, outside any lock) and the
    backend's handler (``handler_ns``: per call, per gfn, per young leaf), each flush the
    initiator's ``flush_ns`` (``kvm_handle_hva_range`` flushes before it drops the lock, so a
    flush is part of the hold). The lock mode adds:
    ``write`` one acquire/release per call with the handler held under it
    (``kvm_handle_hva_range`` takes ``KVM_MMU_LOCK`` once per call); ``read`` the same without
    excluding readers; ``rmap`` and ``none`` nothing here (the shadow MMU's per-rmap locks are
    part of its handler; RCU costs nothing measurable). The lock word's atomics are charged by
    the VM's lock model (``simulator.kvm.mmu_lock``), which the acquisitions reach through
    ``backend.pending``.
    """
    c = backend.costs
    work.notifier_calls += calls
    handler = backend.handler_ns(calls, gfns, mapped, cleared) + flushes * backend.flush_ns()
    work.cpu_ns += calls * c.notifier_call_ns + handler
    lock = backend.aging_lock
    if lock in ("write", "read") and calls:
        hold = handler + calls * c.mmu_lock_ns
        work.cpu_ns += calls * c.mmu_lock_ns
        if lock == "write":
            work.write_locks += calls
            work.write_hold_ns += hold
        else:
            work.read_locks += calls
        backend.pending.add(lock, calls, hold / calls)

"""A generic architecture (powerpc/riscv-like): spinlock ``mmu_lock``, locked aging, no bitmap.

Architectures without ``KVM_HAVE_MMU_RWLOCK`` protect their secondary page tables with a
spinlock: aging (``kvm_age_gfn`` through ``kvm_handle_hva_range``) and every vCPU fault take it
exclusively. Nothing here implemented the v3 bitmap or fast aging, so bitmap calls return
``MMU_NOTIFIER_YOUNG_BITMAP_UNRELIABLE`` (the generic KVM handler's answer) and ``fast_only``
callers skip it. Hardware A bits are assumed (RISC-V Svadu, powerpc radix).
"""

from __future__ import annotations

from typing import ClassVar

from simulator.kvm.backends.base import BackendBase


class Generic(BackendBase):
    """A spinlock-protected secondary MMU without bitmap support."""

    name: ClassVar[str] = "generic"
    description: ClassVar[str] = (
        "generic arch (powerpc/riscv-like): spinlock mmu_lock taken by aging and by every "
        "fault; no bitmap, no fast aging")
    aging_locks: ClassVar[tuple[str, ...]] = ("write",)
    fault_lock: ClassVar[str] = "write"
    bitmap_locks: ClassVar[tuple[str, ...]] = ()
    maps_2m: ClassVar[bool] = False
    thp_rule: ClassVar[str] = (
        "4 KiB SPTEs (a choice): the spinlock architectures differ (powerpc radix can map "
        "2 MiB, RISC-V maps at the VMA's page size, PAGE_SIZE for THP-backed anonymous "
        "memory); 4 KiB is the bound that makes aging and zaps cost most")
    aging_costs: ClassVar[tuple[str, ...]] = ("generic_walk_ns", "generic_young_ns")

    def handler_ns(self, calls: int, gfns: int, mapped: int, cleared: int) -> float:
        """No range iterator: the handler looks each gfn up from the root (book3s radix's
        ``kvm_age_radix`` via ``__find_linux_pte`` per gfn) and clears a young leaf
        atomically."""
        c = self.costs
        return gfns * c.generic_walk_ns + cleared * c.generic_young_ns

"""x86 shadow MMU (nested guests, or ``tdp_mmu=N``): aging walks rmaps, arch/x86/kvm/mmu/mmu.c.

Aging visits each gfn's rmap (``kvm_rmap_age_gfn_range``) and test-and-clears the A bit of every
SPTE on it. Before 6.15 it took ``mmu_lock`` for write; since 6.15 (Sean Christopherson's patches
in the lockless-aging series) it takes only a per-rmap lock (``rmap``). Shadow-MMU vCPU faults
take ``mmu_lock`` for write, so write-locked aging and faults exclude each other. No bitmap
support in v3: KVM returned ``MMU_NOTIFIER_YOUNG_BITMAP_UNRELIABLE`` whenever shadow roots
existed, the "nested virtualization blindness" David Matlack pointed out.
"""

from __future__ import annotations

from typing import ClassVar

from simulator.kvm.backends.base import BackendBase


class X86Shadow(BackendBase):
    """x86 shadow MMU."""

    name: ClassVar[str] = "x86_shadow"
    description: ClassVar[str] = (
        "x86 shadow MMU: aging walks rmaps under mmu_lock write (<6.15) or a per-rmap lock "
        "(6.15+, default); faults take mmu_lock write; no bitmap support")
    aging_locks: ClassVar[tuple[str, ...]] = ("write", "rmap")
    fault_lock: ClassVar[str] = "write"
    bitmap_locks: ClassVar[tuple[str, ...]] = ()
    maps_2m: ClassVar[bool] = False
    thp_rule: ClassVar[str] = (
        "4 KiB SPTEs (a choice): the shadow MMU caps the level by the guest's own page size "
        "(paging_tmpl.h fault.max_level = walker.level, or L1's EPT for a nested guest), which "
        "the model does not know; 4 KiB is the bound that makes aging and zaps cost most")
    aging_costs: ClassVar[tuple[str, ...]] = ("rmap_head_ns", "rmap_lock_ns", "rmap_spte_ns",
                                              "rmap_young_ns")

    def handler_ns(self, calls: int, gfns: int, mapped: int, cleared: int) -> float:
        """``kvm_rmap_age_gfn_range``: no descent; for each level (4K, 2M, 1G) one rmap head
        per gfn step of that level (``gfns`` + about 2 per call for the huge levels), each
        non-empty head locked (``kvm_rmap_lock_readonly``, 6.15 lockless aging only) and its
        SPTE read through the chain (a scattered line), each young SPTE cleared."""
        c = self.costs
        heads = gfns + 2 * calls
        lock = c.rmap_lock_ns if self.aging_lock == "rmap" else 0.0
        return (heads * c.rmap_head_ns + mapped * (lock + c.rmap_spte_ns)
                + cleared * c.rmap_young_ns)

"""arm64 stage-2 (arch/arm64/kvm/mmu.c, hyp/pgtable.c): hardware or software Access Flag.

Aging (``kvm_age_gfn`` → ``kvm_pgtable_stage2_test_clear_young``) runs under ``mmu_lock`` for
write upstream; v3 of the bitmap series used the read lock (and reported the walk as
``MMU_NOTIFIER_YOUNG_FAST``); Yu Zhao's v2 used RCU (``none``). vCPU faults take the read lock.
With FEAT_HAFDBS (``hw_af = true``) hardware sets the AF on a TLB fill like x86 A bits; without
it (``hw_af = false``) a cleared AF makes the next TLB fill take an access-flag fault, handled by
``handle_access_fault`` under the read lock (the write lock before 6.3, fc61f554e694; the
release profile's ``arm64_af_fault_lock``); until 6.12 that fault also marked the host folio
accessed (2362506f7cff removed it in 6.13). A young ``clear_flush_young`` and every unmap of a
present entry invalidate the VMID by broadcast TLBI (``__kvm_tlb_flush_vmid``; the unmap's
``tlbi vmalle1is`` drops every stage-1 entry), which interrupts no vCPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from simulator.kvm.backends.base import BackendBase
from simulator.params import param


@dataclass(frozen=True, slots=True)
class Arm64Params:
    """The ``[vm]`` key only arm64 reads."""

    hw_af: bool = param(True, doc="arm64 only: hardware Access Flag (false: access-flag faults)")


class Arm64(BackendBase):
    """arm64 stage-2 page tables."""

    name: ClassVar[str] = "arm64"
    description: ClassVar[str] = (
        "arm64 stage-2: aging under mmu_lock write (upstream), read (v3) or RCU (v2); faults "
        "take read; hw_af=false gives access-flag faults; v3 bitmap with read or RCU")
    aging_locks: ClassVar[tuple[str, ...]] = ("write", "read", "none")
    fault_lock: ClassVar[str] = "read"
    bitmap_locks: ClassVar[tuple[str, ...]] = ("read", "none")
    Params: ClassVar[type] = Arm64Params
    maps_2m: ClassVar[bool] = True
    thp_rule: ClassVar[str] = (
        "2 MiB block while the host maps the range with a PMD: user_mem_abort -> "
        "transparent_hugepage_adjust maps PMD_SIZE when fault_supports_stage2_huge_mapping "
        "and get_user_mapping_size(hva) >= PMD_SIZE ('Only PMD_SIZE THPs are currently "
        "supported'); dirty logging and pKVM force pages (not modelled)")
    aging_costs: ClassVar[tuple[str, ...]] = ("s2_descend_ns", "s2_leaf_step_ns",
                                              "s2_young_store_ns", "s2_young_cas_ns")

    @property
    def young_via_fault(self) -> bool:
        return not self.hw_af

    def handler_ns(self, calls: int, gfns: int, mapped: int, cleared: int) -> float:
        """``kvm_pgtable_stage2_test_clear_young`` → ``kvm_pgtable_walk`` over the range: one
        descent per call, one visit per further leaf (an indirect call to
        ``stage2_age_walker``), one ``stage2_try_set_pte`` per young leaf: a plain store under
        the write lock, a cmpxchg in a shared walk (read lock or RCU)."""
        c = self.costs
        young = c.s2_young_store_ns if self.aging_lock == "write" else c.s2_young_cas_ns
        return (calls * c.s2_descend_ns + (gfns - calls) * c.s2_leaf_step_ns
                + cleared * young)

    @property
    def access_fault_ns(self) -> float:
        return self.costs.fault_access_flag_ns

    @property
    def access_fault_lock(self) -> str:
        return self.kernel.arm64_af_fault_lock

    @property
    def marks_accessed_on_fault(self) -> bool:
        return self.kernel.kvm_marks_accessed == "yes"

    def flush_ns(self) -> float:
        """``__kvm_tlb_flush_vmid``: a broadcast ``tlbi vmalls12e1is`` and its DSB; no IPI."""
        return self.costs.tlbi_vmid_ns

    def flush_vcpu_ns(self) -> float:
        return 0.0

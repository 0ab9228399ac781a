"""x86 TDP MMU without A/D bits (``ept_ad=0`` / ``eptad=0``): access tracking by SPTE masking.

Without hardware Accessed bits, aging makes an SPTE "access-tracked" (``mark_spte_for_access_
track``: the RWX bits are saved and cleared, so the next translation fill faults). The fault is
restored by ``fast_page_fault`` without ``mmu_lock`` (lockless since 2021, Matlack's
"Writing to idle memory" 3.25 s → 0.30 s). Aging is lockless since 6.15 like the A/D case; a
cmpxchg that loses a race is counted as young (``kvm_tdp_mmu_age_spte``; what makes it fail
and how rare it is: ``simulator.kvm.false_young``, ``vm.cmpxchg_fail``).
Already-cached TLB entries keep working after aging (no flush since 6.13), so only a TLB miss
on an access-tracked SPTE faults. The v3 bitmap was not supported here (returns UNRELIABLE).
"""

from __future__ import annotations

from typing import ClassVar

from simulator.kvm.backends.base import BackendBase
from simulator.kvm.backends.x86_tdp import X86_TDP_THP_RULE


class X86TdpNoAd(BackendBase):
    """x86 TDP MMU, A/D bits disabled."""

    name: ClassVar[str] = "x86_tdp_noad"
    description: ClassVar[str] = (
        "x86 TDP MMU without A/D bits: aging access-tracks SPTEs, the next TLB fill takes a "
        "lockless fast page fault; no bitmap support")
    aging_locks: ClassVar[tuple[str, ...]] = ("write", "none")
    fault_lock: ClassVar[str] = "read"
    bitmap_locks: ClassVar[tuple[str, ...]] = ()
    maps_2m: ClassVar[bool] = True
    thp_rule: ClassVar[str] = X86_TDP_THP_RULE
    cmpxchg_counts_young: ClassVar[bool] = True
    aging_costs: ClassVar[tuple[str, ...]] = ("tdp_descend_ns", "tdp_leaf_step_ns",
                                              "tdp_noad_young_ns")

    @property
    def young_via_fault(self) -> bool:
        return True

    def young_ns(self) -> float:
        """``mark_spte_for_access_track`` + one ``__tdp_mmu_set_spte_atomic`` cmpxchg; the walk
        itself is the TDP MMU's, as with A/D bits (same iterator, same constants)."""
        return self.costs.tdp_noad_young_ns

    @property
    def access_fault_ns(self) -> float:
        return self.costs.fault_access_track_ns

    @property
    def access_fault_lock(self) -> str:
        return "none"  # fast_page_fault restores the SPTE with a cmpxchg, no mmu_lock

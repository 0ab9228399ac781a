"""x86 TDP MMU without A/D bits (``ept_ad=0`` / ``eptad=0``): access tracking by SPTE masking.

Without hardware Accessed bits, aging makes an SPTE "access-tracked" (``mark_spte_for_access_
track``: the RWX bits are saved and cleared, so the next translation fill faults). The fault is
restored by ``fast_page_fault`` without ``mmu_lock`` (lockless since 2021, Matlack's
"Writing to idle memory" 3.25 s → 0.30 s). Aging is lockless since 6.15 like the A/D case; a
cmpxchg that loses a race with a vCPU is counted as young (``kvm_tdp_mmu_age_spte``). In the
model aging steps and fast-fault restores never interleave inside one step, so such failures do
not occur; their expected number per pass is below one at the simulated fault rates.
Already-cached TLB entries keep working after aging (no flush since 6.13), so only a TLB miss
on an access-tracked SPTE faults. The v3 bitmap was not supported here (returns UNRELIABLE).
"""

from __future__ import annotations

from typing import ClassVar

from simulator.kvm.backends.base import BackendBase


class X86TdpNoAd(BackendBase):
    """x86 TDP MMU, A/D bits disabled."""

    name: ClassVar[str] = "x86_tdp_noad"
    description: ClassVar[str] = (
        "x86 TDP MMU without A/D bits: aging access-tracks SPTEs, the next TLB fill takes a "
        "lockless fast page fault; no bitmap support")
    aging_locks: ClassVar[tuple[str, ...]] = ("write", "none")
    fault_lock: ClassVar[str] = "read"
    bitmap_locks: ClassVar[tuple[str, ...]] = ()

    @property
    def young_via_fault(self) -> bool:
        return True

    @property
    def access_fault_ns(self) -> float:
        return self.costs.fault_access_track_ns

    @property
    def access_fault_lock(self) -> str:
        return "none"  # fast_page_fault restores the SPTE with a cmpxchg, no mmu_lock

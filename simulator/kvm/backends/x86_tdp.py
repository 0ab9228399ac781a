"""x86 TDP MMU with hardware A/D bits (EPT or NPT), arch/x86/kvm/mmu/tdp_mmu.c.

Aging (``kvm_tdp_mmu_age_gfn_range`` / ``kvm_tdp_mmu_test_age_gfn``) clears the Accessed bit of
leaf SPTEs with an atomic bit clear (``tdp_mmu_clear_spte_bits_atomic``). Before 6.15 the
notifier path took ``mmu_lock`` for write (``aging_lock = "write"``); since "KVM: x86/mmu: Age
sptes locklessly" (v9, applied for 6.15, ``CONFIG_KVM_MMU_LOCKLESS_AGING``) it walks under RCU
only (``none``). vCPU faults (``kvm_tdp_mmu_map``) take ``mmu_lock`` for read. Since 6.13 aging
does not flush TLBs. Unmapping for reclaim (``kvm_unmap_gfn_range`` from
``invalidate_range_start``) always takes the write lock and flushes the zapped translations.
"""

from __future__ import annotations

from typing import ClassVar

from simulator.accounting import Work
from simulator.costs import CostConfig
from simulator.kvm.backends.base import BoolArray, IntArray, charge_aging_call
from simulator.kvm.sptes import Sptes


class X86Tdp:
    """x86 TDP MMU, A/D bits enabled."""

    name: ClassVar[str] = "x86_tdp"
    description: ClassVar[str] = (
        "x86 TDP MMU with A/D bits: atomic A-bit clear; aging under mmu_lock write (<6.15) "
        "or RCU-lockless (6.15+); faults take mmu_lock read")
    aging_locks: ClassVar[tuple[str, ...]] = ("write", "none")
    upstream_aging_lock: ClassVar[str] = "none"
    fault_lock: ClassVar[str] = "read"

    def __init__(self, guest_pages: int, aging_lock: str, costs: CostConfig) -> None:
        self.sptes = Sptes(guest_pages)
        self.aging_lock = aging_lock
        self.costs = costs

    def clear_young(self, pages: IntArray, work: Work) -> BoolArray:
        young = self.sptes.present[pages] & self.sptes.young[pages]
        self.sptes.young[pages] = False
        charge_aging_call(work, self.costs, self.aging_lock, len(pages))
        return young

    def clear_flush_young(self, pages: IntArray, work: Work) -> BoolArray:
        # Since 6.13 x86 clear_flush_young does not flush either (it is clear_young).
        return self.clear_young(pages, work)

    def unmap(self, pages: IntArray, work: Work) -> None:
        self.sptes.zap(pages)
        n = len(pages)
        work.cpu_ns += n * (self.costs.zap_ns + self.costs.mmu_lock_ns)
        work.write_locks += n
        work.write_hold_ns += n * self.costs.zap_ns

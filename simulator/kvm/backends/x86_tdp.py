"""x86 TDP MMU with hardware A/D bits (EPT or NPT), arch/x86/kvm/mmu/tdp_mmu.c.

Aging (``kvm_tdp_mmu_age_gfn_range`` / ``kvm_tdp_mmu_test_age_gfn``) clears the Accessed bit of
leaf SPTEs with an atomic bit clear (``tdp_mmu_clear_spte_bits_atomic``). Before 6.15 the
notifier path took ``mmu_lock`` for write (``aging_lock = "write"``); since "KVM: x86/mmu: Age
sptes locklessly" (v9, applied for 6.15, ``CONFIG_KVM_MMU_LOCKLESS_AGING``) it walks under RCU
only (``none``), the upstream default here. vCPU faults (``kvm_tdp_mmu_map``) take ``mmu_lock``
for read. In the v3 bitmap series (patch 5/7) x86 supported the bitmap only on the lockless
TDP path. Unmapping for reclaim always takes the write lock.
"""

from __future__ import annotations

from typing import ClassVar

from simulator.kvm.backends.base import BackendBase

X86_TDP_THP_RULE = (
    "2 MiB SPTE while the host maps the range with a PMD: kvm_mmu_max_mapping_level = min(the "
    "memslot's lpage_info limit, max_huge_page_level, host_pfn_mapping_level), the last a walk "
    "of the host page table (pmd_leaf -> 2 MiB); 4 KiB for mTHP, dirty logging and NX-hugepage "
    "exec faults (not modelled)")
"""x86 TDP MMU (with or without A/D bits): the mapping-size rule, arch/x86/kvm/mmu/mmu.c."""


class X86Tdp(BackendBase):
    """x86 TDP MMU, A/D bits enabled."""

    name: ClassVar[str] = "x86_tdp"
    description: ClassVar[str] = (
        "x86 TDP MMU with A/D bits: atomic A-bit clear; aging under mmu_lock write (<6.15) "
        "or RCU-lockless (6.15+, default); faults take mmu_lock read; v3 bitmap when lockless")
    aging_locks: ClassVar[tuple[str, ...]] = ("write", "none")
    fault_lock: ClassVar[str] = "read"
    bitmap_locks: ClassVar[tuple[str, ...]] = ("none",)
    maps_2m: ClassVar[bool] = True
    thp_rule: ClassVar[str] = X86_TDP_THP_RULE

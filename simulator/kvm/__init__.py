"""The secondary MMU side: KVM's page tables, vCPU TLBs, ``kvm->mmu_lock`` and the
mmu_notifier subscription through which MGLRU asks KVM about guest accesses.

Modules: ``tlb`` (per-vCPU TLBs), ``mmu_lock`` (the rwlock's contention: the interface, and
``mmu_lock_fine`` / ``mmu_lock_fast`` its two models, on the shared cache lines of ``lines``
and the host ``topology``), ``sptes``
(SPTE present/young/dirty arrays), ``backends`` (one file per KVM MMU implementation, behind
``backends.base.KvmBackend``), ``notifier`` (``kvm_mmu_notifier_{clear,test}_young``,
``clear_flush_young`` and ``invalidate_range_start`` as seen from mm), ``vcpu`` (one access
quantum: TLB lookups, A-bit setting, fault detection).
"""

"""Young answers nobody earned: speculative A bits and the lost cmpxchg of lockless aging.

Two sources of false positives act where KVM harvests SPTE A bits (every aging notifier call,
``simulator.kvm.notifier.KvmAgingOps``), so every design and call site sees them:

- **Speculative or prefetch A bits** (``vm.speculative_young``). Intel SDM Vol. 3A §4.10.2.3:
  "the processor may cache translations required for prefetches and for accesses that are a
  result of speculative execution that would never actually occur in the executed code path",
  and a translation is cached only after its A flags are set; SDM Vol. 3C says the same of EPT
  A flags ("whenever the processor uses an EPT paging-structure entry ... it sets the accessed
  flag"); the Arm ARM permits it outright (D8.5.1.2, R_LHQRX, I_PJWQY). No per-page rate has
  been published (truth-thp notes §3), so the rate is an **assumption**: the probability that
  an idle leaf (present, A clear) has its A bit set by speculation between two harvests, drawn
  once per idle leaf per harvest. Default 0; a sensitivity range of 1e-4 to 1e-2 per idle page
  per aging interval is what the notes call plausible. Only SPTEs get it: the guest runs the
  speculating code; host-side speculation on the VMM's mapping of guest memory is not modelled.
  A speculative fill would also cache the translation; the TLB is left alone.
- **The failed cmpxchg of lockless A/D-off aging** (``vm.cmpxchg_fail``). b146a9b34aed ("KVM:
  x86/mmu: Age TDP MMU SPTEs without holding mmu_lock", 6.15), ``kvm_tdp_mmu_age_spte``: with
  A/D bits disabled an accessed SPTE is aged by a cmpxchg to its access-tracked value, and
  "It is safe for the following cmpxchg to fail. Leave the Accessed bit set, as the spte is
  most likely young anyway"; the caller has already counted it young. The cmpxchg fails when
  the SPTE changed between the iterator's read and the exchange: another ager clearing the same
  SPTE (several reclaimers aging one VM), a zap racing the RCU walk (the write-locked
  invalidation does not exclude lockless agers), or a write-protection for dirty logging. With
  A/D bits the clear is an atomic ``fetch_and`` that cannot fail, and before 6.15 aging held
  ``mmu_lock`` for write, so no case exists there. **How rare it is here**: the model runs each
  actor's step atomically and has no dirty logging, so none of those races can happen and the
  mechanism's own rate is exactly 0; the truth-thp notes put it at ≤1e-5 per aged SPTE on a real
  host. ``vm.cmpxchg_fail`` injects it as a per-aged-SPTE probability (default 0), applied only
  where the kernel has the path (``cmpxchg_counts_young`` backends aging with lock ``none``):
  the SPTE stays accessed, is reported young this time (rightly or not), and is seen young again
  at the next harvest even if idle.
"""

from __future__ import annotations

import numpy as np

from simulator.accounting import Work
from simulator.kvm.backends.base import BoolArray, IntArray, KvmBackend


class FalseYoung:
    """Applies both sources around a backend's SPTE harvest."""

    def __init__(self, backend: KvmBackend, speculative: float, cmpxchg_fail: float,
                 rng: np.random.Generator) -> None:
        self.backend = backend
        self.speculative = speculative
        self.cmpxchg_fail = cmpxchg_fail if (
            backend.cmpxchg_counts_young and backend.aging_lock == "none") else 0.0
        self.rng = rng

    @property
    def active(self) -> bool:
        return self.speculative > 0 or self.cmpxchg_fail > 0

    def harvest(self, pages: IntArray, clear: bool, work: Work) -> BoolArray:
        """``backend.age_sptes`` with the speculative A bits set before it reads and the lost
        cmpxchgs undone after it clears."""
        sp = self.backend.sptes
        if self.speculative > 0:
            idle = pages[sp.present[pages] & ~sp.young[pages] & sp.is_leaf(pages)]
            hit = idle[self.rng.random(len(idle)) < self.speculative]
            sp.young[hit] = True
            work.speculative_young += len(hit)
        young = self.backend.age_sptes(pages, clear)
        if clear and self.cmpxchg_fail > 0:
            aged = pages[young]
            lost = aged[self.rng.random(len(aged)) < self.cmpxchg_fail]
            sp.young[lost] = True
            work.cmpxchg_failed += len(lost)
        return young


__all__ = ["FalseYoung"]

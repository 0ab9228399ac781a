"""Work accounting: what one step of an actor cost, before lock contention is added.

Model functions (the aging walk, eviction, a notifier call) never advance simulated time
themselves; they add to a :class:`Work` record, and the SimPy actor that called them turns it
into a duration (``cpu_ns`` plus the mmu_lock waits that ``kvm.mmu_lock`` computes from the
write-lock acquisitions) and yields a timeout. This keeps model code free of SimPy.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(slots=True)
class Work:
    """Costs and counts accumulated by one step of one actor."""

    cpu_ns: float = 0.0
    """CPU time of the work itself (no lock waiting)."""
    write_locks: int = 0
    """kvm->mmu_lock write acquisitions made (each is a separate acquire/release)."""
    write_hold_ns: float = 0.0
    """Total time the write lock was held across those acquisitions."""
    read_locks: int = 0
    """kvm->mmu_lock read acquisitions made by aging (arm64 v3)."""
    notifier_calls: int = 0
    notifier_calls_bitmap: int = 0
    notifier_fast: int = 0
    notifier_unreliable: int = 0
    notifier_fast_failed: int = 0
    tlb_flushes: int = 0
    """Remote TLB flushes after aging calls that found a young SPTE (``clear_flush_young``,
    or any clearing call with the ``tlb_flush_on_age`` what-if)."""
    unmap_flushes: int = 0
    """Remote TLB flushes after unmapping a present SPTE (``invalidate_range_start``)."""
    speculative_young: int = 0
    """Idle SPTEs a harvest found young from speculation (``vm.speculative_young``)."""
    cmpxchg_failed: int = 0
    """Lockless A/D-off agings whose cmpxchg lost and left the SPTE young (``vm.cmpxchg_fail``)."""

    def add(self, other: Work) -> None:
        """Accumulate another record into this one."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

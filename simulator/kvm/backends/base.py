"""The Protocol every KVM MMU backend implements, and the helpers they share.

A backend is one architecture's KVM MMU as seen by aging and by faults: which ``mmu_lock`` mode
its aging handlers take (and which are possible at all), which lock a vCPU fault takes, and how a
``clear_young`` / ``test_young`` / ``clear_flush_young`` over some pages behaves. Backends differ
by mechanism only; their costs come from ``simulator.costs``.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from simulator.accounting import Work
from simulator.costs import CostConfig
from simulator.kvm.sptes import Sptes

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class KvmBackend(Protocol):
    """One KVM MMU implementation (x86 TDP MMU, shadow MMU, arm64 stage-2, ...)."""

    name: ClassVar[str]
    description: ClassVar[str]
    aging_locks: ClassVar[tuple[str, ...]]
    """The ``aging_lock`` modes this backend can run with."""
    upstream_aging_lock: ClassVar[str]
    """What ``aging_lock = "auto"`` means: upstream behaviour as of 6.15."""
    fault_lock: ClassVar[str]
    """``read`` or ``write``: how a vCPU fault takes mmu_lock."""

    sptes: Sptes
    aging_lock: str

    def clear_young(self, pages: IntArray, work: Work) -> BoolArray:
        """One ``clear_young`` notifier call per page: test-and-clear each SPTE's A bit."""
        ...

    def clear_flush_young(self, pages: IntArray, work: Work) -> BoolArray:
        """``clear_flush_young`` per page (eviction-time rmap check before 6.12)."""
        ...

    def unmap(self, pages: IntArray, work: Work) -> None:
        """``invalidate_range_start`` for each evicted page: zap its SPTE under the write lock."""
        ...


def charge_aging_call(work: Work, costs: CostConfig, lock: str, calls: int) -> None:
    """Charge ``calls`` per-page aging notifier calls taken with ``lock``.

    Each call pays the notifier dispatch and the SPTE test-and-clear; with ``write`` each call
    also acquires and releases ``mmu_lock`` (``KVM_MMU_LOCK`` in ``kvm_handle_hva_range``), the
    SPTE work being done under it.
    """
    work.notifier_calls += calls
    work.cpu_ns += calls * costs.clear_young_ns()
    if lock == "write":
        work.cpu_ns += calls * costs.mmu_lock_ns
        work.write_locks += calls
        work.write_hold_ns += calls * (costs.spte_age_ns + costs.mmu_lock_ns)

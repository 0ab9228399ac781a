"""The replacement-policy Protocol, and the access path the hardware-driven policies share.

A *replacement policy* owns the LRU lists of the memcg: it decides what a batch of page
touches does to them (:meth:`ReplacementPolicy.run_accesses`), how the memcg is reclaimed
(:meth:`ReplacementPolicy.shrink`, a sans-I/O generator of requests from
``simulator.mm.reclaim``, carried out on simulated time by :meth:`ReplacementPolicy.perform`)
and what it reports (time-series columns, debugfs text, invariants).

Two kinds of policy exist:

- *kernel* policies (``mglru``, ``classic``) see accesses the way the kernel does: through the
  hardware. A touch sets the A bit of the translation it walks (or hits the TLB and sets
  nothing); a touch of a non-present page faults, and only the fault reaches the policy
  (:func:`hardware_accesses`). Recency is harvested later, by aging or at eviction.
- the *yardstick* (``lru``) sees every reference in order and evicts at once, like Mattson's
  stack algorithm. It counts misses, and does not model the fault path (no ``mmu_lock``, no
  fault-latency histogram): it exists to compare the kernel policies with the ideal.

An :class:`AccessPath` is where a batch of touches lands: a vCPU (its TLB and the VM's SPTEs,
``simulator.vm``) or the host task (primary PTEs only, ``simulator.actors``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np
import numpy.typing as npt
import simpy

from simulator.accounting import Work
from simulator.costs import CostConfig
from simulator.kernels.profile import KernelProfile
from simulator.metrics import Counters
from simulator.mm.fault import FaultResult
from simulator.mm.notify import SecondaryMmu
from simulator.mm.pagetable import PageTables
from simulator.mm.reclaim import AbortCheck, Request
from simulator.truth import GroundTruth

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Touch:
    """The hardware effects of a batch of touches: A bits set, and what faulted."""

    accesses: int
    tlb_misses: int = 0
    access_faults: int = 0
    """TLB fills that found an old SPTE on a backend without hardware A bits (x86 access
    tracking, arm64 software AF): they make it young through a fault."""
    fault_pages: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Distinct pages with no present translation, in ascending order."""
    fault_writes: BoolArray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    spte_faults: int = 0
    """Faults KVM served alone: no SPTE, but the host maps the page (a THP's other pages under
    4 KiB SPTEs, a page only the host touched before); they take ``mmu_lock`` like a fault."""


class AccessPath(Protocol):
    """Where touches land: a vCPU's TLB and SPTEs, or the host task's primary PTEs."""

    host_side: bool
    """The touches are the host's accesses to a guest's memory (vhost, the VMM): real
    accesses, but not the guest's own (``GroundTruth`` keeps both views)."""

    def touch(self, pages: IntArray, writes: BoolArray) -> Touch:
        """Apply the hardware effects of the touches (A/D bits, TLB fills)."""
        ...

    def install(self, pages: IntArray, writes: BoolArray) -> None:
        """Map newly faulted-in pages on the secondary side (SPTEs); the touch that faulted
        sets their A bit."""
        ...

    def fill(self, pages: IntArray) -> None:
        """Cache the translations of newly faulted-in pages (the vCPU's TLB)."""
        ...


@dataclass(frozen=True, slots=True)
class AccessOutcome:
    """What a batch of touches did, for the actor to charge and count."""

    accesses: int
    first_touch: int
    swap_in: int
    refault_recent: int = 0
    thp_faults: int = 0
    """First-touch faults that mapped a 2 MiB THP (counted in ``first_touch``)."""
    spte_faults: int = 0
    tlb_misses: int = 0
    access_faults: int = 0
    lock_faults: int = 0
    """Faults that go through the fault path and take ``mmu_lock`` (0 for the yardstick)."""
    yardstick: bool = False
    """The misses are counted but the fault path is not modelled (no fault latencies)."""

    @property
    def faults(self) -> int:
        return self.first_touch + self.swap_in


def hardware_accesses(path: AccessPath, pages: IntArray, writes: BoolArray,
                      fault_in: Callable[[IntArray, BoolArray], FaultResult],
                      record_access: Callable[[IntArray, bool], None]) -> AccessOutcome:
    """A kernel policy's batch: the hardware sets A bits, the non-present pages fault in
    through the primary MMU (``handle_mm_fault``: the policy adds the folios to its lists),
    KVM installs SPTEs for them, and the truth records every touch."""
    t = path.touch(pages, writes)
    fr = fault_in(t.fault_pages, t.fault_writes)
    path.install(t.fault_pages, t.fault_writes)
    path.fill(t.fault_pages)
    record_access(pages, not path.host_side)
    return AccessOutcome(accesses=t.accesses, first_touch=fr.first_touch, swap_in=fr.swap_in,
                         refault_recent=fr.refault_recent, thp_faults=fr.thp,
                         spte_faults=t.spte_faults, tlb_misses=t.tlb_misses,
                         access_faults=t.access_faults,
                         lock_faults=fr.first_touch + fr.swap_in + t.spte_faults)


class MglruSwitches(Protocol):
    """The ``[mglru]`` switches the MGLRU model reads."""

    @property
    def walk_mmu(self) -> bool: ...

    @property
    def bloom_filter(self) -> bool: ...

    @property
    def look_around(self) -> bool: ...


class PolicyHost(Protocol):
    """What a policy may use of the host (``simulator.host.HostCore`` implements it): the
    page tables, truth and counters it updates, the secondary MMUs it consults, the memcg it
    reports freed memory to, and the timer that turns its work into simulated time."""

    env: simpy.Environment
    pt: PageTables
    truth: GroundTruth
    counters: Counters
    notifiers: dict[int, SecondaryMmu | None]
    costs: CostConfig
    swap: str
    limit_pages: int

    @property
    def mglru(self) -> MglruSwitches: ...

    @property
    def kernel(self) -> KernelProfile:
        """The resolved kernel release profile (``[kernel]``)."""
        ...

    @property
    def hw_young(self) -> bool:
        """``arch_has_hw_pte_young()``: false when the host is arm64 without FEAT_HAFDBS."""
        ...

    def now(self) -> int: ...

    def resident(self) -> int: ...

    def check(self) -> None: ...

    def zap(self, pages: IntArray) -> None: ...

    def freed(self) -> None:
        """Reclaim freed pages (chargers waiting for memory re-check)."""
        ...

    def time_locked_work(self, kind: str, work: Work,
                         actor: int) -> Generator[simpy.Event, Any, float]:
        """Advance the reclaimer ``actor`` by ``work``, contending on the locks it took."""
        ...


class ReplacementPolicy(Protocol):
    """One memcg's page replacement (see the module docstring)."""

    name: ClassVar[str]
    description: ClassVar[str]
    evicts_inline: ClassVar[bool]
    """True if the policy evicts at the access that overflows the limit (no reclaim runs)."""
    host: PolicyHost
    passes: list[dict[str, Any]]
    """One record per aging pass (``passes.csv``); empty for policies that do not age."""

    def resident_pages(self) -> int: ...

    def resident_mask(self) -> BoolArray:
        """Which pages sit on the policy's lists (for the invariant checks)."""
        ...

    def run_accesses(self, path: AccessPath, pages: IntArray,
                     writes: BoolArray) -> AccessOutcome: ...

    def mark_accessed(self, pages: IntArray) -> None:
        """``folio_mark_accessed`` on resident folios (KVM's access-flag fault until 6.12)."""
        ...

    def initial_priority(self, nr_to_reclaim: int) -> int:
        """The priority kswapd starts at."""
        ...

    def shrink(self, priority: int, nr_to_reclaim: int,
               should_abort: AbortCheck) -> Generator[Request, Any, int]:
        """One shrink of the lruvec (requests to :meth:`perform`); returns pages reclaimed."""
        ...

    def perform(self, request: Request, actor: int) -> Generator[simpy.Event, Any, Any]:
        """Carry out one request of :meth:`shrink` on simulated time, as reclaimer ``actor``;
        return its answer."""
        ...

    def sample(self) -> dict[str, Any]:
        """This policy's time-series columns now."""
        ...

    def snapshot(self, now_ns: int) -> str | None:
        """The debugfs text of the lists (``lru_gen`` for MGLRU), or None."""
        ...

    def check_invariants(self) -> None: ...


__all__ = ["AccessOutcome", "AccessPath", "BoolArray", "IntArray", "MglruSwitches", "PolicyHost",
           "ReplacementPolicy", "Touch",
           "hardware_accesses"]

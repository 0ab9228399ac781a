"""The host side of one run: the memcg's page tables, its replacement policy, truth and counters.

Everything the actors share lives in :class:`HostCore`, and each actor receives it instead of
the machine that wires them (``simulator.machine``): a guest (``simulator.vm.Vm``), the host
task and the kswapd/proactive/debugfs actors (``simulator.actors``), and the replacement policy
(``simulator.policies``). It holds

- the flat page index space of every simulated mm (``PageTables``: the VMM of each VM, the
  host task), and which secondary MMU (mmu_notifier subscription) each mm has;
- the replacement policy that owns the LRU lists of the one memcg;
- the ground truth of every access and every young/old decision, and the run's counters;
- the memcg limit and the charge hook every faulting actor calls (:meth:`HostCore.charge`):
  a memcg at its limit is reclaimed by the task that charges (``try_charge_memcg`` →
  ``try_to_free_mem_cgroup_pages``), on its own simulated time; kswapd runs only for the
  node's watermarks (``host.node_memory``);
- the actor numbers every ``mmu_lock`` model shares: each vCPU of each VM, then the host
  task, kswapd, the proactive agent (memory.reclaim), debugfs aging and the host-side
  touches of guest memory (``vm.host_accesses``; one actor for every VM's).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import simpy

from simulator.accounting import Work
from simulator.config import PAGE_SIZE, Scenario
from simulator.metrics import Counters
from simulator.mm import reclaim
from simulator.mm.notify import SecondaryMmu
from simulator.mm.pagetable import PageTables, Region, layout
from simulator.rng import RngStreams
from simulator.truth import GroundTruth
from workloads import Workload

if TYPE_CHECKING:
    from simulator.kvm.backends import KvmBackend
    from simulator.kvm.mmu_lock import LockModel
    from simulator.kvm.tlb import Tlbs
    from simulator.policies import ReplacementPolicy

WorkloadHook = Callable[[str, Workload, simpy.Environment], Workload]
"""Wraps the workload of one actor (``"task"`` or a VM's name) when the machine is built, e.g.
to stop the run after one pass of a trace (``simulator.mrccmd``)."""

TASK_MM = "task"
"""The host task's mm name (VMs are named ``vm0`` and after their ``[vms.NAME]`` table)."""

HOST_ACTORS = ("task", "kswapd", "proactive", "debugfs", "host_side")
"""Host-side actors that may take a VM's ``mmu_lock``, numbered after every vCPU."""


class Guest(Protocol):
    """What the host needs from a VM: its mm, its KVM MMU and lock, and a way to zap SPTEs."""

    name: str
    region: Region
    backend: KvmBackend
    lock: LockModel
    tlbs: Tlbs

    def zap(self, pages: np.ndarray) -> None:
        """Drop SPTEs and TLB entries of host pages the policy evicted (no cost charged)."""
        ...


class Watermarks:
    """The node's watermarks and the event that wakes kswapd when free memory falls below
    the low one (``host.node_memory``; none when the memcg limit is the only constraint)."""

    def __init__(self, env: simpy.Environment, node_pages: int, low: float,
                 high: float) -> None:
        self.env = env
        self.wake_pages = int(node_pages * (1.0 - low))
        self.target_pages = min(int(node_pages * (1.0 - high)), self.wake_pages)
        self.kswapd_wake = env.event()


class HostCore:
    """The state every actor of one run shares (see the module docstring)."""

    def __init__(self, sc: Scenario, env: simpy.Environment, streams: RngStreams) -> None:
        self.sc = sc
        self.env = env
        self.streams = streams
        vms = sc.all_vms()
        sizes: list[tuple[str, int, bool]] = [
            (name, vm.memory // PAGE_SIZE, True) for name, vm, _ in vms]
        if sc.task_pages:
            sizes.append((TASK_MM, sc.task_pages, False))
        thp = frozenset([name for name, vm, _ in vms if vm.thp == "always"]
                        + ([TASK_MM] if sc.task.thp == "always" else []))
        self.pt = PageTables(layout(sizes, thp))
        self.mm_ids = {r.name: r.mm_id for r in self.pt.regions}
        self.truth = GroundTruth(self.pt.nr_pages, self.pt.folios,
                                 guest_view=any(vm.host_accesses > 0 for _, vm, _ in vms))
        self.counters = Counters()
        self.notifiers: dict[int, SecondaryMmu | None] = {r.mm_id: None for r in self.pt.regions}
        """The mmu_notifier subscription of each mm (a VM's notifier design, or None)."""
        self.guests: list[Guest] = []
        self.costs = sc.costs
        self.swap = sc.host.swap
        self.limit_pages = sc.host_pages
        self.mglru = sc.mglru
        self.kernel = sc.kernel
        self.hw_young = all(vm.hw_af for _, vm, _ in vms)
        """``arch_has_hw_pte_young()`` is system-wide: one CPU without it disables it."""
        self.node = (Watermarks(env, sc.host.node_memory // PAGE_SIZE, sc.host.wmark_low,
                                sc.host.wmark_high) if sc.host.node_memory else None)
        self.vcpu_base: dict[str, int] = {}
        base = 0
        for name, vm, _ in vms:
            self.vcpu_base[name] = base
            base += vm.vcpus
        self.actor_ids = {name: base + i for i, name in enumerate(HOST_ACTORS)}
        self.nr_actors = base + len(HOST_ACTORS)
        self._policy: ReplacementPolicy | None = None
        self.on_check: Callable[[], None] | None = None
        """Set by the machine when ``sim.check_invariants`` is on."""

    # --- wiring -------------------------------------------------------------------------------
    def region(self, name: str) -> Region:
        return self.pt.region_of(self.mm_ids[name])

    def add_guest(self, guest: Guest, notifier: SecondaryMmu) -> None:
        """A VM's mm gets its mmu_notifier subscription."""
        self.guests.append(guest)
        self.notifiers[guest.region.mm_id] = notifier

    @property
    def policy(self) -> ReplacementPolicy:
        assert self._policy is not None, "the machine attaches the policy after the guests"
        return self._policy

    def attach(self, policy: ReplacementPolicy) -> None:
        self._policy = policy

    # --- helpers ------------------------------------------------------------------------------
    def now(self) -> int:
        return int(self.env.now)

    def resident(self) -> int:
        return self.policy.resident_pages()

    def check(self) -> None:
        """Check every invariant now, if the run asks for it (``sim.check_invariants``)."""
        if self.on_check is not None:
            self.on_check()

    def freed(self) -> None:
        """Reclaim freed pages (nothing waits for it: chargers reclaim themselves)."""

    def zap(self, pages: np.ndarray) -> None:
        """Tell every guest that the policy evicted ``pages`` (drop their SPTEs and TLB
        entries)."""
        for guest in self.guests:
            guest.zap(pages)

    # --- reclaim ------------------------------------------------------------------------------
    def shrinker(self) -> reclaim.Shrinker:
        return self.policy.shrink

    def reclaim(self, requests: Generator[reclaim.Request, Any, Any], actor: int,
                backoff: list[float] | None = None,
                busy: Callable[[float], None] | None = None,
                ) -> Generator[simpy.Event, Any, Any]:
        """Carry out a reclaim loop as ``actor``: back-offs here (their time added to
        ``backoff[0]``), every other request by the policy (its time reported to ``busy``)."""
        try:
            request = next(requests)
            while True:
                t0 = self.now()
                if isinstance(request, reclaim.Backoff):
                    yield self.env.timeout(request.ns)
                    if backoff is not None:
                        backoff[0] += self.now() - t0
                    answer = None
                else:
                    answer = yield from self.policy.perform(request, actor)
                    if busy is not None:
                        busy(self.now() - t0)
                request = requests.send(answer)
        except StopIteration as stop:
            return stop.value

    def charge(self, actor: int) -> Generator[simpy.Event, Any, tuple[float, float, int]]:
        """After a step's faults were charged: reclaim the memcg directly while it is above
        its limit (``try_charge_memcg``), and wake kswapd if the node fell below its low
        watermark. Returns (time in reclaim, time backing off without progress, number of
        ``try_to_free_mem_cgroup_pages`` calls).

        Simplification: a step's faults are charged together after it, so the memcg can
        overshoot its limit by at most one step per actor before the charger reclaims.
        """
        if self.policy.evicts_inline:
            return 0.0, 0.0, 0
        node = self.node
        if node is not None and self.resident() > node.wake_pages \
                and not node.kswapd_wake.triggered:
            node.kswapd_wake.succeed()
        if self.resident() <= self.limit_pages:
            return 0.0, 0.0, 0
        start = self.now()
        backoff = [0.0]
        calls = yield from self.reclaim(
            reclaim.charge_retry(lambda: self.resident() - self.limit_pages, self.shrinker()),
            actor, backoff)
        return float(self.now() - start) - backoff[0], backoff[0], int(calls)

    # --- timing work on mmu_lock ----------------------------------------------------------------
    def time_locked_work(self, kind: str, work: Work,
                         actor: int) -> Generator[simpy.Event, Any, float]:
        """Advance ``actor`` by ``work``, contending on the ``mmu_lock`` of each VM whose lock
        it took (the acquisitions its backend recorded since the last step).

        The acquisitions reach each VM's lock model grouped by mode and hold (zaps and
        notifier calls are not averaged into one hold); a step that locked several VMs' locks
        is split among them in proportion to their acquisitions. Returns the wait.
        """
        debts = [(g, g.backend.pending.take().groups) for g in self.guests]
        debts = [(g, groups) for g, groups in debts if groups]
        if not debts:
            yield self.env.timeout(max(1, round(work.cpu_ns)))
            return 0.0
        total = sum(sum(groups.values()) for _, groups in debts)
        wait = 0.0
        for guest, groups in debts:
            share = work.cpu_ns * sum(groups.values()) / total
            wait += yield from guest.lock.step_groups(actor, kind, share, groups)
        return wait


__all__ = ["HOST_ACTORS", "TASK_MM", "Guest", "HostCore", "Watermarks", "WorkloadHook"]

"""The host side of one run: the memcg's page tables, its replacement policy, truth and counters.

Everything the actors share lives in :class:`HostCore`, and each actor receives it instead of
the machine that wires them (``simulator.machine``): a guest (``simulator.vm.Vm``), the host
task and the kswapd/ager actors (``simulator.actors``), and the replacement policy
(``simulator.policies``). It holds

- the flat page index space of every simulated mm (``PageTables``: the VMM of each VM, the
  host task), and which secondary MMU (mmu_notifier subscription) each mm has;
- the replacement policy that owns the LRU lists of the one memcg;
- the ground truth of every access and every young/old decision, and the run's counters;
- the memcg limit and the charge hook every faulting actor calls (:meth:`HostCore.charge`).

Simplification (documented where it bites, in ``charge``): a memcg at its limit wakes kswapd
and the charging actor stalls until memory is freed; the kernel reclaims directly in the
charging task (``try_charge_memcg`` → ``try_to_free_mem_cgroup_pages``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import simpy

from simulator.accounting import Work
from simulator.config import PAGE_SIZE, Scenario
from simulator.metrics import Counters
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


class Guest(Protocol):
    """What the host needs from a VM: its mm, its KVM MMU and lock, and a way to zap SPTEs."""

    name: str
    region: Region
    backend: KvmBackend
    lock: LockModel
    tlbs: Tlbs
    kswapd_actor: int

    def zap(self, pages: np.ndarray) -> None:
        """Drop SPTEs and TLB entries of host pages the policy evicted (no cost charged)."""
        ...


class Memcg:
    """The memcg limit and kswapd's watermarks around it, with the events that connect them.

    ``kswapd_wake`` fires when a charge takes the memcg above the low watermark;
    ``memory_freed`` fires whenever reclaim freed pages (a stalled charger re-checks then).
    """

    def __init__(self, env: simpy.Environment, sc: Scenario) -> None:
        self.env = env
        limit = sc.host_pages
        self.limit_pages = limit
        self.wake_pages = int(limit * (1.0 - sc.host.wmark_low))
        self.target_pages = min(int(limit * (1.0 - sc.host.wmark_high)), self.wake_pages)
        self.kswapd_wake = env.event()
        self.memory_freed = env.event()

    def freed(self) -> None:
        """Reclaim freed pages: wake every charger waiting for memory."""
        done, self.memory_freed = self.memory_freed, self.env.event()
        done.succeed()


class HostCore:
    """The state every actor of one run shares (see the module docstring)."""

    def __init__(self, sc: Scenario, env: simpy.Environment, streams: RngStreams) -> None:
        self.sc = sc
        self.env = env
        self.streams = streams
        sizes: list[tuple[str, int, bool]] = [
            (name, vm.memory // PAGE_SIZE, True) for name, vm, _ in sc.all_vms()]
        if sc.task_pages:
            sizes.append((TASK_MM, sc.task_pages, False))
        self.pt = PageTables(layout(sizes))
        self.mm_ids = {r.name: r.mm_id for r in self.pt.regions}
        self.truth = GroundTruth(self.pt.nr_pages)
        self.counters = Counters()
        self.notifiers: dict[int, SecondaryMmu | None] = {r.mm_id: None for r in self.pt.regions}
        """The mmu_notifier subscription of each mm (a VM's notifier design, or None)."""
        self.guests: list[Guest] = []
        self.memcg = Memcg(env, sc)
        self.costs = sc.costs
        self.swap = sc.host.swap
        self.limit_pages = self.memcg.limit_pages
        self.mglru = sc.mglru
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
        self.memcg.freed()

    def zap(self, pages: np.ndarray) -> None:
        """Tell every guest that the policy evicted ``pages`` (drop their SPTEs and TLB
        entries)."""
        for guest in self.guests:
            guest.zap(pages)

    # --- charging -----------------------------------------------------------------------------
    def charge(self) -> Generator[simpy.Event, Any, float]:
        """After a step's faults were charged: wake kswapd below the low watermark, and stall
        while the memcg is above its limit. Returns the stall time.

        Simplification: the kernel reclaims in the charging task itself
        (``try_charge_memcg`` → ``try_to_free_mem_cgroup_pages``); here kswapd reclaims and
        the charger waits for it (``vcpu_stall_ns``). A step's faults are charged before the
        stall, so the memcg can overshoot its limit by at most one step per actor.
        """
        memcg = self.memcg
        if self.policy.evicts_inline:
            return 0.0
        if self.resident() > memcg.wake_pages and not memcg.kswapd_wake.triggered:
            memcg.kswapd_wake.succeed()
        start = self.now()
        while self.resident() > memcg.limit_pages:
            yield memcg.memory_freed
        return float(self.now() - start)

    # --- timing work on mmu_lock ----------------------------------------------------------------
    def time_locked_work(self, kind: str, work: Work,
                         actor: Callable[[Guest], int] | None = None,
                         ) -> Generator[simpy.Event, Any, float]:
        """Advance the calling actor by ``work``, contending on the ``mmu_lock`` of each VM
        whose lock it took (the acquisitions its backend recorded since the last step).

        The acquisitions reach each VM's lock model grouped by mode and hold (zaps and
        notifier calls are not averaged into one hold); a step that locked several VMs' locks
        is split among them in proportion to their acquisitions. ``actor`` gives the caller's
        actor number in a VM's lock model (default: that VM's kswapd slot). Returns the wait.
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
            who = guest.kswapd_actor if actor is None else actor(guest)
            wait += yield from guest.lock.step_groups(who, kind, share, groups)
        return wait


__all__ = ["TASK_MM", "Guest", "HostCore", "Memcg", "WorkloadHook"]

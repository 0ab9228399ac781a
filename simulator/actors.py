"""The host-side actors of a run (SimPy processes), each on the shared :class:`HostCore`.

- **host task** (:func:`host_task`): a non-VM process; its touches set primary A bits directly
  (no TLB model for the host, :class:`TaskPath`), its faults are charged like a vCPU's.
- **kswapd** (:func:`kswapd`): woken when a charge takes the memcg above the low watermark, it
  runs the policy's reclaim to the high one (``simulator.mm.reclaim.kswapd_balance``, starting
  at the policy's ``initial_priority``).
- **ager** (:func:`ager`): MGLRU's proactive aging: ``aging = "interval"`` writes ``+ memcg
  node max_seq`` to debugfs every ``aging_interval_ms`` (``force_scan``, as the selftest
  does); ``back_to_back`` loops.
- **sampler** (:func:`sampler`): the time series and the debugfs snapshots.

vCPUs are the guests' actors (``simulator.vm``). Per-page work happens in numpy inside one
event; an actor then yields a timeout of the simulated duration of what it just did.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from simulator.host import TASK_MM, HostCore
from simulator.mm import reclaim
from simulator.policies import MglruPolicy, Touch, drive
from simulator.policies.base import BoolArray, IntArray
from simulator.rundata import RunData
from workloads import Workload

NS_PER_MS = 1_000_000


class TaskPath:
    """The host task's touches: primary PTEs only (no TLB, no secondary MMU)."""

    def __init__(self, host: HostCore) -> None:
        self.pt = host.pt

    def touch(self, pages: IntArray, writes: BoolArray) -> Touch:
        pt = self.pt
        present = pt.present[pages]
        pt.young[pages[present]] = True
        pt.dirty[pages[present & writes]] = True
        missing = np.unique(pages[~present])
        wrote = np.isin(missing, pages[~present & writes])
        return Touch(accesses=len(pages), fault_pages=missing, fault_writes=wrote)

    def install(self, pages: IntArray, writes: BoolArray) -> None:
        """No secondary MMU maps the host task's memory."""

    def fill(self, pages: IntArray) -> None:
        """The host's TLB is not modelled."""


def host_task(host: HostCore, workload: Workload) -> Generator[simpy.Event, Any, None]:
    """Quanta of the host task's touches, forever."""
    sc, costs, c = host.sc, host.sc.costs, host.counters
    region = host.region(TASK_MM)
    swap_in = costs.swap_in_ns(sc.host.swap)
    quantum = sc.task.quantum_accesses
    path = TaskPath(host)
    while True:
        rel, writes = workload.next_batch(0, quantum)
        pages = rel + region.start
        out = host.policy.run_accesses(path, pages, writes)
        c.host_task_accesses += out.accesses
        c.faults_first_touch += out.first_touch
        c.refaults += out.swap_in
        c.refaults_recent += out.refault_recent
        duration = len(pages) * (sc.task.workload.think_ns + costs.access_ns) \
            + out.faults * costs.fault_first_touch_ns + out.swap_in * swap_in
        yield host.env.timeout(max(1, round(duration)))
        yield from host.charge()


def kswapd(host: HostCore) -> Generator[simpy.Event, Any, None]:
    """Reclaim between the watermarks whenever a charge wakes it."""
    memcg, policy = host.memcg, host.policy
    while True:
        if host.resident() <= memcg.wake_pages:
            memcg.kswapd_wake = host.env.event()
            yield memcg.kswapd_wake
        target = memcg.target_pages
        priority = policy.initial_priority(host.resident() - target)

        def shrink(p: int, target: int = target) -> Generator[reclaim.Request, Any, int]:
            return policy.shrink(p, target)

        balance = reclaim.kswapd_balance(host.resident, target, priority, shrink)
        yield from drive(balance, lambda request: perform(host, request))


def perform(host: HostCore, request: reclaim.Request) -> Generator[simpy.Event, Any, Any]:
    """Carry out a reclaim request: a back-off here, anything else by the policy."""
    if isinstance(request, reclaim.Backoff):
        yield host.env.timeout(request.ns)
        return None
    return (yield from host.policy.perform(request))


def ager(host: HostCore, policy: MglruPolicy) -> Generator[simpy.Event, Any, None]:
    """MGLRU's proactive ager (``mglru.aging`` = ``interval`` or ``back_to_back``)."""
    mode = host.sc.mglru.aging
    interval = round(host.sc.mglru.aging_interval_ms * NS_PER_MS)
    while True:
        if mode == "interval":
            yield host.env.timeout(interval)
        yield from policy.age(mode, force_scan=True)


def sampler(host: HostCore, data: RunData) -> Generator[simpy.Event, Any, None]:
    """Record a time-series row every ``sim.sample_interval_ms`` and spread the debugfs
    snapshots over the run."""
    sc = host.sc
    interval = max(1, round(sc.sim.sample_interval_ms * NS_PER_MS))
    end = round(sc.sim.duration_ms * NS_PER_MS)
    snaps = sc.sim.lru_gen_snapshots
    snap_every = max(1, (end // interval) // snaps) if snaps else 0
    i = 0
    while True:
        sample(host, data)
        if snap_every and i % snap_every == 0 and len(data.lru_gen) < snaps:
            snapshot(host, data)
        i += 1
        yield host.env.timeout(interval)


def snapshot(host: HostCore, data: RunData) -> None:
    """Append the policy's debugfs text (MGLRU's ``lru_gen``), if it has one."""
    text = host.policy.snapshot(host.now())
    if text is not None:
        data.lru_gen.append(f"# t_ns={host.now()}\n" + text)


def sample(host: HostCore, data: RunData) -> None:
    """One time-series row: residency, the policy's lists, cumulative counters."""
    c, t = host.counters, host.truth.total
    row: dict[str, Any] = {"t_ns": host.now(), "resident_pages": host.resident(),
                           "swapped_pages": int(host.pt.swapped.sum())}
    row.update(host.policy.sample())
    row.update(accesses=c.accesses + c.host_task_accesses,
               faults_first_touch=c.faults_first_touch, refaults=c.refaults,
               evictions=c.evictions, aging_passes=c.aging_passes,
               vcpu_running_ns=c.vcpu_running_ns, vcpu_fault_ns=c.vcpu_fault_ns,
               vcpu_lock_wait_ns=c.vcpu_lock_wait_ns, vcpu_stall_ns=c.vcpu_stall_ns,
               young_tp=t.tp, young_fp=t.fp, young_fn=t.fn, young_tn=t.tn)
    data.timeseries.append(row)


__all__ = ["TaskPath", "ager", "host_task", "kswapd", "perform", "sample", "sampler",
           "snapshot"]

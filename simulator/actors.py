"""The host-side actors of a run (SimPy processes), each on the shared :class:`HostCore`.

- **host task** (:func:`host_task`): a non-VM process; its touches set primary A bits directly
  (no TLB model for the host, :class:`TaskPath`), its faults are charged like a vCPU's (and
  it reclaims directly at the memcg limit).
- **kswapd** (:func:`kswapd`): only with ``host.node_memory``: woken when the node's free
  memory falls below the low watermark, it reclaims to the high one
  (``simulator.mm.reclaim.kswapd_balance``, from the policy's ``initial_priority``).
- **proactive agent** (:func:`proactive`): ``host.proactive_reclaim`` bytes written to
  memory.reclaim every ``host.proactive_interval_ms`` (``memory_reclaim``).
- **debugfs ager** (:func:`ager`): ``mglru.aging = "interval"`` writes ``+ memcg node
  max_seq`` to the ``lru_gen`` debugfs file every ``aging_interval_ms`` (``force_scan``, as
  the KVM selftest does); ``back_to_back`` loops.
- **sampler** (:func:`sampler`): the time series and the debugfs snapshots.

vCPUs are the guests' actors (``simulator.vm``). Per-page work happens in numpy inside one
event; an actor then yields a timeout of the simulated duration of what it just did.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from simulator.config import PAGE_SIZE
from simulator.host import TASK_MM, HostCore
from simulator.mm import reclaim
from simulator.mm.folio import HPAGE_PMD_NR
from simulator.policies import MglruPolicy, Touch
from simulator.policies.base import BoolArray, IntArray
from simulator.rundata import RunData
from simulator.stretch import run_stretches, task_kernel
from workloads import Workload

NS_PER_MS = 1_000_000


class TaskPath:
    """The host task's touches: primary PTEs only (no TLB, no secondary MMU). With
    ``host_side`` the same for the host's own touches of a guest's memory (vhost, the VMM:
    they set the primary A bit and leave the SPTE alone)."""

    def __init__(self, host: HostCore, host_side: bool = False) -> None:
        self.pt = host.pt
        self.host_side = host_side

    def touch(self, pages: IntArray, writes: BoolArray) -> Touch:
        pt = self.pt
        present = pt.present[pages]
        heads = pt.folios.heads(pages)  # a THP's A and D bits are its PMD's
        pt.young[heads[present]] = True
        pt.dirty[heads[present & writes]] = True
        missing = np.unique(pages[~present])
        wrote = np.isin(missing, pages[~present & writes])
        return Touch(accesses=len(pages), fault_pages=missing, fault_writes=wrote)

    def install(self, pages: IntArray, writes: BoolArray) -> None:
        """No secondary MMU maps the host task's memory."""

    def fill(self, pages: IntArray) -> None:
        """The host's TLB is not modelled."""


def host_task(host: HostCore, workload: Workload) -> Generator[simpy.Event, Any, None]:
    """Quanta of the host task's touches, forever: in compiled stretches where they apply
    (``simulator.stretch``), one SimPy step each otherwise."""
    path = TaskPath(host)

    def one() -> Generator[simpy.Event, Any, None]:
        return task_quantum(host, workload, path)

    kernel = task_kernel(host)
    if kernel is not None:
        yield from run_stretches(host, kernel, workload, host.region(TASK_MM).start, one)
    while True:
        yield from one()


def task_quantum(host: HostCore, workload: Workload,
                 path: TaskPath) -> Generator[simpy.Event, Any, None]:
    """One quantum of the host task: its touches, their time, then the charge."""
    sc, costs, c = host.sc, host.sc.costs, host.counters
    rel, writes = workload.next_batch(0, sc.task.quantum_accesses)
    pages = rel + host.region(TASK_MM).start
    out = host.policy.run_accesses(path, pages, writes)
    c.host_task_accesses += out.accesses
    c.faults_first_touch += out.first_touch
    c.faults_thp += out.thp_faults
    c.refaults += out.swap_in
    c.refaults_recent += out.refault_recent
    duration = len(pages) * (sc.task.workload.think_ns + costs.access_ns) \
        + out.faults * costs.fault_first_touch_ns + out.swap_in * costs.swap_in_ns(sc.host.swap) \
        + out.thp_faults * (HPAGE_PMD_NR - 1) * costs.thp_fault_page_ns
    yield host.env.timeout(max(1, round(duration)))
    reclaim_ns, stall, calls = yield from host.charge(host.actor_ids["task"])
    c.task_direct_reclaim_ns += reclaim_ns + stall
    c.direct_reclaims += calls


HOST_SIDE_PERIOD_NS = NS_PER_MS
"""How often the host-side actor of a VM applies its touches (``vm.host_accesses``)."""


def host_side(host: HostCore, vm: str, rate: float,
              footprint: int) -> Generator[simpy.Event, Any, None]:
    """The host's own touches of a VM's memory (``vm.host_accesses`` per second on
    ``vm.host_access_footprint`` bytes of it): vhost workers and the VMM copying virtqueue
    rings and buffers (``copy_{from,to}_user`` on hvas), KVM's ``kvm_read_guest`` of PV pages.
    They set only the primary A bit, fault missing pages in through the host (charging the
    memcg, reclaiming directly when over the limit) and count in the truth as
    accesses that are not the guest's. The footprint is a seeded random set of the VM's pages
    (clamped to its memory); each period touches a Poisson number of them, uniformly."""
    region = host.region(vm)
    rng = host.streams.generator(f"host_side.{vm}")
    pages = region.start + rng.choice(region.pages, min(footprint // PAGE_SIZE, region.pages),
                                      replace=False)
    path = TaskPath(host, host_side=True)
    mean = rate * HOST_SIDE_PERIOD_NS / 1e9
    while True:
        yield host.env.timeout(HOST_SIDE_PERIOD_NS)
        n = int(rng.poisson(mean))
        if n == 0:
            continue
        touched = np.asarray(pages[rng.integers(0, len(pages), n)], dtype=np.int64)
        out = host.policy.run_accesses(path, touched, np.zeros(n, dtype=bool))
        c = host.counters
        c.host_side_accesses += out.accesses
        c.faults_first_touch += out.first_touch
        c.faults_thp += out.thp_faults
        c.refaults += out.swap_in
        yield from host.charge(host.actor_ids["host_side"])


def kswapd(host: HostCore) -> Generator[simpy.Event, Any, None]:
    """Reclaim the node between its watermarks whenever a charge wakes it."""
    node, policy = host.node, host.policy
    assert node is not None
    actor = host.actor_ids["kswapd"]
    c = host.counters

    def busy(ns: float) -> None:
        c.kswapd_cpu_ns += ns

    while True:
        if host.resident() <= node.wake_pages:
            node.kswapd_wake = host.env.event()
            yield node.kswapd_wake
        target = node.target_pages
        priority = policy.initial_priority(host.resident() - target)
        yield from host.reclaim(reclaim.kswapd_balance(host.resident, target, priority,
                                                       policy.shrink), actor, busy=busy)


def proactive(host: HostCore) -> Generator[simpy.Event, Any, None]:
    """A proactive agent writing ``host.proactive_reclaim`` bytes to memory.reclaim."""
    sc = host.sc
    pages = sc.host.proactive_reclaim // PAGE_SIZE
    interval = round(sc.host.proactive_interval_ms * NS_PER_MS)
    actor = host.actor_ids["proactive"]
    while True:
        yield host.env.timeout(interval)
        got = yield from host.reclaim(reclaim.memory_reclaim(pages, host.policy.shrink), actor)
        host.counters.proactive_reclaimed += int(got)


def ager(host: HostCore, policy: MglruPolicy) -> Generator[simpy.Event, Any, None]:
    """MGLRU aging through debugfs (``mglru.aging`` = ``interval`` or ``back_to_back``)."""
    mode = host.sc.mglru.aging
    interval = round(host.sc.mglru.aging_interval_ms * NS_PER_MS)
    actor = host.actor_ids["debugfs"]
    while True:
        if mode == "interval":
            yield host.env.timeout(interval)
        yield from policy.age(mode, True, actor)


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
               vcpu_direct_reclaim_ns=c.vcpu_direct_reclaim_ns,
               young_tp=t.tp, young_fp=t.fp, young_fn=t.fn, young_tn=t.tn)
    data.timeseries.append(row)


__all__ = ["HOST_SIDE_PERIOD_NS", "TaskPath", "ager", "host_side", "host_task", "kswapd",
           "proactive", "sample", "sampler", "snapshot"]

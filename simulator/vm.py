"""One KVM guest: its secondary MMU, TLBs, mmu_lock, notifier design, workload and vCPUs.

A VM maps its guest memory linearly into one region of the host page index space (the VMM's
mm, which has an mmu_notifier subscription). Its vCPUs are SimPy processes; each quantum takes
``quantum_accesses`` touches from the VM's workload stream, applies them (``kvm.vcpu``), faults
missing pages in through the primary MMU (``mm.fault``) holding ``mmu_lock`` the backend's way,
and advances by touch, TLB-miss, fault and lock-wait time. Several VMs can share one memcg
(``[vms.NAME]``); each has its own ``mmu_lock`` and TLBs.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from simulator.config import VmConfig, WorkloadConfig
from simulator.kvm.backends import KvmBackend, make_backend
from simulator.kvm.backends.base import BoolArray, IntArray
from simulator.kvm.mmu_lock import FastLock, LockModel
from simulator.kvm.notifier import KvmAgingOps, NotifierDesign, make_design
from simulator.kvm.tlb import Tlbs
from simulator.kvm.vcpu import run_quantum
from simulator.metrics import Counters
from simulator.mm.fault import handle_faults
from simulator.mm.pagetable import Region
from workloads import Workload, make_workload

if TYPE_CHECKING:
    from simulator.machine import Machine, WorkloadHook


class Vm:
    """The KVM side of one guest, and its vCPU processes."""

    def __init__(self, m: Machine, name: str, cfg: VmConfig, wl: WorkloadConfig,
                 region: Region, wrap_workload: WorkloadHook | None = None) -> None:
        sc = m.sc
        self.m = m
        self.name = name
        self.cfg = cfg
        self.wl_cfg = wl
        self.region = region
        self.base = region.start
        self.backend: KvmBackend = make_backend(cfg.backend, m.pt.nr_pages, cfg.aging_lock,
                                                sc.costs, hw_af=cfg.hw_af)
        self.tlbs = Tlbs(cfg.vcpus, cfg.tlb_entries)
        ops = KvmAgingOps(self.backend, self.tlbs, tlb_flush_on_age=cfg.tlb_flush_on_age)
        self.design: NotifierDesign = make_design(sc.mglru.notifier, ops,
                                                  sc.mglru.unreliable_fallback)
        self.kswapd_actor = cfg.vcpus
        self.lock: LockModel = self._lock_model(m)
        self.workload: Workload = make_workload(wl, region.pages, cfg.vcpus,
                                                m.streams.seed_sequence(f"workload.{name}"))
        if wrap_workload is not None:
            self.workload = wrap_workload(name, self.workload, m.env)
        self.counters = Counters()
        """This VM's share of the run's counters (the machine's counters hold the totals)."""
        self.fault_share = np.zeros(cfg.vcpus)
        """Fraction of each vCPU's current step spent in faults that take ``mmu_lock``."""
        self.fault_share_until = np.zeros(cfg.vcpus, dtype=np.int64)
        """When each vCPU's current step ends (its ``fault_share`` is stale after that)."""

    def _lock_model(self, m: Machine) -> LockModel:
        actors = self.cfg.vcpus + 1  # the vCPUs and kswapd
        if self.cfg.lock_model == "fine":
            from simulator.kvm.mmu_lock_fine import FineLock
            return FineLock(m.env, actors, m.streams.generator(f"mmu_lock.fine.{self.name}"))
        return FastLock(m.env, actors)

    def start(self) -> None:
        for v in range(self.cfg.vcpus):
            self.m.env.process(self.vcpu(v))

    def vcpu(self, v: int) -> Generator[simpy.Event, Any, None]:
        """One vCPU: quanta of accesses from the VM's workload, forever."""
        quantum = self.cfg.quantum_accesses
        while True:
            rel, writes = self.workload.next_batch(v, quantum)
            yield from self.quantum(v, rel + self.base, writes)

    def quantum(self, v: int, pages: IntArray, writes: BoolArray,
                ) -> Generator[simpy.Event, Any, None]:
        """One quantum of vCPU ``v`` touching host pages ``pages`` (in this VM's region).

        The body of :meth:`vcpu`, reusable by drivers that choose the pages themselves (the
        ``access_tracking_perf_test`` replica walks each vCPU's region in order): the hardware
        effects (``kvm.vcpu.run_quantum``), faults through ``mm.fault`` and the SPTE install,
        then the step's time under ``mmu_lock`` and a stall if the memcg is full.
        """
        m, costs = self.m, self.m.sc.costs
        backend = self.backend
        fault_cost = costs.fault_first_touch_ns
        swap_in = costs.swap_in_ns(m.sc.host.swap)
        hold = costs.fault_lock_hold_ns
        think = self.wl_cfg.think_ns + costs.access_ns
        if m.exact_lru is not None:
            first, refaults = m.exact_lru_quantum(pages, writes, self)
            running = len(pages) * think
            faulting = (first + refaults) * fault_cost + refaults * swap_in
            self._count(accesses=len(pages), faults_first_touch=first, refaults=refaults,
                        vcpu_running_ns=running, vcpu_fault_ns=faulting)
            yield m.env.timeout(max(1, round(running + faulting)))
            return
        q = run_quantum(v, pages, writes, backend.sptes, self.tlbs,
                        backend.young_via_fault)
        fr = handle_faults(m.pt, m.lruvec, m.workingset, q.fault_pages, q.fault_writes)
        backend.sptes.map(q.fault_pages, q.fault_writes)
        self.tlbs.fill(v, q.fault_pages)
        m.truth.record_access(pages)
        running = q.accesses * think + q.tlb_misses * costs.tlb_miss_ns \
            + self.tlbs.take_ipi_debt(v)
        nfaults = len(q.fault_pages)
        faulting = nfaults * fault_cost + fr.swap_in * swap_in \
            + q.access_faults * backend.access_fault_ns
        locks = nfaults + (q.access_faults
                           if backend.access_fault_lock == backend.fault_lock else 0)
        locked_faults = nfaults + (q.access_faults if backend.access_fault_lock != "none" else 0)
        contention = self.fault_contention(v) if locked_faults else 0.0
        faulting += locked_faults * contention
        self._count(accesses=q.accesses, tlb_misses=q.tlb_misses,
                    faults_first_touch=fr.first_touch, faults_access_track=q.access_faults,
                    refaults=fr.swap_in, refaults_recent=fr.refault_recent,
                    vcpu_running_ns=running, vcpu_fault_ns=faulting,
                    fault_write_hold_ns=locks * hold if backend.fault_lock == "write"
                    else 0.0)
        self._fault_share(v, running + faulting, faulting - fr.swap_in * swap_in,
                          locked_faults)
        by_kind: dict[str, float] = {}
        wait = yield from self.lock.step(v, "fault", backend.fault_lock, running + faulting,
                                         locks, hold, by_kind)
        self._count(vcpu_lock_wait_ns=wait)
        for c in (m.counters, self.counters):
            for kind, w in by_kind.items():
                c.vcpu_lock_wait_by[kind] = c.vcpu_lock_wait_by.get(kind, 0.0) + w
        stall = yield from m.after_faults()
        self._count(vcpu_stall_ns=stall)
        self._fault_latencies(fault_cost + contention, fr.first_touch, fr.swap_in, swap_in,
                              q.access_faults, backend.access_fault_ns, wait, locks, stall)

    def _fault_latencies(self, fault_ns: float, first: int, swapins: int, swap_in_ns: float,
                         access: int, access_ns: float, wait: float, locks: int,
                         stall: float) -> None:
        """Record each fault's latency: its service time, an equal share of the quantum's
        mmu_lock wait (over the faults that took the lock) and, for the last fault of the
        quantum, the reclaim stall that followed it (the vCPU cannot go on until the page is
        charged)."""
        lat = np.concatenate([np.full(first, fault_ns), np.full(swapins, fault_ns + swap_in_ns),
                              np.full(access, access_ns)])
        if len(lat) == 0:
            return
        if locks:
            lat[:locks] += wait / locks
        lat[-1] += stall
        for c in (self.m.counters, self.counters):
            c.fault_latency.add(lat)

    def fault_contention(self, v: int) -> float:
        """Extra cost of one ``mmu_lock``-taking fault of vCPU ``v`` right now.

        Every such fault (first touch, swap-in, a locked access-tracking or access-flag fault;
        not x86's lockless ``fast_page_fault``) does atomic operations on cache lines that every
        faulting vCPU shares: the ``mmu_lock`` and ``mmap_lock`` reader counts, memcg and zone
        counters. Each operation waits for the other CPUs' transfers of the line, so a fault
        costs ``fault_contention_ns`` more per other vCPU in such a fault at the same time
        (the sum of the others' ``fault_share``). The 2021 fast_page_fault series credits
        "less time spent acquiring the mmu lock in read mode" for its 10x; the v4 table's
        no-aging column grows linearly with vCPUs for the same reason.
        """
        ns = self.m.sc.costs.fault_contention_ns
        if ns <= 0:
            return 0.0
        live = self.fault_share_until > self.m.now()
        live[v] = False
        return ns * float(self.fault_share[live].sum())

    def _fault_share(self, v: int, step: float, in_faults: float, locked_faults: int) -> None:
        """Publish which fraction of vCPU ``v``'s new step (of ``step`` ns) it spends in the
        fault path (``in_faults`` ns; waiting for swap-in I/O does not count)."""
        self.fault_share[v] = in_faults / step if locked_faults and step > 0 else 0.0
        self.fault_share_until[v] = self.m.now() + math.ceil(step)

    def _count(self, **deltas: float) -> None:
        for c in (self.m.counters, self.counters):
            for key, value in deltas.items():
                setattr(c, key, getattr(c, key) + value)

    def zap(self, pages: np.ndarray) -> None:
        """Drop SPTEs and TLB entries of host pages evicted by the exact LRU policy."""
        mine = pages[(pages >= self.base) & (pages < self.region.end)]
        self.backend.sptes.zap(mine)
        self.tlbs.invalidate(mine)

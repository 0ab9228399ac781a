"""One KVM guest: its secondary MMU, TLBs, mmu_lock, notifier design, workload and vCPUs.

A VM maps its guest memory linearly into one region of the host page index space (the VMM's
mm, which has an mmu_notifier subscription). Its vCPUs are SimPy processes; each quantum takes
``quantum_accesses`` touches from the VM's workload stream, applies them (``kvm.vcpu``), faults
missing pages in through the primary MMU (``mm.fault``) holding ``mmu_lock`` the backend's way,
and advances by touch, TLB-miss, fault and lock-wait time. Several VMs can share one memcg
(``[vms.NAME]``); each has its own ``mmu_lock`` and TLBs.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from simulator.config import VmConfig, WorkloadConfig
from simulator.host import HostCore, WorkloadHook
from simulator.kvm.backends import KvmBackend, make_backend
from simulator.kvm.backends.base import BoolArray, IntArray
from simulator.kvm.false_young import FalseYoung
from simulator.kvm.mmu_lock import LINE_KEY, FaultLines, LockModel
from simulator.kvm.mmu_lock_fast import FastLock
from simulator.kvm.mmu_lock_fine import FineLock
from simulator.kvm.notifier import KvmAgingOps, NotifierDesign, make_design
from simulator.kvm.tlb import make_tlbs
from simulator.kvm.topology import Topology, place
from simulator.kvm.vcpu import run_quantum
from simulator.metrics import Counters
from simulator.mm.folio import HPAGE_PMD_NR
from simulator.policies import AccessOutcome, Touch
from workloads import Workload, make_workload


class VcpuPath:
    """One vCPU's touches: its TLB and the VM's SPTEs (``kvm.vcpu.run_quantum``)."""

    host_side = False

    def __init__(self, vm: Vm, vcpu: int) -> None:
        self.vm = vm
        self.vcpu = vcpu

    def touch(self, pages: IntArray, writes: BoolArray) -> Touch:
        vm = self.vm
        q = run_quantum(self.vcpu, pages, writes, vm.backend.sptes, vm.tlbs,
                        vm.backend.young_via_fault)
        if len(q.access_fault_pages) and vm.backend.marks_accessed_on_fault:
            # arm64 handle_access_fault until 6.12: the host folio is marked accessed
            vm.host.policy.mark_accessed(q.access_fault_pages)
        faults, writes_f = q.fault_pages, q.fault_writes
        mapped = vm.host.pt.present[faults]
        spte_only = 0
        if mapped.any():
            # the host maps them already: KVM installs an SPTE without a host fault
            spte_only = int(np.count_nonzero(mapped))
            self.install(faults[mapped], writes_f[mapped])
            self.fill(faults[mapped])
            faults, writes_f = faults[~mapped], writes_f[~mapped]
        return Touch(accesses=q.accesses, tlb_misses=q.tlb_misses,
                     access_faults=q.access_faults, fault_pages=faults,
                     fault_writes=writes_f, spte_faults=spte_only)

    def install(self, pages: IntArray, writes: BoolArray) -> None:
        self.vm.install_sptes(pages, writes)

    def fill(self, pages: IntArray) -> None:
        sptes = self.vm.backend.sptes
        # pages under one 2 MiB leaf share its TLB entry
        self.vm.tlbs.fill(self.vcpu, np.unique(sptes.leaf(pages)) if sptes.nr_huge else pages)


class Vm:
    """The KVM side of one guest, and its vCPU processes."""

    def __init__(self, host: HostCore, name: str, cfg: VmConfig, wl: WorkloadConfig,
                 wrap_workload: WorkloadHook | None = None) -> None:
        sc = host.sc
        self.host = host
        self.name = name
        self.cfg = cfg
        self.wl_cfg = wl
        self.region = host.region(name)
        self.base = self.region.start
        self.backend: KvmBackend = make_backend(cfg.backend, host.pt.nr_pages, cfg.aging_lock,
                                                sc.costs, hw_af=cfg.hw_af, kernel=sc.kernel)
        self.tlbs = make_tlbs(cfg.vcpus, cfg.tlb_entries, cfg.tlb_ways)
        false_young = FalseYoung(self.backend, cfg.speculative_young, cfg.cmpxchg_fail,
                                 host.streams.generator(f"false_young.{name}"))
        ops = KvmAgingOps(self.backend, self.tlbs, tlb_flush_on_age=cfg.tlb_flush_on_age,
                          false_young=false_young)
        self.design: NotifierDesign = make_design(sc.mglru.notifier, ops,
                                                  sc.mglru.unreliable_fallback,
                                                  sc.mglru.bitmap_variant)
        self.actor_base = host.vcpu_base[name]
        """vCPU ``v`` is actor ``actor_base + v`` of every ``mmu_lock`` model."""
        self.lock: LockModel = self._lock_model()
        self.workload: Workload = make_workload(wl, self.region.pages, cfg.vcpus,
                                                host.streams.seed_sequence(f"workload.{name}"))
        if wrap_workload is not None:
            self.workload = wrap_workload(name, self.workload, host.env)
        self.counters = Counters()
        """This VM's share of the run's counters (the machine's counters hold the totals)."""
        host.add_guest(self, self.design)

    def install_sptes(self, pages: IntArray, writes: BoolArray) -> None:
        """KVM maps faulted ``pages``: a 2 MiB leaf where the host maps the range with a PMD
        and the backend maps 2 MiB (``maps_2m``), else a 4 KiB SPTE per page."""
        sptes, folios = self.backend.sptes, self.host.pt.folios
        if self.backend.maps_2m and folios.nr_huge:
            huge = folios.huge[pages // HPAGE_PMD_NR]
            if huge.any():
                tables, first = np.unique(pages[huge] // HPAGE_PMD_NR, return_index=True)
                sptes.map_huge(tables, np.logical_or.reduceat(writes[huge], first))
                pages, writes = pages[~huge], writes[~huge]
        sptes.map(pages, writes)

    def _lock_model(self) -> LockModel:
        """The VM's ``mmu_lock`` on the host's thread placement: every vCPU of every VM, then
        the host-side actors (``HostCore.nr_actors``; ``simulator.kvm.topology.place``)."""
        sc = self.host.sc
        topo = Topology(sc.host.sockets, sc.host.cores_per_socket, sc.host.smt,
                        sc.host.cores_per_llc)
        vcpus = min(self.host.actor_ids.values())
        where = place(topo, vcpus, self.host.nr_actors - vcpus)
        env = self.host.env
        if self.cfg.lock_model == "fine":
            return FineLock(env, where, sc.costs,
                            self.host.streams.generator(f"mmu_lock.fine.{self.name}"))
        return FastLock(env, where, sc.costs)

    def start(self) -> None:
        for v in range(self.cfg.vcpus):
            self.host.env.process(self.vcpu(v))

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
        effects (``kvm.vcpu.run_quantum``), faults through the replacement policy and the SPTE
        install, then the step's time under ``mmu_lock``, then direct reclaim if the faults
        took the memcg above its limit.
        """
        host, costs, backend = self.host, self.host.sc.costs, self.backend
        fault_cost = costs.fault_first_touch_ns
        swap_in = costs.swap_in_ns(host.sc.host.swap)
        hold = costs.fault_lock_hold_ns
        think = self.wl_cfg.think_ns + costs.access_ns
        out = host.policy.run_accesses(VcpuPath(self, v), pages, writes)
        running = out.accesses * think + out.tlb_misses * costs.tlb_miss_ns \
            + self.tlbs.take_ipi_debt(v)
        faulting = out.faults * fault_cost + out.swap_in * swap_in \
            + out.access_faults * backend.access_fault_ns + self._large_fault_ns(out)
        locks = out.lock_faults + (out.access_faults
                                   if backend.access_fault_lock == backend.fault_lock else 0)
        self._count(accesses=out.accesses, tlb_misses=out.tlb_misses,
                    faults_first_touch=out.first_touch, faults_access_track=out.access_faults,
                    faults_thp=out.thp_faults, faults_spte=out.spte_faults,
                    refaults=out.swap_in, refaults_recent=out.refault_recent,
                    vcpu_running_ns=running, vcpu_fault_ns=faulting,
                    fault_write_hold_ns=locks * hold if backend.fault_lock == "write"
                    else 0.0)
        # first-touch and swap-in faults go through GUP's slow path (mmap_lock) and install a
        # leaf (kvm->stat.pages); a fault on a page the host already maps (spte_faults) finds
        # it with GUP-fast and installs a leaf; access-tracking and access-flag faults do
        # neither
        lines = FaultLines(gup_faults=out.lock_faults - out.spte_faults,
                           stat_faults=out.lock_faults)
        by_kind: dict[str, float] = {}
        actor = self.actor_base + v
        wait = yield from self.lock.step(actor, "fault", backend.fault_lock,
                                         running + faulting, locks, hold, by_kind, lines)
        # the shared lines' transfers and queueing (the lock word's too) are fault time and
        # the SMT stretch running time; mmu_lock wait is the time the rwlock kept the vCPU
        # out (behind a writer, or a writer behind readers)
        lines_ns = by_kind.pop("fault_lines", 0.0) + by_kind.pop(LINE_KEY, 0.0)
        smt = by_kind.pop("smt", 0.0)
        self._count(vcpu_lock_wait_ns=wait - lines_ns - smt, vcpu_fault_ns=lines_ns,
                    vcpu_running_ns=smt)
        for c in (host.counters, self.counters):
            for kind, w in by_kind.items():
                c.vcpu_lock_wait_by[kind] = c.vcpu_lock_wait_by.get(kind, 0.0) + w
        reclaim_ns, stall, calls = yield from host.charge(actor)
        self._count(vcpu_direct_reclaim_ns=reclaim_ns, vcpu_stall_ns=stall,
                    direct_reclaims=calls)
        if not out.yardstick:
            self._fault_latencies(
                [(out.first_touch - out.thp_faults, fault_cost),
                 (out.thp_faults, fault_cost + (HPAGE_PMD_NR - 1) * costs.thp_fault_page_ns),
                 (out.spte_faults, costs.spte_fault_ns),
                 (out.swap_in, fault_cost + swap_in),
                 (out.access_faults, backend.access_fault_ns)],
                wait - smt, locks, reclaim_ns + stall)

    def _large_fault_ns(self, out: AccessOutcome) -> float:
        """What THP first touches cost beyond a 4 KiB fault (zeroing the other 511 pages), and
        the faults KVM served for pages the host already mapped."""
        costs = self.host.sc.costs
        return (out.thp_faults * (HPAGE_PMD_NR - 1) * costs.thp_fault_page_ns
                + out.spte_faults * costs.spte_fault_ns)

    def _fault_latencies(self, groups: list[tuple[int, float]], wait: float, locks: int,
                         stall: float) -> None:
        """Record each fault's latency (``groups``: how many faults took how long to serve,
        the lock-taking kinds first), an equal share of the quantum's mmu_lock wait (over the
        faults that took the lock) and, for the last fault of the quantum, the direct reclaim
        its charge did (the vCPU cannot go on until the page is charged)."""
        lat = np.concatenate([np.full(n, ns) for n, ns in groups])
        if len(lat) == 0:
            return
        if locks:
            lat[:locks] += wait / locks
        lat[-1] += stall
        for c in (self.host.counters, self.counters):
            c.fault_latency.add(lat)

    def _count(self, **deltas: float) -> None:
        for c in (self.host.counters, self.counters):
            for key, value in deltas.items():
                setattr(c, key, getattr(c, key) + value)

    def zap(self, pages: np.ndarray) -> None:
        """Drop SPTEs and TLB entries of host pages a policy evicted inline (the exact LRU)."""
        mine = pages[(pages >= self.base) & (pages < self.region.end)]
        self.backend.sptes.zap(mine)
        self.tlbs.invalidate(mine)

"""One simulated host: builds and wires a run's components and drives them with SimPy.

Actors (SimPy processes, DESIGN §3): one per vCPU, an optional host task, kswapd, an optional
proactive ager, and a sampler. Per-page work happens in numpy inside one event; an actor then
yields a timeout of the simulated duration of what it just did. Time is integer nanoseconds.

- **vCPU** (``simulator.vm.Vm.vcpu``, one VM or several sharing the memcg): applies quanta of
  touches and faults; when the memcg is at its limit it stalls until kswapd frees memory (a
  simplification of direct reclaim: the stalled time is reported as ``vcpu_stall_ns``). A
  quantum's faults are charged before the stall, so the memcg can overshoot its limit by at
  most one quantum per actor.
- **host task** (``_task``): the same without KVM: its touches set primary A bits directly
  (no TLB model for the host).
- **kswapd** (``_kswapd``): woken below the low watermark, reclaims to the high one the way
  ``balance_pgdat`` → ``lru_gen_shrink_node`` → ``try_to_shrink_lruvec`` does: age when
  ``should_run_aging`` says so (always with two generations; with three only below
  ``DEF_PRIORITY``), otherwise ``evict_folios`` ``nr_to_scan >> priority``; the priority drops
  when a round frees nothing. The initial priority follows ``set_initial_priority``.
- **ager** (``_ager``): ``aging = "interval"`` writes ``+ memcg node max_seq`` to debugfs
  every ``aging_interval_ms`` (``force_scan = 1`` as the selftest does), ``back_to_back`` loops.
- **sampler** (``_sampler``): records the time series and ``lru_gen`` snapshots.

Only one aging walk runs at a time; a second requester waits for it to finish (the kernel lets
walkers share an iteration; either way one generation is produced).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import simpy

from simulator.accounting import Work
from simulator.config import PAGE_SIZE, Scenario, run_id_of
from simulator.kvm.backends import KvmBackend
from simulator.kvm.mmu_lock import LockModel
from simulator.kvm.tlb import Tlbs
from simulator.metrics import Counters
from simulator.mm.aging import Aging, WalkResult
from simulator.mm.constants import DEF_PRIORITY, MIN_LRU_BATCH, MIN_NR_GENS
from simulator.mm.debugfs import lru_gen_show
from simulator.mm.eviction import Eviction
from simulator.mm.fault import handle_faults
from simulator.mm.lru import ExactLru
from simulator.mm.lruvec import Lruvec, lru_gen_from_seq
from simulator.mm.notify import SecondaryMmu
from simulator.mm.pagetable import PageTables, layout
from simulator.mm.workingset import Workingset
from simulator.rng import RngStreams
from simulator.rundata import RunData
from simulator.truth import GroundTruth
from simulator.vm import Vm
from workloads import Workload, make_workload

NS_PER_MS = 1_000_000
TASK_MM = "task"


WorkloadHook = Callable[[str, Workload, simpy.Environment], Workload]
"""Wraps the workload of one actor (``"task"`` or a VM's name) when the machine is built, e.g.
to stop the run after one pass of a trace (``simulator.mrccmd``)."""


class Machine:
    """A host with one memcg, optionally one VM and one host task."""

    def __init__(self, sc: Scenario, wrap_workload: WorkloadHook | None = None) -> None:
        self.sc = sc
        self.env = simpy.Environment()
        self.streams = RngStreams(sc.sim.seed)
        sizes: list[tuple[str, int, bool]] = [
            (name, vm.memory // PAGE_SIZE, True) for name, vm, _ in sc.all_vms()]
        if sc.task_pages:
            sizes.append((TASK_MM, sc.task_pages, False))
        self.pt = PageTables(layout(sizes))
        self.mm_ids = {r.name: r.mm_id for r in self.pt.regions}
        self.lruvec = Lruvec(self.pt.nr_pages)
        self.truth = GroundTruth(self.pt.nr_pages)
        self.workingset = Workingset(self.pt.nr_pages)
        self.counters = Counters()
        self.exact_lru = ExactLru(sc.host_pages) if sc.host.policy == "lru" else None
        self.vms = [Vm(self, name, vm, wl, self.pt.region_of(self.mm_ids[name]), wrap_workload)
                    for name, vm, wl in sc.all_vms()]
        self.notifiers: dict[int, SecondaryMmu | None] = {r.mm_id: None for r in self.pt.regions}
        for vm in self.vms:
            self.notifiers[vm.region.mm_id] = vm.design
        self.task_workload: Workload | None = None
        if sc.task_pages:
            self.task_workload = make_workload(sc.task.workload, sc.task_pages, 1,
                                               self.streams.seed_sequence("workload.task"))
            if wrap_workload is not None:
                self.task_workload = wrap_workload(TASK_MM, self.task_workload, self.env)
        self.aging = Aging(self.pt, self.lruvec, self.notifiers, self.truth, sc.costs,
                           walk_mmu=sc.mglru.walk_mmu, bloom_filter=sc.mglru.bloom_filter)
        self.eviction = Eviction(
            self.pt, self.lruvec, self.aging, self.workingset, self.notifiers, self.truth,
            sc.costs, sc.costs.swap_out_ns(sc.host.swap), look_around=sc.mglru.look_around)
        limit = sc.host_pages
        self.limit_pages = limit
        self.wake_pages = int(limit * (1.0 - sc.host.wmark_low))
        self.target_pages = min(int(limit * (1.0 - sc.host.wmark_high)), self.wake_pages)
        self.kswapd_wake = self.env.event()
        self.memory_freed = self.env.event()
        self.aging_done: simpy.Event | None = None
        self.data = RunData(sc, run_id_of(sc), self.counters, self.truth)

    # --- the first VM, for single-VM callers -----------------------------------------------
    @property
    def backend(self) -> KvmBackend | None:
        return self.vms[0].backend if self.vms else None

    @property
    def tlbs(self) -> Tlbs:
        return self.vms[0].tlbs

    @property
    def lock(self) -> LockModel:
        return self.vms[0].lock

    # --- helpers ------------------------------------------------------------------------------
    def now(self) -> int:
        return int(self.env.now)

    def resident(self) -> int:
        if self.exact_lru is not None:
            return len(self.exact_lru)
        return self.lruvec.resident_pages()

    def exact_lru_quantum(self, pages: np.ndarray, writes: np.ndarray,
                          vm: Vm | None) -> tuple[int, int]:
        """``policy = "lru"``: run accesses through the exact LRU in order; returns
        (first-touch misses, refaults). Evicted pages are unmapped to swap (and zapped from
        KVM); missed pages still resident at the end are mapped."""
        assert self.exact_lru is not None
        pt = self.pt
        touched_before = pt.present | pt.swapped
        misses, evicted = self.exact_lru.access(pages)
        first_seen = np.unique(misses, return_index=True)[1]
        is_first = np.zeros(len(misses), dtype=bool)
        is_first[first_seen] = True
        first_touch = int((is_first & ~touched_before[misses]).sum())
        refaults = len(misses) - first_touch
        gone = np.unique(evicted)
        gone = gone[[int(p) not in self.exact_lru for p in gone]]
        if len(gone):
            pt.unmap_to_swap(gone)
            for v in self.vms:
                v.zap(gone)
        new = np.unique(misses)
        new = new[[int(p) in self.exact_lru for p in new]]
        if len(new):
            wrote = np.isin(new, pages[writes])
            pt.map_pages(new, wrote)
            if vm is not None:
                vm.backend.sptes.map(new, wrote)
        self.counters.evictions += len(evicted)
        self.truth.record_access(pages)
        self._check()
        return first_touch, refaults

    def after_faults(self) -> Generator[simpy.Event, Any, float]:
        """Wake kswapd below the low watermark; stall at the limit. Returns the stall time."""
        if self.resident() > self.wake_pages and not self.kswapd_wake.triggered:
            self.kswapd_wake.succeed()
        start = self.now()
        while self.resident() > self.limit_pages:
            yield self.memory_freed
        return float(self.now() - start)

    def _check(self) -> None:
        if self.sc.sim.check_invariants:
            from simulator.invariants import check_machine
            check_machine(self)

    # --- actors -------------------------------------------------------------------------------
    def _task(self) -> Generator[simpy.Event, Any, None]:
        sc, costs, c = self.sc, self.sc.costs, self.counters
        assert self.task_workload is not None
        region = self.pt.region_of(self.mm_ids[TASK_MM])
        swap_in = costs.swap_in_ns(sc.host.swap)
        quantum = sc.task.quantum_accesses
        while True:
            rel, writes = self.task_workload.next_batch(0, quantum)
            pages = rel + region.start
            if self.exact_lru is not None:
                first, refaults = self.exact_lru_quantum(pages, writes, None)
                c.host_task_accesses += len(pages)
                c.faults_first_touch += first
                c.refaults += refaults
                duration = len(pages) * (sc.task.workload.think_ns + costs.access_ns) \
                    + (first + refaults) * costs.fault_first_touch_ns + refaults * swap_in
                yield self.env.timeout(max(1, round(duration)))
                continue
            present = self.pt.present[pages]
            self.pt.young[pages[present]] = True
            self.pt.dirty[pages[present & writes]] = True
            missing = np.unique(pages[~present])
            wrote = np.isin(missing, pages[~present & writes])
            fr = handle_faults(self.pt, self.lruvec, self.workingset, missing, wrote)
            self.truth.record_access(pages)
            c.host_task_accesses += len(pages)
            c.faults_first_touch += fr.first_touch
            c.refaults += fr.swap_in
            c.refaults_recent += fr.refault_recent
            duration = len(pages) * (sc.task.workload.think_ns + costs.access_ns) \
                + len(missing) * costs.fault_first_touch_ns + fr.swap_in * swap_in
            yield self.env.timeout(max(1, round(duration)))
            yield from self.after_faults()

    def age(self, trigger: str = "debugfs", force_scan: bool = True,
            ) -> Generator[simpy.Event, Any, dict[str, Any] | None]:
        """One timed aging pass, as writing ``+ memcg node max_seq 1 force_scan`` to the
        ``lru_gen`` debugfs file runs it (``run_cmd`` → ``try_to_inc_max_seq``).

        Returns the pass record (a ``passes.csv`` row), or None if a walk already running was
        joined instead (its record belongs to the walk that started it).
        """
        joined = self.aging_done is not None
        yield from self._age(trigger, force_scan)
        return None if joined else self.data.passes[-1]

    def _age(self, trigger: str, force_scan: bool) -> Generator[simpy.Event, Any, None]:
        """One aging iteration (``try_to_inc_max_seq``), timed chunk by chunk."""
        if self.aging_done is not None:
            yield self.aging_done
            return
        done = self.env.event()
        self.aging_done = done
        start = self.now()
        wait_total = 0.0
        walker = self.aging.try_to_inc_max_seq(self.lruvec.max_seq, force_scan, self.now)
        while True:
            try:
                work = next(walker)
            except StopIteration as stop:
                result: WalkResult = stop.value
                break
            wait = yield from self._kswapd_step("aging", work)
            wait_total += wait
            self.counters.aging_cpu_ns += work.cpu_ns + wait
        c = self.counters
        c.aging_work.add(result.work)
        end = self.now()
        if result.success:
            c.aging_passes += 1
            c.aging_pass_ns += end - start
        cf = result.confusion
        self.data.passes.append({
            "pass": len(self.data.passes), "trigger": trigger, "start_ns": start,
            "end_ns": end, "duration_ns": end - start, "seq": result.seq,
            "force_scan": force_scan, "success": result.success,
            "ptes_scanned": result.stats.leaf_total, "ptes_young": result.stats.leaf_young,
            "tables_found": result.stats.nonleaf_found,
            "tables_added": result.stats.nonleaf_added,
            "first_sightings": result.first_sightings, "promoted": result.promoted,
            "notifier_calls": result.work.notifier_calls, "write_locks": result.work.write_locks,
            "lock_wait_ns": wait_total, "young_tp": cf.tp, "young_fp": cf.fp,
            "young_fn": cf.fn, "young_tn": cf.tn,
        })
        self._check()
        self.aging_done = None
        done.succeed()

    def _evict(self, nr_to_scan: int) -> Generator[simpy.Event, Any, tuple[int, int]]:
        """One ``evict_folios`` call, timed; returns (scanned, reclaimed)."""
        work = Work()
        res = self.eviction.evict_folios(nr_to_scan, work)
        c = self.counters
        c.eviction_work.add(work)
        c.pgscan += res.isolated
        c.pgrefill += res.sorted
        c.evictions += res.reclaimed
        c.activations += res.activated
        c.kept += res.kept
        c.look_arounds += res.look_arounds
        c.rmap_walks += res.rmap_walks
        self._check()
        if res.reclaimed:
            freed, self.memory_freed = self.memory_freed, self.env.event()
            freed.succeed()
        wait = yield from self._kswapd_step("eviction", work)
        c.eviction_cpu_ns += work.cpu_ns + wait
        return res.scanned, res.reclaimed

    def _kswapd_step(self, kind: str, work: Work) -> Generator[simpy.Event, Any, float]:
        """Time a kswapd step: its CPU work, contending on the mmu_lock of each VM it locked.

        The acquisitions reach each VM's lock model grouped by mode and hold (zaps and
        notifier calls are not averaged into one hold); a step that locked several VMs'
        locks is split among them in proportion to their acquisitions.
        """
        debts = [(vm, vm.backend.pending.take().groups) for vm in self.vms]
        debts = [(vm, g) for vm, g in debts if g]
        if not debts:
            yield self.env.timeout(max(1, round(work.cpu_ns)))
            return 0.0
        total = sum(sum(g.values()) for _, g in debts)
        wait = 0.0
        for vm, groups in debts:
            share = work.cpu_ns * sum(groups.values()) / total
            wait += yield from vm.lock.step_groups(vm.kswapd_actor, kind, share, groups)
        return wait

    def set_initial_priority(self, nr_to_reclaim: int) -> int:
        """``set_initial_priority``: (reclaimable >> priority) ≈ nr_to_reclaim, in [6, 12]."""
        lv = self.lruvec
        inactive = sum(int(lv.nr_pages[lru_gen_from_seq(s)])
                       for s in range(lv.min_seq, lv.max_seq - 1))
        if nr_to_reclaim < MIN_LRU_BATCH:
            return DEF_PRIORITY
        # fls_long(x) is int.bit_length(); fls_long(0) = 0 gives the lowest priority (6)
        priority = max(inactive, 0).bit_length() - 1 - (nr_to_reclaim - 1).bit_length()
        return min(max(priority, DEF_PRIORITY // 2), DEF_PRIORITY)

    def _kswapd(self) -> Generator[simpy.Event, Any, None]:
        while True:
            if self.resident() <= self.wake_pages:
                self.kswapd_wake = self.env.event()
                yield self.kswapd_wake
            priority = self.set_initial_priority(self.resident() - self.target_pages)
            while self.resident() > self.target_pages:
                reclaimed = yield from self._shrink_lruvec(priority)
                if reclaimed == 0:
                    if priority == 1:
                        yield self.env.timeout(NS_PER_MS)  # nothing reclaimable: back off
                    priority = max(priority - 1, 1)

    def _shrink_lruvec(self, priority: int) -> Generator[simpy.Event, Any, int]:
        """``try_to_shrink_lruvec``: returns the pages reclaimed."""
        lv = self.lruvec
        mandatory = lv.min_seq + MIN_NR_GENS > lv.max_seq
        better = lv.min_seq + MIN_NR_GENS == lv.max_seq
        if mandatory or (better and priority < DEF_PRIORITY):
            yield from self._age("reclaim", force_scan=False)
            return 0
        nr_to_scan = self.resident() >> priority
        if nr_to_scan == 0:
            return 0
        scanned = reclaimed = 0
        while scanned < nr_to_scan and self.resident() > self.target_pages:
            delta, got = yield from self._evict(nr_to_scan)
            reclaimed += got
            if not delta:
                break
            scanned += delta
        return reclaimed

    def _ager(self) -> Generator[simpy.Event, Any, None]:
        mode = self.sc.mglru.aging
        interval = round(self.sc.mglru.aging_interval_ms * NS_PER_MS)
        while True:
            if mode == "interval":
                yield self.env.timeout(interval)
            yield from self._age(mode, force_scan=True)

    def _sampler(self) -> Generator[simpy.Event, Any, None]:
        interval = max(1, round(self.sc.sim.sample_interval_ms * NS_PER_MS))
        end = round(self.sc.sim.duration_ms * NS_PER_MS)
        snaps = self.sc.sim.lru_gen_snapshots
        snap_every = max(1, (end // interval) // snaps) if snaps else 0
        i = 0
        while True:
            self._sample()
            if snap_every and i % snap_every == 0 and len(self.data.lru_gen) < snaps:
                self.data.lru_gen.append(self._lru_gen_snapshot())
            i += 1
            yield self.env.timeout(interval)

    def _lru_gen_snapshot(self) -> str:
        return f"# t_ns={self.now()}\n" + lru_gen_show(self.lruvec, self.now())

    def _sample(self) -> None:
        lv, c, t = self.lruvec, self.counters, self.truth.total
        row: dict[str, Any] = {
            "t_ns": self.now(), "resident_pages": self.resident(),
            "swapped_pages": int(self.pt.swapped.sum()), "max_seq": lv.max_seq,
            "min_seq": lv.min_seq, "nr_gens": lv.nr_gens,
        }
        for k in range(4):
            seq = lv.max_seq - k
            row[f"gen{k}_pages"] = (int(lv.nr_pages[lru_gen_from_seq(seq)])
                                    if seq >= lv.min_seq else 0)
        row.update(accesses=c.accesses + c.host_task_accesses,
                   faults_first_touch=c.faults_first_touch, refaults=c.refaults,
                   evictions=c.evictions, aging_passes=c.aging_passes,
                   vcpu_running_ns=c.vcpu_running_ns, vcpu_fault_ns=c.vcpu_fault_ns,
                   vcpu_lock_wait_ns=c.vcpu_lock_wait_ns, vcpu_stall_ns=c.vcpu_stall_ns,
                   young_tp=t.tp, young_fp=t.fp, young_fn=t.fn, young_tn=t.tn)
        self.data.timeseries.append(row)

    # --- run ----------------------------------------------------------------------------------
    def run(self) -> RunData:
        """Run the scenario to ``sim.duration_ms`` and return the in-memory results."""
        sc, env = self.sc, self.env
        for vm in self.vms:
            vm.start()
        if self.task_workload is not None:
            env.process(self._task())
        if self.exact_lru is None:
            env.process(self._kswapd())
        if self.exact_lru is None and sc.mglru.aging != "reclaim":
            env.process(self._ager())
        env.process(self._sampler())
        end = round(sc.sim.duration_ms * NS_PER_MS)
        env.run(until=end)
        return self.finish()

    def finish(self) -> RunData:
        """Close the run at the current simulated time: the last sample and ``lru_gen``
        snapshot, and the run-level fields of :class:`RunData`. ``run`` ends with it; drivers
        that schedule their own actors (``simulator.selftest``) call it when they are done."""
        self._sample()
        self.data.lru_gen.append(self._lru_gen_snapshot())
        self.data.sim_time_ns = self.now()
        if self.vms:
            first = self.vms[0]
            c = self.counters
            self.data.mmu_lock_write_hold_ns = (c.aging_work.write_hold_ns
                                                + c.eviction_work.write_hold_ns
                                                + c.fault_write_hold_ns)
            self.data.backend = first.cfg.backend
            self.data.aging_lock = first.backend.aging_lock
            self.data.young_via_fault = any(vm.backend.young_via_fault for vm in self.vms)
            self.data.vm_counters = {vm.name: vm.counters for vm in self.vms}
        self._check()
        return self.data

"""One simulated host: wires a run's components and drives them with SimPy.

The machine builds the shared host state (:class:`~simulator.host.HostCore`: page tables, truth,
counters, the memcg), the guests (``simulator.vm``), the replacement policy
(``simulator.policies``, ``[host] policy``), and starts the actors (``simulator.actors``): the
vCPUs of every VM, the host task, kswapd (for the node's watermarks), the proactive
memory.reclaim agent, MGLRU's debugfs ager (``mglru.aging``) and the sampler. It then runs the
event loop to ``sim.duration_ms`` and collects :class:`~simulator.rundata.RunData`. Nothing here
models the kernel: that is the job of the modules it wires.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy

from simulator import actors
from simulator.config import Scenario, run_id_of
from simulator.host import TASK_MM, HostCore, WorkloadHook
from simulator.invariants import check_host
from simulator.policies import MglruPolicy, ReplacementPolicy, make_policy
from simulator.resources.run import BoundedRows, pass_rows, sample_rows
from simulator.rng import RngStreams
from simulator.rundata import RunData
from simulator.vm import Vm
from workloads import Workload, make_workload

NS_PER_MS = actors.NS_PER_MS
PROGRESS_STEPS = 200
"""With a progress callback, the event loop runs in this many slices of simulated time."""


class Machine:
    """A host with one memcg, its VMs and optionally one host task."""

    def __init__(self, sc: Scenario, wrap_workload: WorkloadHook | None = None) -> None:
        self.sc = sc
        self.env = simpy.Environment()
        self.streams = RngStreams(sc.sim.seed)
        self.host = HostCore(sc, self.env, self.streams)
        self.vms = [Vm(self.host, name, vm, wl, wrap_workload) for name, vm, wl in sc.all_vms()]
        self.task_workload: Workload | None = None
        if sc.task_pages:
            self.task_workload = make_workload(sc.task.workload, sc.task_pages, 1,
                                               self.streams.seed_sequence("workload.task"))
            if wrap_workload is not None:
                self.task_workload = wrap_workload(TASK_MM, self.task_workload, self.env)
        # the policy comes last: aging and eviction read every guest's notifier subscription
        self.policy: ReplacementPolicy = make_policy(sc.host.policy, self.host)
        self.host.attach(self.policy)
        if sc.sim.check_invariants:
            self.host.on_check = lambda: check_host(self.host)
        self.data = RunData(sc, run_id_of(sc), self.host.counters, self.host.truth)
        # the recorded rows stay within what the memory estimate counted for them
        self.policy.passes = BoundedRows(pass_rows(sc), "aging passes (passes.csv rows)")
        self.data.passes = self.policy.passes
        self.data.timeseries = BoundedRows(sample_rows(sc), "time-series samples")

    def now(self) -> int:
        return self.host.now()

    def mglru(self) -> MglruPolicy:
        """The MGLRU policy (the selftest and debugfs-driven aging need it)."""
        if not isinstance(self.policy, MglruPolicy):
            raise TypeError(f"needs host.policy = mglru, not {self.policy.name!r}")
        return self.policy

    def age(self, trigger: str = "debugfs", force_scan: bool = True,
            ) -> Generator[simpy.Event, Any, dict[str, Any] | None]:
        """One timed MGLRU aging pass through debugfs (:meth:`MglruPolicy.age`)."""
        return (yield from self.mglru().age(trigger, force_scan,
                                            self.host.actor_ids["debugfs"]))

    # --- run ----------------------------------------------------------------------------------
    def run(self, progress: Callable[[int], None] | None = None) -> RunData:
        """Run the scenario to ``sim.duration_ms`` and return the in-memory results.

        ``progress``, if given, is called with the simulated time (ns) reached, a few hundred
        times per run; it only observes (see :meth:`_run_until`).
        """
        sc, env, host = self.sc, self.env, self.host
        for vm in self.vms:
            vm.start()
        if self.task_workload is not None:
            env.process(actors.host_task(host, self.task_workload))
        for name, cfg, _ in sc.all_vms():
            if cfg.host_accesses > 0:
                env.process(actors.host_side(host, name, cfg.host_accesses,
                                             cfg.host_access_footprint))
        if host.node is not None and not self.policy.evicts_inline:
            env.process(actors.kswapd(host))
        if sc.host.proactive_reclaim and not self.policy.evicts_inline:
            env.process(actors.proactive(host))
        if isinstance(self.policy, MglruPolicy) and sc.mglru.aging != "reclaim":
            env.process(actors.ager(host, self.policy))
        env.process(actors.sampler(host, self.data))
        self._run_until(round(sc.sim.duration_ms * NS_PER_MS), progress)
        return self.finish()

    def _run_until(self, end: int, progress: Callable[[int], None] | None) -> None:
        """``env.run(until=end)``, in slices when someone watches the progress.

        Slicing does not change the order of events: each ``run(until=t)`` stops at an URGENT
        event scheduled before any event of time ``t`` that is not yet in the queue, and the
        next slice resumes with the same queue, so every other event is processed in the same
        (time, priority, insertion) order as in one call. An early stop (the ``mrc`` replay's
        StopSimulation) leaves ``env.now`` short of the slice's end and ends the loop.
        """
        env = self.env
        if progress is None:
            env.run(until=end)
            return
        step = max(1, end // PROGRESS_STEPS)
        target = env.now
        while target < end:
            target = min(end, target + step)
            if target <= env.now:
                continue
            env.run(until=target)
            progress(int(env.now))
            if env.now < target:  # stopped early
                return

    def finish(self) -> RunData:
        """Close the run at the current simulated time: the last sample and debugfs snapshot,
        and the run-level fields of :class:`RunData`. ``run`` ends with it; drivers that
        schedule their own actors (``simulator.selftest``) call it when they are done."""
        host, data = self.host, self.data
        actors.sample(host, data)
        actors.snapshot(host, data)
        data.sim_time_ns = host.now()
        if self.vms:
            first = self.vms[0]
            c = host.counters
            data.mmu_lock_write_hold_ns = (c.aging_work.write_hold_ns
                                           + c.eviction_work.write_hold_ns
                                           + c.fault_write_hold_ns)
            data.backend = first.cfg.backend
            data.aging_lock = first.backend.aging_lock
            data.young_via_fault = any(vm.backend.young_via_fault for vm in self.vms)
            data.vm_counters = {vm.name: vm.counters for vm in self.vms}
        host.check()
        return data


__all__ = ["Machine"]

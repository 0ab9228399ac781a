"""The ``mglru`` policy: the multi-gen LRU of mm/vmscan.c (``CONFIG_LRU_GEN``, enabled).

Wires the MGLRU model of ``simulator.mm`` (``Lruvec``, ``Aging``, ``Eviction``, ``Workingset``)
to simulated time. Accesses reach it through the hardware (A bits, faults:
:func:`~simulator.policies.base.hardware_accesses`); reclaim runs
``simulator.mm.reclaim.try_to_shrink_lruvec``, whose requests this module times: an aging
iteration (``try_to_inc_max_seq``, one ``passes.csv`` row) step by step, contending on each
VM's ``mmu_lock``, and one ``evict_folios`` call at a time.

Only one aging walk runs at a time: a second requester waits for the running one to finish
(the kernel lets walkers share an iteration through the mm-list cursor; either way the
iteration produces one generation).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, ClassVar

import simpy

from simulator.accounting import Work
from simulator.mm import reclaim
from simulator.mm.aging import Aging, WalkResult
from simulator.mm.debugfs import lru_gen_show
from simulator.mm.eviction import Eviction
from simulator.mm.fault import FaultResult, handle_faults
from simulator.mm.lruvec import Lruvec, lru_gen_from_seq
from simulator.mm.workingset import Workingset
from simulator.policies.base import (
    AccessOutcome,
    AccessPath,
    BoolArray,
    IntArray,
    PolicyHost,
    hardware_accesses,
)


class MglruPolicy:
    """MGLRU over the memcg's one lruvec."""

    name: ClassVar[str] = "mglru"
    description: ClassVar[str] = (
        "multi-gen LRU (lru_gen enabled): aging walks page tables, eviction with rmap "
        "look-around, refault tiers and the PID controller")
    evicts_inline: ClassVar[bool] = False

    def __init__(self, host: PolicyHost) -> None:
        pt, costs, switches = host.pt, host.costs, host.mglru
        self.host = host
        self.lruvec = Lruvec(pt.nr_pages)
        self.workingset = Workingset(pt.nr_pages)
        self.aging = Aging(pt, self.lruvec, host.notifiers, host.truth, costs,
                           walk_mmu=switches.walk_mmu, bloom_filter=switches.bloom_filter)
        self.eviction = Eviction(
            pt, self.lruvec, self.aging, self.workingset, host.notifiers, host.truth,
            costs, costs.swap_out_ns(host.swap), look_around=switches.look_around)
        self.passes: list[dict[str, Any]] = []
        self.aging_done: simpy.Event | None = None
        """Set while an aging walk runs (a second requester waits for it)."""

    # --- accesses -----------------------------------------------------------------------------
    def resident_pages(self) -> int:
        return self.lruvec.resident_pages()

    def resident_mask(self) -> BoolArray:
        mask: BoolArray = self.lruvec.gen >= 0
        return mask

    def fault_in(self, pages: IntArray, writes: BoolArray) -> FaultResult:
        return handle_faults(self.host.pt, self.lruvec, self.workingset, pages, writes)

    def run_accesses(self, path: AccessPath, pages: IntArray,
                     writes: BoolArray) -> AccessOutcome:
        return hardware_accesses(path, pages, writes, self.fault_in,
                                 self.host.truth.record_access)

    # --- reclaim ------------------------------------------------------------------------------
    def initial_priority(self, nr_to_reclaim: int) -> int:
        return reclaim.set_initial_priority(self.lruvec, nr_to_reclaim)

    def shrink(self, priority: int, target: int) -> Generator[reclaim.Request, Any, int]:
        return reclaim.try_to_shrink_lruvec(self.lruvec, priority, self.host.resident, target)

    def perform(self, request: reclaim.Request) -> Generator[simpy.Event, Any, Any]:
        if isinstance(request, reclaim.Age):
            yield from self._age(request.trigger, request.force_scan)
            return None
        if isinstance(request, reclaim.Evict):
            return (yield from self._evict(request.nr_to_scan))
        raise TypeError(f"mglru cannot perform {request!r}")

    def age(self, trigger: str = "debugfs", force_scan: bool = True,
            ) -> Generator[simpy.Event, Any, dict[str, Any] | None]:
        """One timed aging pass, as writing ``+ memcg node max_seq 1 force_scan`` to the
        ``lru_gen`` debugfs file runs it (``run_cmd`` → ``try_to_inc_max_seq``).

        Returns the pass record (a ``passes.csv`` row), or None if a walk already running was
        joined instead (its record belongs to the walk that started it).
        """
        joined = self.aging_done is not None
        yield from self._age(trigger, force_scan)
        return None if joined else self.passes[-1]

    def _age(self, trigger: str, force_scan: bool) -> Generator[simpy.Event, Any, None]:
        """One aging iteration (``try_to_inc_max_seq``), timed chunk by chunk."""
        if self.aging_done is not None:
            yield self.aging_done
            return
        host = self.host
        done = host.env.event()
        self.aging_done = done
        start = host.now()
        wait_total = 0.0
        walker = self.aging.try_to_inc_max_seq(self.lruvec.max_seq, force_scan, host.now)
        while True:
            try:
                work = next(walker)
            except StopIteration as stop:
                result: WalkResult = stop.value
                break
            wait = yield from host.time_locked_work("aging", work)
            wait_total += wait
            host.counters.aging_cpu_ns += work.cpu_ns + wait
        self._record_pass(result, trigger, force_scan, start, wait_total)
        host.check()
        self.aging_done = None
        done.succeed()

    def _record_pass(self, result: WalkResult, trigger: str, force_scan: bool, start: int,
                     wait_total: float) -> None:
        c = self.host.counters
        c.aging_work.add(result.work)
        end = self.host.now()
        if result.success:
            c.aging_passes += 1
            c.aging_pass_ns += end - start
        cf = result.confusion
        self.passes.append({
            "pass": len(self.passes), "trigger": trigger, "start_ns": start,
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

    def _evict(self, nr_to_scan: int) -> Generator[simpy.Event, Any, tuple[int, int]]:
        """One ``evict_folios`` call, timed; returns (scanned, reclaimed)."""
        host = self.host
        work = Work()
        res = self.eviction.evict_folios(nr_to_scan, work)
        c = host.counters
        c.eviction_work.add(work)
        c.pgscan += res.isolated
        c.pgrefill += res.sorted
        c.evictions += res.reclaimed
        c.activations += res.activated
        c.kept += res.kept
        c.look_arounds += res.look_arounds
        c.rmap_walks += res.rmap_walks
        host.check()
        if res.reclaimed:
            host.freed()
        wait = yield from host.time_locked_work("eviction", work)
        c.eviction_cpu_ns += work.cpu_ns + wait
        return res.scanned, res.reclaimed

    # --- reporting ----------------------------------------------------------------------------
    def sample(self) -> dict[str, Any]:
        lv = self.lruvec
        row: dict[str, Any] = {"max_seq": lv.max_seq, "min_seq": lv.min_seq,
                               "nr_gens": lv.nr_gens}
        for k in range(4):
            seq = lv.max_seq - k
            row[f"gen{k}_pages"] = (int(lv.nr_pages[lru_gen_from_seq(seq)])
                                    if seq >= lv.min_seq else 0)
        return row

    def snapshot(self, now_ns: int) -> str | None:
        return lru_gen_show(self.lruvec, now_ns)

    def check_invariants(self) -> None:
        self.lruvec.check_invariants()


__all__ = ["MglruPolicy"]

"""The ``mglru`` policy: the multi-gen LRU of mm/vmscan.c (``CONFIG_LRU_GEN``, enabled).

Wires the MGLRU model of ``simulator.mm`` (``Lruvec``, ``Aging``, ``Eviction``, ``Workingset``)
to simulated time. Accesses reach it through the hardware (A bits, faults:
:func:`~simulator.policies.base.hardware_accesses`); reclaim runs
``simulator.mm.reclaim.try_to_shrink_lruvec``, whose requests this module times: an aging
iteration (``try_to_inc_max_seq``, one ``passes.csv`` row) step by step, contending on each
VM's ``mmu_lock``, and one ``evict_folios`` call at a time, each on the time of the reclaimer
that asked (a vCPU or the host task in direct reclaim, kswapd, a proactive agent, debugfs).

Several reclaimers may age at once: they share the iteration through the mm-list cursor
(``simulator.mm.aging``), and a pass record (``passes.csv``) is written per walker call. A
generation's aging time (``aging_pass_ns``) runs from the first walker of its iteration to the
``inc_max_seq`` that ended it.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, ClassVar

import numpy as np
import simpy

from simulator.accounting import Work
from simulator.mm import reclaim
from simulator.mm.aging import WAIT, Aging, WalkResult
from simulator.mm.constants import DEF_PRIORITY
from simulator.mm.debugfs import lru_gen_show
from simulator.mm.eviction import Eviction
from simulator.mm.fault import FaultResult, handle_faults
from simulator.mm.folio import expand_mask
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
    memory_per_page: ClassVar[int] = 56
    """Resource-estimate fact: bytes per page of the host index space at the peak: the lruvec
    (gen, list, refs, workingset: 4 × 1; list position: 8), shadow tokens (seq 8, refs 1,
    workingset 1), and the temporaries of sorting one generation's list for eviction (its
    members, their positions and the sort order: 3 × 8, the kept order 8, a boolean scan)."""

    def __init__(self, host: PolicyHost) -> None:
        pt, costs, switches, k = host.pt, host.costs, host.mglru, host.kernel
        self.host = host
        self.lruvec = Lruvec(pt.nr_pages, promotion=k.promotion, tiers=k.tiers,
                             insertion=k.insertion, folios=pt.folios)
        self.workingset = Workingset(pt.nr_pages)
        self.aging = Aging(pt, self.lruvec, host.notifiers, host.truth, costs,
                           walk_mmu=switches.walk_mmu, bloom_filter=switches.bloom_filter,
                           hw_young=host.hw_young, walkers=k.walkers,
                           force_scan_walks=k.force_scan_walks == "yes")
        self.eviction = Eviction(
            pt, self.lruvec, self.aging, self.workingset, host.notifiers, host.truth,
            costs, costs.swap_out_ns(host.swap), look_around=switches.look_around,
            putback=k.putback, scan_cap=k.scan_cap)
        self.passes: list[dict[str, Any]] = []
        self.generation = host.env.event()
        """Fires at every ``inc_max_seq`` (walkers waiting for an iteration, before 6.4)."""
        self.iteration_start: dict[int, int] = {}
        """First walker's start of the iteration for each ``seq`` still open."""

    # --- accesses -----------------------------------------------------------------------------
    def resident_pages(self) -> int:
        return self.lruvec.resident_pages()

    def resident_mask(self) -> BoolArray:
        mask: BoolArray = self.lruvec.gen >= 0
        return expand_mask(mask, self.lruvec.folios)

    def fault_in(self, pages: IntArray, writes: BoolArray) -> FaultResult:
        return handle_faults(self.host.pt, self.lruvec, self.workingset, pages, writes)

    def run_accesses(self, path: AccessPath, pages: IntArray,
                     writes: BoolArray) -> AccessOutcome:
        return hardware_accesses(path, pages, writes, self.fault_in,
                                 self.host.truth.record_access)

    def mark_accessed(self, pages: IntArray) -> None:
        folios = self.lruvec.folios
        self.lruvec.folio_inc_refs(np.unique(folios.heads(pages)) if folios.nr_huge else pages)

    # --- reclaim ------------------------------------------------------------------------------
    def initial_priority(self, nr_to_reclaim: int) -> int:
        return reclaim.set_initial_priority(self.lruvec, nr_to_reclaim)

    def shrink(self, priority: int, nr_to_reclaim: int,
               should_abort: reclaim.AbortCheck) -> Generator[reclaim.Request, Any, int]:
        """``lru_gen_shrink_lruvec`` → ``try_to_shrink_lruvec`` (the goal does not stop a
        memcg reclaimer inside the lruvec; ``should_abort`` stops kswapd)."""
        return reclaim.try_to_shrink_lruvec(self.lruvec, priority, should_abort)

    def perform(self, request: reclaim.Request, actor: int) -> Generator[simpy.Event, Any, Any]:
        if isinstance(request, reclaim.Age):
            record = yield from self.age(request.trigger, request.force_scan, actor,
                                         request.priority)
            return bool(record and record["success"])
        if isinstance(request, reclaim.Evict):
            return (yield from self._evict(request.nr_to_scan, actor))
        raise TypeError(f"mglru cannot perform {request!r}")

    def age(self, trigger: str, force_scan: bool, actor: int,
            priority: int = DEF_PRIORITY,
            ) -> Generator[simpy.Event, Any, dict[str, Any] | None]:
        """One walker's timed ``try_to_inc_max_seq``, as a reclaimer asks it or as writing
        ``+ memcg node max_seq 1 force_scan`` to the ``lru_gen`` debugfs file runs it
        (``run_cmd``). Returns its pass record (a ``passes.csv`` row), or None if the
        iteration was already over."""
        host = self.host
        seq = self.lruvec.max_seq
        start = host.now()
        wait_total = 0.0
        walker = self.aging.try_to_inc_max_seq(seq, force_scan, host.now, priority)
        while True:
            try:
                step = next(walker)
            except StopIteration as stop:
                result: WalkResult = stop.value
                break
            if step is WAIT:
                yield self.generation
                continue
            self.iteration_start.setdefault(seq, start)
            assert isinstance(step, Work)
            wait = yield from host.time_locked_work("aging", step, actor)
            wait_total += wait
            host.counters.aging_cpu_ns += step.cpu_ns + wait
        if not (result.success or result.mms_walked or result.waited):
            return None
        self.iteration_start.setdefault(seq, start)
        record = self._record_pass(result, trigger, force_scan, start, wait_total)
        if result.success:
            done, self.generation = self.generation, host.env.event()
            done.succeed()
        host.check()
        return record

    def _record_pass(self, result: WalkResult, trigger: str, force_scan: bool, start: int,
                     wait_total: float) -> dict[str, Any]:
        c = self.host.counters
        c.aging_work.add(result.work)
        c.thp_pmd_batches += result.thp_batches
        end = self.host.now()
        if result.success:
            c.aging_passes += 1
            c.aging_pass_ns += end - self.iteration_start.pop(result.seq)
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
            "young_fn": cf.fn, "young_tn": cf.tn, "mms_walked": result.mms_walked,
        })
        return self.passes[-1]

    def _evict(self, nr_to_scan: int, actor: int,
               ) -> Generator[simpy.Event, Any, tuple[int, int]]:
        """One ``evict_folios`` call, timed; returns (scanned, reclaimed)."""
        host = self.host
        work = Work()
        res = self.eviction.evict_folios(nr_to_scan, work)
        c = host.counters
        c.eviction_work.add(work)
        c.pgscan += res.isolated
        c.pgrefill += res.sorted
        c.evictions += res.reclaimed
        c.evictions_thp += res.reclaimed_thp
        c.activations += res.activated
        c.kept += res.kept
        c.look_arounds += res.look_arounds
        c.rmap_walks += res.rmap_walks
        host.check()
        if res.reclaimed:
            host.freed()
        wait = yield from host.time_locked_work("eviction", work, actor)
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

"""The host task's quanta under the exact ``lru`` policy, compiled (a stretch kernel).

One call runs whole quanta of prefetched touches exactly as the reference does them one SimPy
step at a time (``simulator.actors.host_task`` → ``ExactLruPolicy.run_accesses``): every touch
goes through the list in order (``simulator.mm.lru``'s ``_access`` loop); then, per quantum,
the pages evicted and not back are unmapped to swap, the pages missed and still resident are
mapped (dirty if any touch of the quantum wrote them), the truth records the quantum as one
tick, and the quantum's simulated duration is

    n * (think_ns + access_ns) + faults * fault_first_touch_ns + swap_ins * swap_in_ns

rounded half to even (Python's ``round``), at least 1 ns. A miss is a first touch when it is the
quantum's first miss of a page that had neither a PTE nor a swap entry at the quantum's start,
and a swap-in (refault) otherwise. The exact LRU evicts at the access, so the charge after the
quantum reclaims nothing and is skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from simulator.jit import njit
from simulator.mm.constants import PTRS_PER_PTE
from simulator.mm.lru import OFF, lru_touch

if TYPE_CHECKING:
    from simulator.host import HostCore
    from simulator.policies.lru import ExactLruPolicy

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# indices of the counters array the kernel adds to
HOST_TASK_ACCESSES, FAULTS_FIRST_TOUCH, REFAULTS, EVICTIONS, TICK, QUANTUM_ID = range(6)
NR_COUNTERS = 6


@njit
def _quantum(pages: IntArray, writes: BoolArray, lo: int, hi: int, q: int,
             links: npt.NDArray[np.int32], ends: IntArray, capacity: int,
             present: BoolArray, young: BoolArray, dirty: BoolArray, swapped: BoolArray,
             table_allocated: BoolArray, last_access: IntArray, tick: int, seen: IntArray,
             wrote: IntArray, evicted: IntArray, missed: IntArray) -> tuple[int, int, int]:
    """One quantum ``pages[lo:hi]``; returns (first touches, swap-ins, evictions)."""
    first_touch = swap_in = nev = nmiss = 0
    for i in range(lo, hi):
        p = pages[i]
        last_access[p] = tick  # the truth records the quantum as one tick
        if writes[i]:
            wrote[p] = q
        victim = lru_touch(p, links, ends, capacity)
        if victim == -2:
            continue
        # present/swapped still hold the quantum's start state: PTEs change below
        if seen[p] != q and not (present[p] or swapped[p]):
            first_touch += 1
        else:
            swap_in += 1
        seen[p] = q
        missed[nmiss] = p
        nmiss += 1
        if victim >= 0:
            evicted[nev] = victim
            nev += 1
    # try_to_unmap: evicted pages that did not come back get a swap entry...
    for k in range(nev):
        p = evicted[k]
        if links[p, 0] == OFF:
            present[p] = False
            young[p] = False
            dirty[p] = False
            swapped[p] = True
    # ... and the pages that missed and stayed are mapped, young (the fault's touch)
    for k in range(nmiss):
        p = missed[k]
        if links[p, 0] != OFF:
            present[p] = True
            young[p] = True
            dirty[p] = dirty[p] or wrote[p] == q
            swapped[p] = False
            table_allocated[p // PTRS_PER_PTE] = True
    return first_touch, swap_in, nev


@njit
def lru_task_quanta(pages: IntArray, writes: BoolArray, offsets: IntArray,
                    links: npt.NDArray[np.int32], ends: IntArray, capacity: int,
                    present: BoolArray, young: BoolArray, dirty: BoolArray,
                    swapped: BoolArray, table_allocated: BoolArray, last_access: IntArray,
                    seen: IntArray, wrote: IntArray, ctr: IntArray, now: int, horizon: int,
                    per_access_ns: float, fault_ns: float, swap_in_ns: float,
                    ) -> tuple[int, int, bool]:
    """Run the batches ``pages[offsets[i]:offsets[i+1]]`` from time ``now``.

    Stops after the first quantum whose end is at or after ``horizon`` (returns ``(done, end,
    True)``: the caller sleeps until ``end``), or when the batches run out (``(done, t,
    False)``: the task is at time ``t`` between quanta). ``seen``/``wrote`` are per-page
    scratch marks (the id of the last quantum that saw the page miss / write).
    """
    t = now
    longest = 0
    for b in range(len(offsets) - 1):
        longest = max(longest, offsets[b + 1] - offsets[b])
    evicted = np.empty(longest, dtype=np.int64)
    missed = np.empty(longest, dtype=np.int64)
    for b in range(len(offsets) - 1):
        lo, hi = offsets[b], offsets[b + 1]
        ctr[QUANTUM_ID] += 1
        first_touch, swap_in, nev = _quantum(
            pages, writes, lo, hi, ctr[QUANTUM_ID], links, ends, capacity, present, young,
            dirty, swapped, table_allocated, last_access, ctr[TICK], seen, wrote, evicted,
            missed)
        ctr[TICK] += 1
        n = hi - lo
        ctr[HOST_TASK_ACCESSES] += n
        ctr[FAULTS_FIRST_TOUCH] += first_touch
        ctr[REFAULTS] += swap_in
        ctr[EVICTIONS] += nev
        duration = n * per_access_ns + (first_touch + swap_in) * fault_ns + swap_in * swap_in_ns
        t += max(1, int(np.rint(duration)))
        if t >= horizon:
            return b + 1, t, True
    return len(offsets) - 1, t, False


class LruTaskKernel:
    """The stretch kernel of the host task under ``lru`` (``simulator.stretch.TaskKernel``)."""

    def __init__(self, host: HostCore, policy: ExactLruPolicy) -> None:
        from simulator.mm.lru import CompiledExactLru

        sc = host.sc
        assert isinstance(policy.lru, CompiledExactLru)
        self.host, self.lru = host, policy.lru
        self.per_access_ns = float(sc.task.workload.think_ns + sc.costs.access_ns)
        self.fault_ns = float(sc.costs.fault_first_touch_ns)
        self.swap_in_ns = float(sc.costs.swap_in_ns(sc.host.swap))
        self.min_quantum_ns = max(1.0, sc.task.quantum_accesses * self.per_access_ns)
        n = host.pt.nr_pages
        self.seen = np.zeros(n, dtype=np.int64)
        self.wrote = np.zeros(n, dtype=np.int64)
        self.ctr = np.zeros(NR_COUNTERS, dtype=np.int64)
        self.ctr[TICK] = host.truth.tick

    def run(self, pages: IntArray, writes: BoolArray, offsets: IntArray, now: int,
            horizon: int) -> tuple[int, int, bool]:
        pt, lru = self.host.pt, self.lru
        self.ctr[TICK] = self.host.truth.tick  # another actor may have ticked it
        done, t, stopped = lru_task_quanta(
            pages, writes, offsets, lru.links, lru.ends, lru.capacity,
            pt.present, pt.young, pt.dirty, pt.swapped, pt.table_allocated,
            self.host.truth.last_access, self.seen, self.wrote, self.ctr, now, horizon,
            self.per_access_ns, self.fault_ns, self.swap_in_ns)
        return int(done), int(t), bool(stopped)

    def sync(self) -> None:
        c, ctr = self.host.counters, self.ctr
        c.host_task_accesses += int(ctr[HOST_TASK_ACCESSES])
        c.faults_first_touch += int(ctr[FAULTS_FIRST_TOUCH])
        c.refaults += int(ctr[REFAULTS])
        c.evictions += int(ctr[EVICTIONS])
        ctr[HOST_TASK_ACCESSES] = ctr[FAULTS_FIRST_TOUCH] = ctr[REFAULTS] = ctr[EVICTIONS] = 0
        self.host.truth.tick = int(ctr[TICK])


__all__ = ["NR_COUNTERS", "LruTaskKernel", "lru_task_quanta"]

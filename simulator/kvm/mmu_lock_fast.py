"""The fast ``mmu_lock`` model: the mechanism of :mod:`simulator.kvm.mmu_lock_fine`, in rates.

Each actor (a vCPU, the host thread) runs a step as slices of at most :data:`SLICE`
acquisitions. For a slice it reads the other actors' current declarations, computes what its
acquisitions cost, publishes its own declarations for the slice and advances by its CPU time
plus that cost. What is declared and computed (the formulas, and where they are exact, are in
``docs/calibration.md`` §3):

- the cache lines (the lock word, ``mmap_lock``, ``kvm->stat.pages``): mean-field FIFO servers,
  :class:`simulator.kvm.lines.LineField`. A fault's ``mmap_lock`` accesses (three at
  ``down_read``, one at ``up_read`` after ``fault_gup_ns``) and its ``stat`` atomic (inside the
  hold) are charged there.
- readers: a read acquisition is two lock-word accesses; with probability ``p`` (the others'
  write acquisitions per ns times their *window*, the time ``_QW_WAITING`` or ``_QW_LOCKED``
  is set) it is caught and waits the rest of the window (length-biased, ``E[w²]/2E[w]``), one
  hand-off for each reader caught before it in that window, and its own slow path (five
  atomics: ``sub``, wait_lock take, ``add``, the re-read after the unlock, the release).
- writers: a two-state renewal against the readers (:meth:`FastLock._writer`): an acquisition
  is *slow* if a reader was caught in the writer's previous window (it added its bias before
  the unlock) or took the fast path before its cmpxchg; then it waits in the wait_lock for the
  caught readers' chain (``E[(K·h - back)+]``, ``K`` Poisson, ``h`` one hand-off, ``back`` the
  writer's gap and cmpxchg) and drains the last reader in. Other writers are a FIFO server of
  busy periods in the same mean field as a line (``mutex``).
- a caught reader's slow path and a writer's accesses meet only the other actors' fast-path
  traffic on the line (``background``): the slow paths of a chain run one after another.
- SMT and time sharing stretch the CPU time by :meth:`Placement.stretch` of the number of the
  VM's threads busy at the time.

Validated against the fine model by ``tests/test_mmu_lock.py`` (a reduced grid) and
``scripts/lock_agreement.py`` (1-112 vCPUs, the plausible range of the read hold).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import simpy

from simulator.costs import CostConfig
from simulator.kvm.lines import Cost, LineField
from simulator.kvm.mmu_lock import LINE_KEY, MMAP_DOWN_ACCESSES, READ, WRITE, FaultLines
from simulator.kvm.topology import Placement

SLICE = 256
"""Acquisitions per slice of a step: a long step (an aging step makes 32,768 calls) then meets
the vCPUs as they are, not as they were when it began."""

Acq = dict[str, tuple[int, float]]
"""mode → (acquisitions, mean hold)."""


@dataclass(slots=True)
class LineUse:
    """A slice's accesses to the lock word, for its declaration."""

    count: float = 0.0
    service: float = 0.0
    """Line occupancy (transfers)."""
    time: float = 0.0
    """Time at the line (queueing and transfers)."""

    def add(self, n: float, costs: list[Cost]) -> None:
        for c in costs:
            self.count += n
            self.time += n * c.time
            self.service += n * c.transfer


@dataclass(frozen=True, slots=True)
class WriterCycle:
    """A writer's acquisitions against the readers (:meth:`FastLock._cycle`)."""

    p_readers: float
    """P(an acquisition is slow because of readers)."""
    chain: float
    """Mean wait in the wait_lock behind caught readers, per acquisition."""
    drain: float
    """Mean wait for the readers inside to leave, per acquisition."""
    slow_window: float
    fast_window: float
    fast_lock: float
    """The cmpxchg's time in a fast cycle."""
    slow_window2: float
    """Second moment of the slow window (the drain varies with the caught readers)."""


class FastLock:
    """The :class:`~simulator.kvm.mmu_lock.LockModel` in rates (see the module docstring)."""

    def __init__(self, env: simpy.Environment, place: Placement, costs: CostConfig) -> None:
        self.env = env
        self.place = place
        self.costs = costs
        n = place.actors
        transfer = place.transfer(costs)
        self.line = LineField(transfer)
        self.mmap = LineField(transfer)
        self.stat = LineField(transfer)
        self.mutex = LineField(np.zeros((n, n)))
        """The write side: writers queue for each other's busy periods (at the head of the
        wait_lock or holding), a FIFO server in the same mean field as a line."""
        self.kind = [""] * n
        self.until = np.zeros(n)
        """When the actor's declarations expire (the end of its current slice with locks)."""
        self.busy_until = np.zeros(n)
        """When its current slice ends, locks or not (how many threads are busy, for SMT)."""
        self.r_read = np.zeros(n)
        """Read acquisitions per ns in the actor's current slice."""
        self.h_read = np.zeros(n)
        """Time a read acquisition keeps the reader count up (hold, in-hold lines, unlock)."""
        self.r_write = np.zeros(n)
        self.window = np.zeros(n)
        """Per write acquisition: mean time ``_QW_WAITING`` or ``_QW_LOCKED`` is set."""
        self.window2 = np.zeros(n)
        self.hold_var = np.zeros(n)
        """Variance of the write holds in the actor's current step (a step of mixed groups:
        300 ns zaps, zaps with a flush, empty notifier calls); a caught reader waits the
        length-biased rest of a window, so the windows' second moment keeps it."""
        """Its second moment."""
        self.background = np.ones(n)
        """Share of the actor's lock-word accesses that are fast-path ones."""

    # --- the LockModel interface --------------------------------------------------------------
    def step_groups(self, actor: int, kind: str, cpu_ns: float,
                    groups: dict[tuple[str, int], int],
                    by_kind: dict[str, float] | None = None,
                    ) -> Generator[simpy.Event, Any, float]:
        """Each mode's groups as one declaration with their mean hold."""
        by_mode: dict[str, tuple[int, float, float]] = {}
        for (mode, hold), n in groups.items():
            count, total, sq = by_mode.get(mode, (0, 0.0, 0.0))
            by_mode[mode] = (count + n, total + n * float(hold), sq + n * float(hold) ** 2)
        acq = {m: (c, t / c) for m, (c, t, _) in by_mode.items() if c}
        c, t, sq = by_mode.get(WRITE, (0, 0.0, 0.0))
        self.hold_var[actor] = max(sq / c - (t / c) ** 2, 0.0) if c else 0.0
        return (yield from self._step(actor, kind, cpu_ns, acq, by_kind, None))

    def step(self, actor: int, kind: str, mode: str, cpu_ns: float, acquisitions: int,
             hold_ns: float, by_kind: dict[str, float] | None = None,
             lines: FaultLines | None = None) -> Generator[simpy.Event, Any, float]:
        acq = {mode: (acquisitions, hold_ns)} if acquisitions > 0 and mode in (READ, WRITE) \
            else {}
        self.hold_var[actor] = 0.0
        return (yield from self._step(actor, kind, cpu_ns, acq, by_kind, lines))

    # --- slices ---------------------------------------------------------------------------------
    def _live(self, actor: int, now: float) -> npt.NDArray[np.bool_]:
        live: npt.NDArray[np.bool_] = self.until > now
        live[actor] = False
        return live

    def _step(self, actor: int, kind: str, cpu_ns: float, acq: Acq,
              by_kind: dict[str, float] | None, lines: FaultLines | None,
              ) -> Generator[simpy.Event, Any, float]:
        n = sum(c for c, _ in acq.values())
        slices = max(1, math.ceil(n / SLICE))
        wait = 0.0
        done = dict.fromkeys(acq, 0)
        lines_done = (0, 0)
        for k in range(slices):
            part: Acq = {}
            for m, (c, h) in acq.items():
                upto = c * (k + 1) // slices
                if upto > done[m]:
                    part[m] = (upto - done[m], h)
                done[m] = upto
            sub = None
            if lines is not None:
                g = lines.gup_faults * (k + 1) // slices
                st = lines.stat_faults * (k + 1) // slices
                sub = FaultLines(g - lines_done[0], st - lines_done[1])
                lines_done = (g, st)
            spent = self._slice(actor, kind, cpu_ns / slices, part, sub)
            w = sum(spent.values())
            wait += w
            if by_kind is not None:
                for key, v in spent.items():
                    if v:
                        by_kind[key] = by_kind.get(key, 0.0) + v
            yield self.env.timeout(max(1, round(cpu_ns / slices + w)))
        return wait

    def _slice(self, actor: int, kind: str, cpu_ns: float, acq: Acq,
               lines: FaultLines | None) -> dict[str, float]:
        """Time one slice and publish the actor's declarations for it; returns its time
        beyond ``cpu_ns`` by cause."""
        now = float(self.env.now)
        busy = int((self.busy_until > now).sum()) + (self.busy_until[actor] <= now)
        stretch = cpu_ns * (self.place.stretch(busy, self.costs) - 1.0)
        cpu = cpu_ns + stretch
        spent: dict[str, float] = {"smt": stretch}
        decl: list[tuple[LineField, float, float, float]] = []
        n = sum(c for c, _ in acq.values())
        read: tuple[float, float] | None = None
        write: tuple[float, float] | None = None
        in_lock = 0.0
        if n:
            gap = max(cpu - sum(c * h for c, h in acq.values()), 0.0) / n
            in_hold = 0.0
            if lines is not None:
                in_hold = self._fault_lines(actor, now, cpu, n, gap, lines, spent, decl)
            use = LineUse()
            if READ in acq:
                c, h = acq[READ]
                read = (c, self._reader(actor, now, c, h + in_hold, gap, spent, use))
            if WRITE in acq:
                c, h = acq[WRITE]
                busy_w, in_lock = self._writer(actor, now, c, h, gap, spent, use)
                write = (c, busy_w)
            decl.append((self.line, use.count, use.service / max(use.count, 1e-12),
                         use.time))
        dur = cpu + sum(spent.values()) - stretch
        self.busy_until[actor] = now + dur
        for line, count, service, at_line in decl:
            line.declare(actor, now, dur, count, service, at_line)
        self.until[actor] = now + dur if n else now
        self.kind[actor] = kind
        self.r_read[actor] = read[0] / dur if read and dur > 0 else 0.0
        self.h_read[actor] = read[1] if read else 0.0
        if write and dur > 0:
            self.r_write[actor] = write[0] / dur
            self.mutex.declare(actor, now, dur, write[0], write[1], in_lock)
        else:
            self.r_write[actor] = 0.0
            self.mutex.declare(actor, now, dur, 0, 0.0, 0.0)
        return spent

    def _fault_lines(self, actor: int, now: float, cpu: float, n: int, gap: float,
                     lines: FaultLines, spent: dict[str, float],
                     decl: list[tuple[LineField, float, float, float]]) -> float:
        """``mmap_lock`` and ``kvm->stat.pages``; returns the stat atomic's time inside the
        hold."""
        in_hold = 0.0
        total = 0.0
        if lines.gup_faults:
            k = lines.gup_faults
            ms = self.mmap.costs(actor, now, [gap] + [0.0] * (MMAP_DOWN_ACCESSES - 1)
                                 + [self.mmap_up_gap])
            at = sum(c.time for c in ms)
            total += k * (at - len(ms) * self.mmap.self_ns)
            decl.append((self.mmap, len(ms) * k, sum(c.transfer for c in ms) / len(ms),
                         k * at))
        if lines.stat_faults:
            k = lines.stat_faults
            (c1,) = self.stat.costs(actor, now, [cpu / n])
            total += k * (c1.time - self.stat.self_ns)
            in_hold = c1.time * k / n
            decl.append((self.stat, k, c1.transfer, k * c1.time))
        spent["fault_lines"] = total
        return in_hold

    @property
    def mmap_up_gap(self) -> float:
        return self.costs.fault_gup_ns

    # --- the other actors -------------------------------------------------------------------------
    def _writers(self, actor: int, now: float) -> tuple[float, float, dict[str, float]]:
        """(catch probability, mean residual window, window share by kind) of the other
        actors' write acquisitions."""
        live = self._live(actor, now)
        occ = self.r_write * self.window * live
        total = float(occ.sum())
        if total <= 0:
            return 0.0, 0.0, {}
        resid = float((self.r_write * self.window2 * live).sum()) / total / 2.0
        share: dict[str, float] = {}
        for j in np.flatnonzero(occ):
            share[self.kind[j]] = share.get(self.kind[j], 0.0) + float(occ[j]) / total
        return min(total, 1.0), resid, share

    def _readers(self, actor: int, now: float) -> tuple[float, float]:
        """(read acquisitions per ns, mean time inside) of the other actors."""
        live = self._live(actor, now)
        rate = self.r_read * live
        lam = float(rate.sum())
        return lam, (float(rate @ self.h_read) / lam if lam > 0 else 0.0)

    def _other_writers(self, actor: int, now: float,
                       ) -> tuple[float, float, dict[str, float], float]:
        """(mean wait behind other writers, probability one is busy, that wait's share by
        kind, their share of the line's fast-path traffic)."""
        live = self._live(actor, now)
        rate = self.mutex.rate * live
        if not rate.any():
            return 0.0, 0.0, {}, 0.0
        (ww,) = self.mutex.costs(actor, now, [1e12])
        rho = rate * self.mutex.service
        kinds: dict[str, float] = {}
        for j in np.flatnonzero(rho):
            kinds[self.kind[j]] = kinds.get(self.kind[j], 0.0) + float(rho[j] / rho.sum())
        traffic = self.line.rate * live * self.background
        share = float((traffic * (rate > 0)).sum()) / max(float(traffic.sum()), 1e-300)
        return ww.wait, min(float(rho.sum()), 1.0), kinds, share

    def _handoff(self, actor: int, now: float) -> float:
        """Time to admit the next reader of a chain: it takes the wait_lock from the one
        before, adds its bias and releases the wait_lock (accesses of the busiest other
        reader, among the fast-path traffic)."""
        rate = self.r_read * self._live(actor, now)
        if not rate.any():
            return 0.0
        far, near = self.line.costs(int(np.argmax(rate)), now, [1e12, 0.0], self.background)
        return far.time + 2 * near.time

    # --- readers and writers ------------------------------------------------------------------
    def _reader(self, actor: int, now: float, count: int, hold: float, gap: float,
                spent: dict[str, float], use: LineUse) -> float:
        """Read acquisitions; returns the time the reader count stays up per acquisition."""
        s = self.line.self_ns
        lock, unlock = self.line.costs(actor, now, [gap, hold])
        near, far = self.line.costs(actor, now, [0.0, 1e12], self.background)
        p, resid, share = self._writers(actor, now)
        lam, _ = self._readers(actor, now)
        handoff = far.time + 2 * near.time
        # caught: the rest of the window (length-biased), a hand-off for each reader caught
        # before it in the window, and its own slow path: sub, the wait_lock take (from the
        # reader ahead if there is one), add, the re-read after the writer's unlock, release
        ahead = 1.0 - math.exp(-lam * resid)
        caught = (resid + lam * resid * handoff + far.time + 3 * near.time
                  + ahead * far.time + (1.0 - ahead) * near.time)
        for k, v in share.items():
            spent[k] = spent.get(k, 0.0) + count * p * caught * v
        spent[LINE_KEY] = spent.get(LINE_KEY, 0.0) + count * (lock.time + unlock.time - 2 * s)
        use.add(count, [lock, unlock])
        use.add(count * p, [far, near, near, near])
        use.add(count * p * ahead, [far])
        use.add(count * p * (1.0 - ahead), [near])
        self.background[actor] = 2.0 / (2.0 + 5.0 * p)
        return hold + unlock.time

    def _writer(self, actor: int, now: float, count: int, hold: float, gap: float,
                spent: dict[str, float], use: LineUse) -> tuple[float, float]:
        """Write acquisitions; returns (busy period per acquisition, time queued or busy)."""
        s = self.line.self_ns
        lam, h_r = self._readers(actor, now)
        ww, p_w, w_kinds, w_traffic = self._other_writers(actor, now)
        waits = [0.0, 300.0, 1000.0, 3000.0]
        lock, unlock, near, *after_wait, far = self.line.costs(
            actor, now, [gap, hold, 0.0, *waits, 1e12], self.background)

        def took(wait: float) -> Cost:
            """An access taking the line from a reader after waiting ``wait``."""
            return Cost(float(np.interp(wait, waits, [c.wait for c in after_wait])),
                        far.transfer)

        cyc = _cycle(s, lam, h_r, hold, gap, lock, unlock, near, took, w_traffic,
                     self._handoff(actor, now))
        p_r = cyc.p_readers
        p_b = 1.0 - (1.0 - p_r) * (1.0 - p_w)
        chain_took = took(cyc.chain / max(p_r, 1e-12))
        drain_took = took(cyc.drain / max(p_r, 1e-12))
        slow = [lock, unlock, chain_took, near, near, near]
        fast = [Cost(0.0, cyc.fast_lock), Cost(0.0, cyc.fast_window - hold)]
        line = (p_b * sum(c.time - s for c in slow) + p_r * (drain_took.time - s)
                + (1 - p_b) * sum(c.time - s for c in fast))
        spent["readers"] = spent.get("readers", 0.0) + count * (cyc.chain + cyc.drain)
        for k, v in w_kinds.items():
            spent[k] = spent.get(k, 0.0) + count * ww * v
        spent[LINE_KEY] = spent.get(LINE_KEY, 0.0) + count * line
        use.add(count * p_b, slow)
        use.add(count * p_r, [drain_took])
        use.add(count * (1 - p_b), fast)
        window = p_b * cyc.slow_window + (1 - p_b) * cyc.fast_window
        self.window[actor] = window
        self.window2[actor] = (p_b * cyc.slow_window2 + (1 - p_b) * cyc.fast_window ** 2
                               + self.hold_var[actor])
        busy = window + p_b * chain_took.time
        return busy, count * (ww + busy)


def _cycle(s: float, lam: float, h_r: float, hold: float, gap: float, lock: Cost,
           unlock: Cost, near: Cost, took: Callable[[float], Cost], w_traffic: float,
           handoff: float) -> WriterCycle:
    """A writer's acquisitions against readers arriving at ``lam`` per ns and staying
    ``h_r``, as a two-state renewal (slow after slow, slow after fast); see the module
    docstring."""
    # in a fast cycle no reader entered since the last cmpxchg, but one that entered before
    # may leave (its read_unlock takes the line), a reader caught in the hold takes it for
    # its atomics, and another writer's accesses may come between
    fast_unlock = s + (1.0 - math.exp(-2 * lam * hold) * (1.0 - w_traffic)) * (unlock.time - s)
    fast_window = hold + fast_unlock
    back = gap + lock.time
    # a reader whose atomic came before the cmpxchg's in the line's FIFO (in the gap or while
    # the cmpxchg queued) took the fast path and is still inside
    inside = 1.0 - math.exp(-lam * min(back, h_r))
    stirred = 1.0 - math.exp(-lam * (fast_window + back)) * (1.0 - w_traffic)
    enter = took(0.0).time + near.time  # after the last caught reader: take the wait_lock, or

    def drain_of(k: int) -> float:
        """The drain after ``k`` caught readers: the last holds for h_r from its admission
        and the writer sets _QW_WAITING a wait_lock take and an atomic_or after it."""
        return max(min(h_r, k * handoff + h_r - back) - enter, 0.0) if k else 0.0

    # a reader that took the fast path entered on average back/2 before the cmpxchg, when
    # the wait_lock was free
    fast_drain = max(h_r - back / 2 - 2 * near.time, 0.0)

    def after(window: float) -> tuple[float, float, float, float]:
        """(P(slow), wait for the chain, drain, drain²) after a window of that length."""
        q = lam * window
        p0 = math.exp(-q)
        chain = _poisson_mean(q, lambda k: max(k * handoff - back, 0.0))
        drain = _poisson_mean(q, drain_of) + p0 * inside * fast_drain
        drain2 = _poisson_mean(q, lambda k: drain_of(k) ** 2) + p0 * inside * fast_drain ** 2
        return 1.0 - p0 * (1.0 - inside), chain, drain, drain2

    slow_window = fast_window
    for _ in range(30):
        pf, chain_f, drain_f, drain2_f = after(fast_window)
        ps, chain_s, drain_s, drain2_s = after(slow_window)
        p_slow = pf / (1.0 - ps + pf)
        p_r = p_slow * ps + (1 - p_slow) * pf
        drain = (p_slow * drain_s + (1 - p_slow) * drain_f) / max(p_r, 1e-12)
        drain2 = (p_slow * drain2_s + (1 - p_slow) * drain2_f) / max(p_r, 1e-12)
        # waiting behind another writer is not in the window: that writer's own window
        # (it holds) covers the same time
        rest = took(drain).time + 2 * near.time + hold + unlock.time
        new = drain + rest
        if abs(new - slow_window) < 0.5:
            break
        slow_window = new
    return WriterCycle(p_readers=p_r, chain=p_slow * chain_s + (1 - p_slow) * chain_f,
                       drain=p_slow * drain_s + (1 - p_slow) * drain_f,
                       slow_window=slow_window, fast_window=fast_window,
                       fast_lock=s + stirred * (lock.time - s),
                       slow_window2=drain2 + 2 * rest * drain + rest ** 2)


def _poisson_mean(mean: float, f: Callable[[int], float]) -> float:
    """E[f(K)] for K ~ Poisson(mean)."""
    if mean <= 0:
        return f(0)
    top = int(mean + 10 * math.sqrt(mean) + 10)
    term = math.exp(-mean)
    total = term * f(0)
    for k in range(1, top + 1):
        term *= mean / k
        total += term * f(k)
    return total

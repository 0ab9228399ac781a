"""The fine ``mmu_lock`` model: kernel/locking/qrwlock.c in SimPy, every atomic a line access.

:class:`QueuedRwLock` is the queued rwlock as the kernel implements it (``qrwlock.c``,
``asm-generic/qrwlock.h``), every step of it an access to the lock's one cache line
(``simulator.kvm.lines.Line``: FIFO, each access taking the transfer from the last owner):

- ``read_lock``: ``atomic_add_return_acquire(_QR_BIAS)``; done if no writer holds or waits.
  Otherwise the slow path: ``atomic_sub``, ``arch_spin_lock(&wait_lock)`` (FIFO), ``atomic_add``,
  spin until the writer's ``_QW_LOCKED`` byte clears, ``arch_spin_unlock(&wait_lock)``. Readers
  caught behind a writer are therefore admitted one after another, each through the wait_lock.
- ``read_unlock``: ``atomic_sub_return_release``.
- ``write_lock``: ``atomic_try_cmpxchg_acquire(0, _QW_LOCKED)``; otherwise
  ``arch_spin_lock(&wait_lock)``, then (no reader inside: cmpxchg) or ``atomic_or(_QW_WAITING)``
  (from now on new readers take the slow path), spin until only ``_QW_WAITING`` is left, cmpxchg
  to ``_QW_LOCKED``, ``arch_spin_unlock(&wait_lock)``.
- ``write_unlock``: ``smp_store_release(&wlocked, 0)``.
- the ``wait_lock`` (a qspinlock in the same 8 bytes): FIFO (MCS); taking it is one access,
  passing it on one store. Spinning is event-driven: a spinner re-reads the line (one access)
  each time the state it waits on changes.

:class:`FineLock` runs a step of ``cpu_ns`` with ``n`` acquisitions by cutting it into ``n``
equal slots and taking the lock once in each at a uniformly random offset (a named RNG stream:
with even spacing vCPUs that start together stay in lock-step). A fault's slot also carries the
fault path's other shared lines (``mm->mmap_lock``: an atomic before and after the GUP part of
the fault, ``fault_gup_ns``; ``kvm->stat.pages``: one atomic inside the hold). Exact for that
schedule and slow (about eight SimPy events per fault): use it for small runs and to check
:class:`simulator.kvm.mmu_lock.FastLock` (``tests/test_mmu_lock.py``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from simulator.costs import CostConfig
from simulator.kvm.lines import Line
from simulator.kvm.mmu_lock import LINE_KEY, MMAP_DOWN_ACCESSES, READ, WRITE, FaultLines
from simulator.kvm.topology import Placement


class QueuedRwLock:
    """kernel/locking/qrwlock.c on one :class:`Line` (see the module docstring)."""

    def __init__(self, env: simpy.Environment, line: Line) -> None:
        self.env = env
        self.line = line
        self.readers = 0
        self.writer: str | None = None
        """``_QW_LOCKED``: the kind of the step holding the lock for write."""
        self.waiting: str | None = None
        """``_QW_WAITING``: the kind of the writer waiting at the head of the wait_lock."""
        self.wl_held = False
        self.wl_queue: deque[simpy.Event] = deque()
        self._spinners: list[simpy.Event] = []

    # --- the line and the spinners ---------------------------------------------------------
    def access(self, actor: int) -> Generator[simpy.Event, Any, None]:
        """One atomic (or the re-read of a spinner) on the lock's line."""
        delay = round(self.line.access(actor, float(self.env.now)) - self.env.now)
        if delay > 0:
            yield self.env.timeout(delay)

    def _changed(self) -> None:
        spinners, self._spinners = self._spinners, []
        for ev in spinners:
            ev.succeed()

    def _spin(self, actor: int) -> Generator[simpy.Event, Any, None]:
        """Wait for the next change of ``cnts``, then re-read the line."""
        ev = self.env.event()
        self._spinners.append(ev)
        yield ev
        yield from self.access(actor)

    # --- wait_lock (qspinlock, FIFO) ---------------------------------------------------------
    def _wl_lock(self, actor: int) -> Generator[simpy.Event, Any, None]:
        if not self.wl_held and not self.wl_queue:
            yield from self.access(actor)
            if not self.wl_held:
                self.wl_held = True
                return
        ev = self.env.event()
        self.wl_queue.append(ev)
        yield ev  # the previous holder passed it on (MCS hand-off)
        yield from self.access(actor)

    def _wl_unlock(self, actor: int) -> Generator[simpy.Event, Any, None]:
        yield from self.access(actor)
        if self.wl_queue:
            self.wl_queue.popleft().succeed()  # stays held: ownership moves to the next
        else:
            self.wl_held = False

    # --- the rwlock --------------------------------------------------------------------------
    def blocker_kind(self) -> str:
        """What a reader that finds a writer holding or waiting waits for."""
        return self.writer or self.waiting or "readers"

    def read_lock(self, actor: int) -> Generator[simpy.Event, Any, str | None]:
        """Returns the kind of writer that sent it down the slow path, or None."""
        yield from self.access(actor)  # atomic_add_return_acquire(_QR_BIAS)
        if self.writer is None and self.waiting is None:
            self.readers += 1
            return None
        blocker = self.blocker_kind()
        yield from self.access(actor)  # atomic_sub(_QR_BIAS)
        yield from self._wl_lock(actor)
        yield from self.access(actor)  # atomic_add(_QR_BIAS)
        self.readers += 1
        while self.writer is not None:  # atomic_cond_read_acquire(!(VAL & _QW_LOCKED))
            yield from self._spin(actor)
        yield from self._wl_unlock(actor)
        return blocker

    def read_unlock(self, actor: int) -> Generator[simpy.Event, Any, None]:
        yield from self.access(actor)  # atomic_sub_return_release(_QR_BIAS)
        self.readers -= 1
        self._changed()

    def _free(self) -> bool:
        return self.readers == 0 and self.writer is None and self.waiting is None

    def write_lock(self, actor: int, kind: str) -> Generator[simpy.Event, Any, str | None]:
        """Returns the kind of what it waited for (``readers`` or a writer's), or None."""
        yield from self.access(actor)  # atomic_try_cmpxchg_acquire(0, _QW_LOCKED)
        if self._free():
            self.writer = kind
            return None
        blocker = self.writer or self.waiting or "readers"
        yield from self._wl_lock(actor)
        while self.readers or self.writer is not None:
            if self.waiting is None:
                yield from self.access(actor)  # atomic_or(_QW_WAITING)
                self.waiting = kind
            else:
                yield from self._spin(actor)  # atomic_cond_read_relaxed(VAL == _QW_WAITING)
        yield from self.access(actor)  # cmpxchg to _QW_LOCKED
        self.waiting = None
        self.writer = kind
        yield from self._wl_unlock(actor)
        return blocker

    def write_unlock(self, actor: int) -> Generator[simpy.Event, Any, None]:
        yield from self.access(actor)  # smp_store_release(&lock->wlocked, 0)
        self.writer = None
        self._changed()


class FineLock:
    """The :class:`~simulator.kvm.mmu_lock.LockModel` with one event per atomic."""

    def __init__(self, env: simpy.Environment, place: Placement, costs: CostConfig,
                 rng: np.random.Generator) -> None:
        self.env = env
        self.rng = rng
        transfer = place.transfer(costs)
        self.lock = QueuedRwLock(env, Line(transfer))
        self.mmap = Line(transfer)
        self.stat = Line(transfer)
        self.gup_ns = costs.fault_gup_ns
        self.place = place
        self.costs = costs
        self.busy_until = np.zeros(place.actors)
        """When each actor's current step ends (how many threads are busy, for SMT)."""

    def step_groups(self, actor: int, kind: str, cpu_ns: float,
                    groups: dict[tuple[str, int], int],
                    by_kind: dict[str, float] | None = None,
                    ) -> Generator[simpy.Event, Any, float]:
        """All groups' acquisitions in one step, in a random order (an eviction batch zaps
        between its pivot checks, not after all of them)."""
        modes = [m for (m, _), n in groups.items() for _ in range(n)]
        holds = [h for (_, h), n in groups.items() for _ in range(n)]
        order = self.rng.permutation(len(modes))
        return (yield from self._run(actor, kind, cpu_ns, [modes[i] for i in order],
                                     [float(holds[i]) for i in order], by_kind, None))

    def step(self, actor: int, kind: str, mode: str, cpu_ns: float, acquisitions: int,
             hold_ns: float, by_kind: dict[str, float] | None = None,
             lines: FaultLines | None = None) -> Generator[simpy.Event, Any, float]:
        if acquisitions <= 0 or mode not in (READ, WRITE):
            return (yield from self._run(actor, kind, cpu_ns, [], [], by_kind, None))
        return (yield from self._run(actor, kind, cpu_ns, [mode] * acquisitions,
                                     [hold_ns] * acquisitions, by_kind, lines))

    def _line(self, line: Line, actor: int) -> Generator[simpy.Event, Any, float]:
        """One atomic on a fault-path line; returns the time it took."""
        t0 = self.env.now
        delay = round(line.access(actor, float(t0)) - t0)
        if delay > 0:
            yield self.env.timeout(delay)
        return float(self.env.now - t0)

    def _acquire(self, actor: int, kind: str, mode: str, hold: int, gup: int,
                 stat: bool, spent: dict[str, float]) -> Generator[simpy.Event, Any, None]:
        """One slot's lock round trip (with the fault path's lines if ``gup`` or ``stat``)."""
        if gup:
            # down_read: rwsem_read_trylock's atomic add, then __rwsem_set_reader_owned reads
            # and writes sem->owner (same line); up_read's atomic add after the GUP work
            for _ in range(MMAP_DOWN_ACCESSES):
                spent["fault_lines"] += yield from self._line(self.mmap, actor)
            yield self.env.timeout(gup)
            spent["fault_lines"] += yield from self._line(self.mmap, actor)
        t0 = self.env.now
        if mode == READ:
            blocker = yield from self.lock.read_lock(actor)
        else:
            blocker = yield from self.lock.write_lock(actor, kind)
        spent[blocker or LINE_KEY] += float(self.env.now - t0)
        yield self.env.timeout(hold)
        if stat:
            spent["fault_lines"] += yield from self._line(self.stat, actor)
        t0 = self.env.now
        yield from (self.lock.read_unlock(actor) if mode == READ
                    else self.lock.write_unlock(actor))
        spent[LINE_KEY] += float(self.env.now - t0)

    def _run(self, actor: int, kind: str, cpu_ns: float, modes: list[str], holds: list[float],
             by_kind: dict[str, float] | None, lines: FaultLines | None,
             ) -> Generator[simpy.Event, Any, float]:
        """The step's acquisitions, one per equal slot at a random offset inside it."""
        now = float(self.env.now)
        busy = int((self.busy_until > now).sum()) + (self.busy_until[actor] <= now)
        stretch = cpu_ns * (self.place.stretch(busy, self.costs) - 1.0)
        cpu_ns += stretch
        self.busy_until[actor] = now + cpu_ns
        n = len(modes)
        if n == 0:
            yield self.env.timeout(max(1, round(cpu_ns)))
            return stretch
        slot = cpu_ns / n
        held = [max(1, round(h)) for h in holds]
        gups = lines.gup_faults if lines is not None else 0
        stats = lines.stat_faults if lines is not None else 0
        gup = round(min(self.gup_ns, max(slot - max(held), 0.0)))
        offsets = self.rng.uniform(0.0, 1.0, size=n)
        start = float(self.env.now)
        spent: dict[str, float] = {"aging": 0.0, "eviction": 0.0, "fault": 0.0,
                                   "readers": 0.0, LINE_KEY: 0.0, "fault_lines": 0.0}
        for i in range(n):
            g = gup if i < gups else 0
            # the slot's start shifts by the waits so far: work is not skipped, only delayed
            at = start + sum(spent.values()) + i * slot + float(offsets[i]) * max(
                slot - held[i] - g, 0.0)
            delay = round(at - self.env.now)
            if delay > 0:
                yield self.env.timeout(delay)
            yield from self._acquire(actor, kind, modes[i], held[i], g, i < stats, spent)
        end = start + sum(spent.values()) + cpu_ns
        if round(end - self.env.now) > 0:
            yield self.env.timeout(round(end - self.env.now))
        spent["smt"] = stretch
        wait = float(self.env.now - start) - cpu_ns + stretch
        if by_kind is not None:
            for k, v in spent.items():
                if v:
                    by_kind[k] = by_kind.get(k, 0.0) + v
        return wait

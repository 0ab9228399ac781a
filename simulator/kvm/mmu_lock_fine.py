"""The fine ``mmu_lock`` model: a queued rwlock in SimPy, one event per acquisition.

Models the kernel's queued rwlock (kernel/locking/qrwlock.c) as KVM uses it for ``mmu_lock``:
readers share the lock, a writer excludes everyone, and waiters are served in FIFO order, so a
reader that arrives while a writer waits queues behind it (writer preference). A step of
``cpu_ns`` with ``n`` acquisitions cuts the step into ``n`` equal slots and takes the lock once
in each, at a uniformly random offset inside the slot (``gap, acquire, hold, release``), the
holds being part of ``cpu_ns``. The random offsets (a named RNG stream) matter: with evenly
spaced acquisitions, vCPUs that start together stay in lock-step and their holds overlap
perfectly, which real vCPUs do not do. Exact for that schedule, and slow: use it for small runs
and to check :class:`simulator.kvm.mmu_lock.FastLock` (``tests/test_mmu_lock.py``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from simulator.kvm.mmu_lock import READ, WRITE


class QueuedRwLock:
    """A FIFO reader-writer lock with writer preference."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.readers = 0
        self.writer: str | None = None
        """Kind of the step holding the lock for write, or None."""
        self.queue: deque[tuple[str, str, simpy.Event]] = deque()

    def blocker_kind(self, mode: str) -> str:
        """What a new ``mode`` request would wait for: a writer's kind, or ``readers``."""
        if self.writer is not None:
            return self.writer
        for m, kind, _ in self.queue:
            if m == WRITE:
                return kind  # a queued writer blocks new readers (writer preference)
        return "readers"

    def _grantable(self, mode: str) -> bool:
        if mode == READ:
            return self.writer is None
        return self.writer is None and self.readers == 0

    def acquire(self, mode: str, kind: str) -> simpy.Event:
        ev = self.env.event()
        if not self.queue and self._grantable(mode):
            self._grant(mode, kind, ev)
        else:
            self.queue.append((mode, kind, ev))
        return ev

    def _grant(self, mode: str, kind: str, ev: simpy.Event) -> None:
        if mode == READ:
            self.readers += 1
        else:
            self.writer = kind
        ev.succeed()

    def release(self, mode: str) -> None:
        if mode == READ:
            self.readers -= 1
        else:
            self.writer = None
        while self.queue and self._grantable(self.queue[0][0]):
            m, k, ev = self.queue.popleft()
            self._grant(m, k, ev)


class FineLock:
    """The :class:`~simulator.kvm.mmu_lock.LockModel` with one event per acquisition."""

    def __init__(self, env: simpy.Environment, actors: int, rng: np.random.Generator) -> None:
        self.env = env
        self.rng = rng
        self.lock = QueuedRwLock(env)
        del actors  # every actor shares the one lock

    def step_groups(self, actor: int, kind: str, cpu_ns: float,
                    groups: dict[tuple[str, int], int],
                    by_kind: dict[str, float] | None = None,
                    ) -> Generator[simpy.Event, Any, float]:
        """All groups' acquisitions in one step, in a random order (an eviction batch zaps
        between its pivot checks, not after all of them)."""
        modes = [m for (m, _), n in groups.items() for _ in range(n)]
        holds = [h for (_, h), n in groups.items() for _ in range(n)]
        order = self.rng.permutation(len(modes))
        return (yield from self._run(kind, cpu_ns, [modes[i] for i in order],
                                     [float(holds[i]) for i in order], by_kind))

    def step(self, actor: int, kind: str, mode: str, cpu_ns: float, acquisitions: int,
             hold_ns: float, by_kind: dict[str, float] | None = None,
             ) -> Generator[simpy.Event, Any, float]:
        if acquisitions <= 0 or mode not in (READ, WRITE):
            return (yield from self._run(kind, cpu_ns, [], [], by_kind))
        return (yield from self._run(kind, cpu_ns, [mode] * acquisitions,
                                     [hold_ns] * acquisitions, by_kind))

    def _run(self, kind: str, cpu_ns: float, modes: list[str], holds: list[float],
             by_kind: dict[str, float] | None) -> Generator[simpy.Event, Any, float]:
        """The step's acquisitions, one per equal slot at a random offset inside it."""
        n = len(modes)
        if n == 0:
            yield self.env.timeout(max(1, round(cpu_ns)))
            return 0.0
        slot = cpu_ns / n
        held = [max(1, round(h)) for h in holds]
        offsets = self.rng.uniform(0.0, 1.0, size=n)
        start = float(self.env.now)
        wait = 0.0
        for i in range(n):
            mode, hold = modes[i], held[i]
            # the slot's start shifts by the waits so far: work is not skipped, only delayed
            at = start + wait + i * slot + float(offsets[i]) * max(slot - hold, 0.0)
            delay = round(at - self.env.now)
            if delay > 0:
                yield self.env.timeout(delay)
            t0 = self.env.now
            blocker = self.lock.blocker_kind(mode)
            yield self.lock.acquire(mode, kind)
            waited = float(self.env.now - t0)
            if waited:
                wait += waited
                if by_kind is not None:
                    by_kind[blocker] = by_kind.get(blocker, 0.0) + waited
            yield self.env.timeout(hold)
            self.lock.release(mode)
        end = start + wait + cpu_ns
        if round(end - self.env.now) > 0:
            yield self.env.timeout(round(end - self.env.now))
        return wait

"""Single-actor stretches: the host task's quanta in a compiled loop between other events.

SimPy gives every quantum of the host task one event. In a host-only run most of those events
have nothing between them: the next event of anyone else (the sampler, the end of the run, a
proactive agent) is many quanta away. A *stretch* runs those quanta in one compiled call
instead, on a local clock, and hands back to SimPy at the first quantum that ends at or after
the next foreign event (``env.peek()``, the *horizon*), with one real timeout to that end.

Why this gives exactly the reference's results: nothing else runs before the horizon, so no
other process can observe or change the state in between; every quantum's effects are applied
at the start of its step, as in the reference (``simulator.actors.host_task``), so whoever runs
at the horizon sees the same state; and the one timeout that is yielded lands at the same time
as the reference's, after every foreign event scheduled for that time (those were all
scheduled before the stretch began, so they precede it in SimPy's order either way).
``tests/test_compiled.py`` checks whole runs against the reference core.

Touches are generated ahead (:class:`Prefetch`) in whole batches of ``task.quantum_accesses``,
through ``next_batches`` (:mod:`workloads.base`), which gives the same touches as one call per
quantum. A workload whose ``next_batch`` has a side effect (``mrc``'s one-pass limiter) limits
how far ahead it may be read; the quantum that reaches the limit runs the reference way.

When a stretch applies: the compiled core (``simulator.jit``), no VM (the host task is the
only one touching memory), no per-step invariant checks, no THP (``task.thp``: the lists then
hold folios of two sizes), and a policy with a stretch kernel (``lru`` so far; others run the
reference quanta).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt
import simpy

from simulator.jit import compiled
from workloads import Workload
from workloads.base import next_batches, prefetchable

if TYPE_CHECKING:
    from simulator.host import HostCore

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

FAR = 2 ** 62
"""The horizon when no other event is pending."""
MAX_PREFETCH = 1 << 22
"""Touches generated ahead at most (36 MiB of pages and flags), whatever the horizon."""


class TaskKernel(Protocol):
    """A policy's compiled quanta of the host task."""

    min_quantum_ns: float
    """A lower bound of one quantum's simulated duration (to size the prefetch)."""

    def run(self, pages: IntArray, writes: BoolArray, offsets: IntArray, now: int,
            horizon: int) -> tuple[int, int, bool]:
        """Run quanta from ``now``; ``(batches done, time, stopped at the horizon)``."""
        ...

    def sync(self) -> None:
        """Publish what the kernel counted (counters, the truth's clock)."""
        ...


class Prefetch:
    """Whole batches of one stream generated ahead, consumed from the front."""

    def __init__(self, workload: Workload, stream: int, n: int, offset: int) -> None:
        self.workload, self.stream, self.n, self.offset = workload, stream, n, offset
        self.pages = np.zeros(0, dtype=np.int64)
        self.writes = np.zeros(0, dtype=np.bool_)

    @property
    def batches(self) -> int:
        return len(self.pages) // self.n if self.n else 0

    def offsets(self) -> IntArray:
        return np.arange(self.batches + 1, dtype=np.int64) * self.n

    def fill(self, want: int) -> None:
        """Hold at least ``want`` batches, if the workload allows that many ahead."""
        k = want - self.batches
        limit = prefetchable(self.workload, self.stream)
        if limit is not None:
            k = min(k, limit // self.n)
        if k <= 0:
            return
        pages, writes = next_batches(self.workload, self.stream, self.n, k)
        pages += self.offset
        if len(self.pages):
            pages = np.concatenate([self.pages, pages])
            writes = np.concatenate([self.writes, writes])
        self.pages, self.writes = pages, writes

    def drop(self, batches: int) -> None:
        cut = batches * self.n
        self.pages, self.writes = self.pages[cut:], self.writes[cut:]


def task_kernel(host: HostCore) -> TaskKernel | None:
    """The stretch kernel for this run's host task, or None if stretches do not apply."""
    if not compiled() or host.guests or host.sc.sim.check_invariants or host.pt.has_thp:
        return None  # with THP the lists hold folios: the reference path
    from simulator.policies.lru import ExactLruPolicy

    policy = host.policy
    if isinstance(policy, ExactLruPolicy) and hasattr(policy.lru, "links"):
        from simulator.stretch.lru import LruTaskKernel

        return LruTaskKernel(host, policy)
    return None


def run_stretches(host: HostCore, kernel: TaskKernel, workload: Workload, offset: int,
                  reference_quantum: Callable[[], Generator[simpy.Event, Any, None]],
                  ) -> Generator[simpy.Event, Any, None]:
    """The host task's life as stretches (see the module docstring)."""
    env = host.env
    quantum = host.sc.task.quantum_accesses
    ahead = Prefetch(workload, 0, quantum, offset)
    cap = max(1, MAX_PREFETCH // max(quantum, 1))
    while True:
        now = int(env.now)
        peek = env.peek()
        horizon = FAR if math.isinf(peek) else int(peek)
        t, stopped = now, False
        while not stopped:
            want = min(cap, int((horizon - t) / kernel.min_quantum_ns) + 1)
            ahead.fill(max(want, 1))
            if ahead.batches == 0:
                break
            done, t, stopped = kernel.run(ahead.pages, ahead.writes, ahead.offsets(), t,
                                          horizon)
            ahead.drop(done)
        kernel.sync()
        if t > now:
            yield env.timeout(t - now)
        if not stopped:
            # the workload allows no more touches ahead: this quantum the reference way
            yield from reference_quantum()


__all__ = ["FAR", "MAX_PREFETCH", "Prefetch", "TaskKernel", "run_stretches", "task_kernel"]

"""``kvm->mmu_lock``: a writer-preferring rwlock shared by vCPU faults, aging and unmapping.

On x86 and arm64 ``mmu_lock`` is an rwlock (``KVM_HAVE_MMU_RWLOCK``, a queued rwlock in which a
waiting writer blocks new readers). TDP MMU and arm64 faults take it for read; shadow-MMU faults
and every fault of a spinlock architecture take it exclusively; aging takes it for write (x86
before 6.15, arm64 upstream), for read (arm64 in v3) or not at all (RCU); unmapping a page that
reclaim evicts (``invalidate_range_start``) takes it for write.

Two models behind one interface, selected by ``vm.lock_model``: each actor (a vCPU, kswapd)
runs a *step* of ``cpu_ns`` of work containing ``n`` lock acquisitions of ``hold_ns`` each, and
the model returns how long the step waited for the lock.

- :class:`FastLock` (default): mean-field. Each actor declares, for its step, the share of its
  time it holds (or waits for) the lock in each mode; an acquisition's expected wait is computed
  from the *other* actors' declared shares. A read acquisition waits for writers: a writer
  holding or waiting with probability ``u_w`` delays it by half a writer cycle (hold + wait) on
  average. A write acquisition waits for other writers the same way and for the readers holding
  the lock to drain: with the readers' summed share λ (a Poisson number of holders, residual
  hold uniform in [0, r]) that is ``r · (1 − (1 − e^−λ)/λ)``. Exact at no contention and at
  saturation; it ignores correlation between successive acquisitions and lock-word cache-line
  bouncing. ``tests/test_mmu_lock.py`` bounds it against the fine model.
- :class:`FineLock` (``simulator.kvm.mmu_lock_fine``): one SimPy event per acquisition.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any, Protocol

import numpy as np
import simpy

READ, WRITE = "read", "write"


def expected_drain_fraction(lam: float) -> float:
    """E[k/(k+1)] for k ~ Poisson(lam): the expected max residual, in units of one hold."""
    if lam <= 1e-9:
        return 0.0
    return 1.0 - (1.0 - math.exp(-lam)) / lam


class LockModel(Protocol):
    """A contention model of one VM's mmu_lock; actors are numbered 0..n-1."""

    last_wait_by_kind: dict[str, float]
    """The last step's wait, split by the kind of step that caused it (``aging``,
    ``eviction``, ``fault``, ``readers``)."""

    def step(self, actor: int, kind: str, mode: str, cpu_ns: float, acquisitions: int,
             hold_ns: float) -> Generator[simpy.Event, Any, float]:
        """Run a step of ``cpu_ns`` with ``acquisitions`` locks in ``mode``; return the wait."""
        ...


class FastLock:
    """Mean-field contention model (see the module docstring)."""

    def __init__(self, env: simpy.Environment, actors: int) -> None:
        self.env = env
        self.read_share = np.zeros(actors)
        self.read_hold = np.zeros(actors)
        self.write_share = np.zeros(actors)
        self.write_cycle = np.zeros(actors)
        self.until = np.zeros(actors, dtype=np.int64)
        self.kind = [""] * actors
        self.last_wait_by_kind: dict[str, float] = {}

    def _live(self, actor: int) -> np.ndarray:
        live: np.ndarray = self.until > int(self.env.now)
        live[actor] = False
        return live

    def _wait(self, actor: int, mode: str, acquisitions: int) -> tuple[float, dict[str, float]]:
        live = self._live(actor)
        per_kind: dict[str, float] = {}
        # writers (holding or pending) delay both modes by half a writer cycle
        for a in np.flatnonzero(live & (self.write_share > 0)):
            w = acquisitions * self.write_share[a] * self.write_cycle[a] / 2.0
            per_kind[self.kind[a]] = per_kind.get(self.kind[a], 0.0) + float(w)
        if mode == WRITE:
            readers = live & (self.read_share > 0)
            lam = float(self.read_share[readers].sum())
            if lam > 0:
                r = float(self.read_hold[readers].mean())
                w = acquisitions * r * expected_drain_fraction(lam)
                per_kind["readers"] = per_kind.get("readers", 0.0) + w
        return sum(per_kind.values()), per_kind

    def step(self, actor: int, kind: str, mode: str, cpu_ns: float, acquisitions: int,
             hold_ns: float) -> Generator[simpy.Event, Any, float]:
        wait = 0.0
        self.last_wait_by_kind = {}
        if acquisitions > 0 and mode in (READ, WRITE):
            wait, self.last_wait_by_kind = self._wait(actor, mode, acquisitions)
            duration = cpu_ns + wait
            share = min(hold_ns * acquisitions / duration, 1.0) if duration > 0 else 0.0
            self.kind[actor] = kind
            self.until[actor] = int(self.env.now) + math.ceil(duration)
            if mode == READ:
                self.read_share[actor], self.read_hold[actor] = share, hold_ns
                self.write_share[actor] = 0.0
            else:
                self.write_share[actor] = min((hold_ns * acquisitions + wait) / duration, 1.0) \
                    if duration > 0 else 0.0
                self.write_cycle[actor] = hold_ns + wait / acquisitions
                self.read_share[actor] = 0.0
        yield self.env.timeout(max(1, round(cpu_ns + wait)))
        return wait

"""``kvm->mmu_lock``: a writer-preferring rwlock shared by vCPU faults and aging/unmapping.

On x86 and arm64 ``mmu_lock`` is an rwlock (``KVM_HAVE_MMU_RWLOCK``). TDP MMU and arm64 stage-2
faults take it for read; aging took it for write before the lockless-aging work (6.15 for x86),
and ``invalidate_range_start`` (unmapping a page that reclaim evicts) takes it for write. The
queued rwlock gives waiting writers priority over new readers.

This is the *fast* model (DESIGN §3): instead of one event per acquisition, each actor
declares, for the step it is about to run, how much of its time it will hold the lock, and
contention is computed analytically from the other side's declared share (a mean-field model):

- a writer acquisition must wait for the readers holding the lock to drain. With the readers'
  summed hold share λ (Poisson number of holders, residual hold uniform in [0, r]) the expected
  wait is ``r · E[k / (k + 1)] = r · (1 − (1 − e^−λ) / λ)``;
- a reader acquisition that arrives while a writer holds or waits (probability = the writer's
  busy share ``u``) waits half of a writer's hold-plus-wait on average (writer preference: a
  pending writer blocks new readers).

Error bound: the model ignores correlation between successive acquisitions and cache-line
bouncing of the lock word; it is exact in the limits of no contention and of a saturated lock.
A fine (event-per-acquisition) model that checks it is part of the backends issue.
"""

from __future__ import annotations

import math

import numpy as np


def expected_drain_fraction(lam: float) -> float:
    """E[k/(k+1)] for k ~ Poisson(lam): the expected max residual, in units of one hold."""
    if lam <= 1e-9:
        return 0.0
    return 1.0 - (1.0 - math.exp(-lam)) / lam


class MmuLock:
    """Fast contention model of one VM's ``mmu_lock``."""

    def __init__(self, vcpus: int) -> None:
        self.reader_share = np.zeros(vcpus)
        """Per vCPU: fraction of its current quantum spent holding the lock for read."""
        self.reader_hold_ns = np.zeros(vcpus)
        self.writer_busy_until = 0
        self.writer_share = 0.0
        """Fraction of the current writer step spent holding or waiting for the write lock."""
        self.writer_cycle_ns = 0.0
        """Mean hold + wait of one writer acquisition in the current writer step."""
        self.write_hold_ns_total = 0.0
        self.writer_wait_ns_total = 0.0
        self.reader_wait_ns_total = 0.0

    def reader_step(self, vcpu: int, now: int, acquisitions: int, hold_ns: float,
                    step_ns: float) -> float:
        """Declare a vCPU's next quantum; return the read-lock wait it will suffer."""
        share = acquisitions * hold_ns / step_ns if step_ns > 0 else 0.0
        self.reader_share[vcpu] = min(share, 1.0)
        self.reader_hold_ns[vcpu] = hold_ns
        if acquisitions == 0 or now >= self.writer_busy_until:
            return 0.0
        wait = acquisitions * self.writer_share * self.writer_cycle_ns / 2.0
        self.reader_wait_ns_total += wait
        return wait

    def writer_step(self, now: int, acquisitions: int, hold_ns: float, cpu_ns: float) -> float:
        """Declare a writer step (``acquisitions`` write locks, ``hold_ns`` held in total,
        ``cpu_ns`` of work in total); return the write-lock wait it will suffer."""
        if acquisitions == 0:
            return 0.0
        lam = float(self.reader_share.sum())
        r = float(self.reader_hold_ns[self.reader_share > 0].mean()) if lam > 0 else 0.0
        wait = acquisitions * r * expected_drain_fraction(lam)
        duration = cpu_ns + wait
        self.writer_busy_until = now + int(math.ceil(duration))
        self.writer_share = min((hold_ns + wait) / duration, 1.0) if duration > 0 else 0.0
        self.writer_cycle_ns = (hold_ns + wait) / acquisitions
        self.write_hold_ns_total += hold_ns
        self.writer_wait_ns_total += wait
        return wait

"""``kvm->mmu_lock``: a queued rwlock on one contended cache line; the interface of its models.

On x86 and arm64 ``mmu_lock`` is an rwlock (``KVM_HAVE_MMU_RWLOCK``): the kernel's queued
rwlock (kernel/locking/qrwlock.c), a 4-byte ``cnts`` word (writer byte, waiting bit, reader
count) next to a qspinlock ``wait_lock``, one 8-byte struct and so one cache line. TDP MMU and
arm64 faults take it for read; shadow-MMU faults and every fault of a spinlock architecture take
it exclusively; aging takes it for write (x86 before 6.15, arm64 upstream), for read (arm64 in
v3) or not at all (RCU); unmapping for reclaim takes it for write.

What contention costs is modelled as what it is (docs/calibration.md §2): every atomic on the
lock word, and on the fault path's other shared lines (``mm->mmap_lock``'s count and owner,
``kvm->stat.pages``), needs the line in the requester's cache; the line is handed from owner to
owner one request at a time (``simulator.kvm.lines``), each transfer taking the one-way latency
between the two CPUs on the host topology (``simulator.kvm.topology``). On top of the line,
the queued rwlock decides who waits for whom: a reader that finds a writer holding or waiting
(``_QW_WAITING``: writer preference) takes the slow path through the FIFO ``wait_lock``, and the
readers caught behind a writer are admitted one after another, a few transfers each; a writer
that finds readers inside queues in the ``wait_lock`` and drains them. There is no fitted
contention term: the lock's cost follows from the atomics the kernel does, the distances and
the holds.

Two models implement this one mechanism, selected by ``vm.lock_model``:

- ``fine`` (:class:`simulator.kvm.mmu_lock_fine.FineLock`): the qrwlock state machine in SimPy,
  every atomic an access to an exact FIFO line, about eight events per fault. Slow; for small
  runs and as the reference.
- ``fast`` (:class:`simulator.kvm.mmu_lock_fast.FastLock`, the default): the same in rates, a
  mean field over the actors' declared access rates and holds, one event per slice of a step.

Every actor (a vCPU, the host thread) runs *steps* of ``cpu_ns`` of work containing ``n``
acquisitions of ``hold_ns`` each (and, for faults, their other shared lines); a model advances
the actor by ``cpu_ns`` plus what the lock and the lines cost it. The two agree within the
bounds measured by ``tests/test_mmu_lock.py`` and ``scripts/lock_agreement.py``.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Protocol

import simpy

READ, WRITE = "read", "write"
LINE_KEY = "mmu_lock_line"
"""``by_kind`` key of the time spent on the lock word's line itself (transfers, queueing)."""


MMAP_DOWN_ACCESSES = 3
"""``down_read(&mm->mmap_lock)`` (kernel/locking/rwsem.c): ``rwsem_read_trylock``'s
``atomic_long_add_return_acquire`` on ``count``, then ``__rwsem_set_reader_owned``'s
``atomic_long_read`` and ``atomic_long_set`` of ``owner``, the next word of the same line.
``up_read`` is one more atomic."""


@dataclass(frozen=True, slots=True)
class FaultLines:
    """The fault path's other shared lines in one vCPU step: the first ``gup_faults`` of its
    lock acquisitions went through GUP's slow path (``mmap_lock`` down and up around
    ``fault_gup_ns``), the first ``stat_faults`` installed a leaf (``kvm->stat.pages``)."""

    gup_faults: int = 0
    stat_faults: int = 0


class LockModel(Protocol):
    """A contention model of one VM's mmu_lock; actors are numbered 0..n-1 (vCPUs, then the
    host thread)."""

    def step(self, actor: int, kind: str, mode: str, cpu_ns: float, acquisitions: int,
             hold_ns: float, by_kind: dict[str, float] | None = None,
             lines: FaultLines | None = None) -> Generator[simpy.Event, Any, float]:
        """Run a step of ``cpu_ns`` with ``acquisitions`` locks in ``mode``; return the time
        beyond ``cpu_ns`` it took.

        If ``by_kind`` is given, that time is also added to it, split by cause: the kind of
        step that held or waited for the lock (``aging``, ``eviction``, ``fault``,
        ``readers``), the lock word's line (``mmu_lock_line``), the fault path's other lines
        (``fault_lines``) and the SMT co-run stretch (``smt``).
        """
        ...

    def step_groups(self, actor: int, kind: str, cpu_ns: float,
                    groups: dict[tuple[str, int], int],
                    by_kind: dict[str, float] | None = None,
                    ) -> Generator[simpy.Event, Any, float]:
        """A step whose acquisitions come in groups of different mode and hold,
        ``{(mode, hold_ns): count}`` (zaps and notifier calls of one eviction batch)."""
        ...

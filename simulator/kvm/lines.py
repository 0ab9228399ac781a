"""Contended cache lines: the mechanism behind ``mmu_lock`` contention, in two forms.

Every atomic on a shared line (``kvm->mmu_lock``'s ``cnts`` and ``wait_lock``, which share one
8-byte ``struct qrwlock``; ``mm->mmap_lock``'s count; ``kvm->stat.pages[]``) needs the line in
the requesting CPU's cache in exclusive state. The coherence protocol hands the line from owner
to owner one request at a time, so a line is a single server: an access waits for the accesses
queued before it, then takes ``T[owner, requester]`` (``simulator.kvm.topology``: the one-way
transfer latency by distance, ``line_self_ns`` if the requester still owns the line). The
requester's atomic itself (``line_self_ns``) is part of its CPU time; what it waits beyond that
is the line's cost. This is what hardware-round2 B.2 measures (one contended line serialises
its operations: each thread's latency grows with the number of contenders, throughput stays at
about one transfer per operation) and what the kernel code implies (``qrwlock.c``: every
``read_lock`` and ``read_unlock`` is an atomic on the lock word even with no writer).

- :class:`Line` (the ``fine`` lock model): an exact FIFO server; each access is a reservation
  made when the request is issued.
- :class:`LineField` (the ``fast`` model): the same server in mean field. Each actor declares,
  for its current step, its access rate on the line ``a``, the mean service of its accesses
  ``s`` and the fraction of its time spent at the line (queued or served) ``u``. An access of
  actor ``i`` issued ``Δ`` after its previous one then costs

  - transfer: the previous owner is still ``i`` unless another actor's access came between,
    i.e. arrived while ``i``'s previous access was queued or served (it then queued behind it
    and goes first) or in the gap after it: ``p = exp(-A (Δ + W + t))`` (``A`` = the others'
    access rate); else the owner is another actor drawn by access rate:
    ``t = p T[i, i] + (1 - p) Σ a_j T[j, i] / A``;
  - queueing (mean-value analysis, Schweitzer's approximation, arrival theorem): it finds each
    other actor at the line with probability ``u_j``, being served with ``ρ_j = a_j s_j``; the
    one in service leaves on average after ``s_j / 2``, each waiting one after ``s_j``:
    ``W = Σ_j (u_j - ρ_j / 2) s_j``.

  An access issued ``Δ`` after the actor's own previous one cannot find more queued ahead of it
  than arrived since that one was queued: ``W(Δ) = min(W, A (Δ + W + t) s̄)``. Because
  ``u_j ≤ 1``, ``W`` saturates at ``(k - 1) s`` for ``k`` actors that are always at the
  line (aggregate throughput ``1/s``), and falls to the M/D/1 light-load value ``ρ s / 2`` when
  they rarely are. ``tests/test_mmu_lock.py`` checks it against :class:`Line` directly.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from simulator.kvm.topology import FloatArray


class Cost(NamedTuple):
    """One access's expected cost in mean field: queueing, then the transfer (line
    occupancy)."""

    wait: float
    transfer: float

    @property
    def time(self) -> float:
        return self.wait + self.transfer


class Line:
    """One cache line as an exact FIFO server (the fine model)."""

    def __init__(self, transfer: FloatArray) -> None:
        self.transfer = transfer
        self.self_ns = float(transfer[0, 0]) if len(transfer) else 0.0
        self.owner = -1
        self.free_at = 0.0

    def access(self, actor: int, now: float) -> float:
        """Reserve the line for one atomic of ``actor`` issued at ``now``; return the time the
        actor goes on (its own ``line_self_ns`` overlaps its CPU time)."""
        start = max(now, self.free_at)
        t = self.self_ns if self.owner < 0 else float(self.transfer[self.owner, actor])
        self.free_at = start + t
        self.owner = actor
        return self.free_at - self.self_ns


class LineField:
    """One cache line in mean field (the fast model); see the module docstring."""

    def __init__(self, transfer: FloatArray) -> None:
        n = len(transfer)
        self.transfer = transfer
        self.self_ns = float(transfer[0, 0]) if n else 0.0
        self.rate = np.zeros(n)
        """Accesses per ns during the actor's current step."""
        self.service = np.zeros(n)
        """Mean line occupancy of one of its accesses (its mean transfer)."""
        self.presence = np.zeros(n)
        """Fraction of its step spent at the line (queued or served)."""
        self.until = np.zeros(n)

    def costs(self, actor: int, now: float, deltas: list[float],
              share: FloatArray | None = None) -> list[Cost]:
        """(queueing wait, transfer) of accesses of ``actor`` issued ``deltas[k]`` ns after its
        previous access to this line completed. ``share`` (per actor) keeps only that part of
        each other actor's accesses."""
        live = (self.until > now).astype(np.float64)
        live[actor] = 0.0
        if share is not None:
            live *= share
        rate = self.rate * live
        others = float(rate.sum())
        if others <= 0:
            return [Cost(0.0, self.self_ns)] * len(deltas)
        t_other = float(rate @ self.transfer[:, actor]) / others
        rho = rate * self.service
        s_other = float(rho.sum()) / others
        # the others as they would be without this actor: each queued behind it for
        # (u_i - ρ_i/2) s_i per access (a first-order correction of Schweitzer's estimate)
        mine = self.presence[actor] - self.rate[actor] * self.service[actor] / 2
        mine = max(mine, 0.0) * self.service[actor] if self.until[actor] > now else 0.0
        seen = np.maximum(self.presence * live - rate * mine, rho)
        wait = max(float(((seen - rho / 2) * self.service).sum()), 0.0)
        out = []
        load = others * s_other  # the others' accesses that can come between, per ns, × s
        for d in deltas:
            # another access comes between if it arrived while this one's predecessor was
            # queued or served, or in the gap after it (it is then ahead in the FIFO); right
            # after the predecessor those are all that can be queued ahead:
            # w = min(W, A s (d + w + t)), solved for w
            t, w = t_other, wait
            for _ in range(4):
                w = wait if load >= 1 else min(wait, load * (max(d, 0.0) + t) / (1 - load))
                p = math.exp(-others * (max(d, 0.0) + w + t))
                t = p * self.self_ns + (1.0 - p) * t_other
            out.append(Cost(w, t))
        return out
    def declare(self, actor: int, now: float, duration: float, accesses: float,
                service: float, at_line: float) -> None:
        """Publish ``actor``'s use of the line for a step of ``duration`` ns from ``now``:
        ``accesses`` accesses of mean occupancy ``service``, ``at_line`` ns spent at it."""
        if duration <= 0 or accesses <= 0:
            self.rate[actor] = 0.0
            self.until[actor] = now
            return
        self.rate[actor] = accesses / duration
        self.service[actor] = service
        self.presence[actor] = min(1.0, at_line / duration)
        self.until[actor] = now + duration

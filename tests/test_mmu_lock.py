"""The mmu_lock models: the fast (rate) model against the fine (event per acquisition) one.

Expected behaviour (DESIGN §3, the issue "All KVM architecture backends and notifier designs"):

- the fine model is a queued rwlock (kernel/locking/qrwlock.c as KVM uses it): readers share,
  a writer excludes everyone, waiters are served in FIFO order, so a reader that arrives while
  a writer waits queues behind it (writer preference);
- at small scale (1 to 8 vCPUs), across lock modes, the fast model is within 15 % of the fine
  one on the mean aging pass time and on the vCPUs' total mmu_lock wait. Where the fine model
  sees no wait at all the fast one must not invent any; where waits are tiny (below 0.1 % of
  the vCPU wall time) the 15 % apply to that 0.1 % floor instead (an absolute bound).

Regime: back-to-back aging with one ``clear_young`` per PTE (``per_page``) while vCPUs fault
in a sequential scan (every touch of a new page is a fault holding the lock). Fine runs cost
one SimPy event per lock acquisition, so each combination runs only as long as its statistics
need: lock-free and reader-only combinations are exact (no wait, equal passes) and run
briefly; 1-vCPU write-locked runs fall under the absolute bound; the rest need ~15 ms of
simulated time for the fine model's random lock offsets to average out (measured for seeds
3 to 8: worst pass error 9 %, worst wait error 13 %, the fast model biased low by up to ~12 %
for 8 vCPUs on the shadow MMU). arm64 with the write lock ages exactly like x86_tdp with the
write lock in this model (read-locked faults, write-locked aging), so it runs with another
seed: a second draw of the fine model, not a repeat.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pytest
import simpy

from simulator.config import scenario_from_dict
from simulator.kvm.mmu_lock import READ, WRITE, FastLock
from simulator.kvm.mmu_lock_fine import FineLock, QueuedRwLock
from simulator.runner import simulate

SEED = 3
TOLERANCE = 0.15
TINY_WAIT = 0.001
"""Waits below this fraction of the vCPU wall time are compared against it (absolute)."""

COMBOS = [("x86_tdp", "write"), ("x86_tdp", "none"), ("arm64", "read"), ("arm64", "write"),
          ("x86_shadow", "write"), ("x86_shadow", "rmap"), ("generic", "write")]
VCPUS = (1, 2, 4, 8)


def duration_ms(vcpus: int, backend: str, lock: str) -> float:
    """Simulated time each combination needs (see the module docstring)."""
    if lock == "read":
        return 3.0    # readers never wait for readers: exact
    if lock == "none":
        return 10.0   # nothing takes the lock for write but unmapping (no pressure): exact
    if lock == "rmap":
        return 40.0   # only shadow-MMU faults contend; cheap in the fine model
    if backend == "x86_shadow" and vcpus == 1:
        return 20.0   # write-locked faults: waits above the floor even with one vCPU
    return 15.0


def seed_of(backend: str, lock: str) -> int:
    return SEED + 1 if (backend, lock) == ("arm64", "write") else SEED


VALIDATED_COSTS = {"fault_lock_hold_ns": 300.0, "fault_first_touch_ns": 6000.0,
                   "fault_contention_ns": 0.0, "pte_scan_ns": 4.0, "notifier_call_ns": 14.0,
                   "spte_age_ns": 9.0}
"""The regime the fast model is validated in: short reader holds (the pre-calibration cost
estimates). With the calibrated x86 costs (563 ns fault holds) the fast model charges write-
locked aging more than the exact queued rwlock at 4-8 vCPUs, on purpose: see the
"Validated regime" paragraph of simulator/kvm/mmu_lock.py and docs/calibration.md."""


def scenario(vcpus: int, backend: str, lock: str, model: str, seed: int) -> Any:
    return scenario_from_dict({
        "costs": VALIDATED_COSTS,
        "name": "mmu-lock",
        "sim": {"duration_ms": duration_ms(vcpus, backend, lock), "seed": seed,
                "lru_gen_snapshots": 0},
        "host": {"memory": "512MiB"},
        "vm": {"memory": "256MiB", "vcpus": vcpus, "backend": backend, "aging_lock": lock,
               "lock_model": model, "quantum_accesses": 256},
        "mglru": {"aging": "back_to_back", "notifier": "per_page"},
        "workload": {"kind": "sequential", "think_ns": 0},
    })


@cache
def run(vcpus: int, backend: str, lock: str, model: str, seed: int) -> dict[str, Any]:
    return simulate(scenario(vcpus, backend, lock, model, seed)).summary


def errors(vcpus: int, backend: str, lock: str, seed: int) -> tuple[float, float, bool]:
    """(pass-time error, wait error, wait compared relatively) of fast against fine."""
    fast = run(vcpus, backend, lock, "fast", seed)
    fine = run(vcpus, backend, lock, "fine", seed)
    pass_err = fast["aging_pass_mean_ns"] / fine["aging_pass_mean_ns"] - 1.0
    floor = TINY_WAIT * fine["vcpu_wall_ns"]
    wf, ws = fast["vcpu_lock_wait_ns"], fine["vcpu_lock_wait_ns"]
    return pass_err, (wf - ws) / max(ws, floor), ws >= floor


@pytest.mark.parametrize(("backend", "lock"), COMBOS, ids=[f"{b}-{lock}" for b, lock in COMBOS])
@pytest.mark.parametrize("vcpus", VCPUS)
def test_fast_model_within_15_percent_of_fine(vcpus: int, backend: str, lock: str) -> None:
    seed = seed_of(backend, lock)
    fast = run(vcpus, backend, lock, "fast", seed)
    fine = run(vcpus, backend, lock, "fine", seed)
    if lock in ("none", "read"):
        # aging never excludes the (reading) vCPUs: no wait anywhere, identical timelines
        assert fine["vcpu_lock_wait_ns"] == 0 == fast["vcpu_lock_wait_ns"]
        assert fine["aging_passes"] == fast["aging_passes"] >= 1
        assert fast["aging_pass_mean_ns"] == pytest.approx(fine["aging_pass_mean_ns"], rel=1e-9)
        return
    assert fine["aging_passes"] >= 5 and fast["aging_passes"] >= 5  # not a vacuous comparison
    pass_err, wait_err, _ = errors(vcpus, backend, lock, seed)
    assert abs(pass_err) <= TOLERANCE, (pass_err, fast["aging_pass_mean_ns"],
                                        fine["aging_pass_mean_ns"])
    if fine["vcpu_lock_wait_ns"] == 0:
        assert fast["vcpu_lock_wait_ns"] == 0
    assert abs(wait_err) <= TOLERANCE, (wait_err, fast["vcpu_lock_wait_ns"],
                                        fine["vcpu_lock_wait_ns"], fine["vcpu_wall_ns"])
    if lock == "write" and vcpus > 1:
        # write-locked aging makes the vCPUs wait, in both models
        assert fine["vcpu_lock_wait_aging_ns"] > 0 and fast["vcpu_lock_wait_aging_ns"] > 0
    if lock == "rmap":
        assert fine["vcpu_lock_wait_aging_ns"] == 0 == fast["vcpu_lock_wait_aging_ns"]


# --- what kswapd's steps hand to the lock model ------------------------------------------------

@cache
def eviction_run(lock: str, model: str) -> dict[str, Any]:
    """Reclaim under pressure; the aging notifier calls themselves hold the lock for ~0 ns."""
    return simulate(scenario_from_dict({
        "name": "zero-hold-calls",
        "sim": {"duration_ms": 50, "seed": 1, "lru_gen_snapshots": 0},
        "host": {"memory": "24MiB"},
        "vm": {"memory": "32MiB", "vcpus": 4, "backend": "x86_tdp", "aging_lock": lock,
               "lock_model": model},
        "mglru": {"notifier": "per_page", "aging": "reclaim"},
        "workload": {"kind": "zipf", "theta": 0.99, "think_ns": 100},
        "costs": {"spte_age_ns": 0.0, "mmu_lock_ns": 0.0},
    })).summary


@pytest.mark.parametrize("model", ["fast", "fine"])
def test_extra_write_acquisitions_never_shorten_the_zap_waits(model: str) -> None:
    """With ``aging_lock = write`` the eviction's pivot ``clear_young`` calls take mmu_lock
    for write too, on top of the same zaps (``kvm_unmap_gfn_range``, 300 ns each). Here those
    calls hold it for no time at all, so the vCPUs' wait for eviction per evicted page can only
    grow (each queued writer also blocks new readers, writer preference), never shrink: a
    step's acquisitions must reach the lock model with their own hold times, not an average
    that spreads the zaps' 300 ns thinly over a dozen empty calls."""
    lockless, locked = eviction_run("none", model), eviction_run("write", model)
    assert lockless["evictions"] > 1000 and locked["evictions"] > 1000
    assert locked["eviction_write_locks"] > 5 * lockless["eviction_write_locks"]
    assert locked["eviction_write_hold_ns"] == pytest.approx(
        lockless["eviction_write_hold_ns"] * locked["evictions"] / lockless["evictions"])
    per_page = [r["vcpu_lock_wait_eviction_ns"] / r["evictions"] for r in (lockless, locked)]
    assert per_page[0] > 0
    assert per_page[1] >= 0.95 * per_page[0], per_page


# --- the queued rwlock of the fine model -------------------------------------------------------

def granted(ev: simpy.Event) -> bool:
    return bool(ev.triggered)


def test_readers_share() -> None:
    lock = QueuedRwLock(simpy.Environment())
    a, b, c = (lock.acquire(READ, "fault") for _ in range(3))
    assert granted(a) and granted(b) and granted(c)
    assert lock.readers == 3 and lock.writer is None


def test_writer_excludes_readers_and_writers() -> None:
    lock = QueuedRwLock(simpy.Environment())
    w = lock.acquire(WRITE, "aging")
    r = lock.acquire(READ, "fault")
    w2 = lock.acquire(WRITE, "eviction")
    assert granted(w) and not granted(r) and not granted(w2)
    assert lock.blocker_kind(READ) == "aging"
    lock.release(WRITE)
    assert granted(r) and not granted(w2)  # FIFO: the reader queued first
    lock.release(READ)
    assert granted(w2) and lock.writer == "eviction"


def test_writer_preference_reader_queues_behind_waiting_writer() -> None:
    lock = QueuedRwLock(simpy.Environment())
    r1 = lock.acquire(READ, "fault")
    w = lock.acquire(WRITE, "aging")
    assert granted(r1) and not granted(w)  # the writer waits for the reader
    assert lock.blocker_kind(READ) == "aging"  # a new reader would wait for the writer
    r2 = lock.acquire(READ, "fault")
    assert not granted(r2)  # although only readers hold the lock
    lock.release(READ)
    assert granted(w) and not granted(r2)
    lock.release(WRITE)
    assert granted(r2)


def test_fifo_order_of_mixed_waiters() -> None:
    lock = QueuedRwLock(simpy.Environment())
    lock.acquire(WRITE, "aging")
    r1 = lock.acquire(READ, "fault")
    r2 = lock.acquire(READ, "fault")
    w = lock.acquire(WRITE, "eviction")
    r3 = lock.acquire(READ, "fault")
    lock.release(WRITE)
    assert granted(r1) and granted(r2)  # consecutive readers at the head enter together
    assert not granted(w) and not granted(r3)  # r3 stays behind the queued writer
    lock.release(READ)
    assert not granted(w)
    lock.release(READ)
    assert granted(w) and not granted(r3)
    lock.release(WRITE)
    assert granted(r3) and lock.readers == 1


def test_fine_step_measures_and_attributes_the_wait() -> None:
    env = simpy.Environment()
    model = FineLock(env, 2, np.random.default_rng(0))
    waits: dict[int, float] = {}
    by_kind: dict[str, float] = {}

    def actor(i: int, kind: str, mode: str, cpu: float, n: int, hold: float,
              bk: dict[str, float] | None) -> Any:
        waits[i] = yield from model.step(i, kind, mode, cpu, n, hold, bk)

    # aging holds the write lock for its whole 10 us step; a fault arrives inside it
    env.process(actor(0, "aging", WRITE, 10_000, 1, 10_000, None))
    env.process(actor(1, "fault", READ, 1_000, 1, 300, by_kind))
    env.run()
    assert waits[0] == 0
    assert 10_000 - 700 <= waits[1] <= 10_000  # it waited for the rest of the write hold
    assert by_kind == {"aging": waits[1]}
    assert env.now == pytest.approx(1_000 + waits[1], abs=1)


def test_fast_step_without_contention_does_not_wait() -> None:
    env = simpy.Environment()
    model = FastLock(env, 2)
    out: list[float] = []

    def actor() -> Any:
        out.append((yield from model.step(0, "fault", READ, 5_000, 10, 300)))
        out.append((yield from model.step(0, "aging", WRITE, 5_000, 10, 300)))

    env.process(actor())
    env.run()
    assert out == [0.0, 0.0] and env.now == 10_000

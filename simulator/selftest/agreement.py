"""The fast ``mmu_lock`` model against the fine one, in the calibration's own regime.

One point is the ``access_tracking_perf_test -p`` replica (back-to-back aging while every vCPU
faults in its memory, x86 TDP MMU, the default host) at ``vcpus`` × ``mib`` MiB with the fault's
read hold ``hold_ns``, simulated once with each model. Compared: the mean aging pass and the
vCPUs' total ``mmu_lock`` wait; a wait below ``FLOOR`` of the vCPUs' total wall time is compared
against that floor. ``tests/test_mmu_lock.py`` runs a few points, ``scripts/lock_agreement.py``
the grid (1-112 vCPUs × the hold's plausible range × write-locked and lockless aging).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from simulator.selftest.calibration import HOSTS, V4_HOST
from simulator.selftest.driver import AccessTracking, SelftestParams, selftest_scenario

FLOOR = 0.001
"""Waits below this fraction of the vCPUs' total wall time are compared against it."""


@dataclass(frozen=True, slots=True)
class Agreement:
    """Fine and fast results of one point, in ns, and their relative errors."""

    vcpus: int
    hold_ns: float
    lock: str
    mib: int
    fine_pass: float
    fast_pass: float
    fine_passes: int
    fast_passes: int
    fine_wait: float
    fast_wait: float
    vcpu_wall: float
    """The fine run's vCPU wall time summed over the vCPUs."""
    fine_page_ns: float
    """Aging time per page aged (notifier call), fine model."""
    fast_page_ns: float
    seconds: tuple[float, float]
    """Wall time of the fine and the fast run."""

    @property
    def pass_error(self) -> float:
        """Of the selftest's mean pass."""
        return self.fast_pass / self.fine_pass - 1.0

    @property
    def page_error(self) -> float:
        """Of the aging time per page aged (reported, not a target)."""
        return self.fast_page_ns / self.fine_page_ns - 1.0

    @property
    def wait_error(self) -> float:
        floor = FLOOR * self.vcpu_wall
        return (self.fast_wait - self.fine_wait) / max(self.fine_wait, floor)


def _run(vcpus: int, hold_ns: float, lock: str, mib: int, model: str,
         seed: int) -> tuple[float, int, float, float, float, float]:
    params = SelftestParams(vcpus=vcpus, bytes_per_vcpu=mib << 20, benchmark=True)
    sc = selftest_scenario(params, "x86_tdp", [
        *HOSTS[V4_HOST], f"vm.aging_lock={lock}", f"vm.quantum_accesses={max(1, mib)}",
        f"vm.lock_model={model}", f"costs.fault_lock_hold_ns={hold_ns}"], seed=seed)
    t0 = time.perf_counter()
    r = AccessTracking(sc, params).run()
    c = r.data.counters
    per_page = c.aging_cpu_ns / max(c.aging_work.notifier_calls, 1)
    return (float(r.aging_avg_ns or 0), int(r.aging_passes or 0), c.vcpu_lock_wait_ns,
            c.vcpu_wall_ns, per_page, time.perf_counter() - t0)


def agreement(vcpus: int, hold_ns: float, lock: str = "write", mib: int = 2,
              seed: int = 1) -> Agreement:
    """Simulate one point with both models."""
    fp, fn, fw, wall, fpp, ft = _run(vcpus, hold_ns, lock, mib, "fine", seed)
    sp, sn, sw, _, spp, st = _run(vcpus, hold_ns, lock, mib, "fast", seed)
    return Agreement(vcpus, hold_ns, lock, mib, fp, sp, fn, sn, fw, sw, wall, fpp, spp,
                     (ft, st))

"""The x86 TDP MMU fit: three staged one-parameter fits on simulated response curves, and the
leave-one-out check.

What the published runs identify (docs/calibration.md §2), and therefore all that is fitted:

1. ``fault_first_touch_ns``, the CPU time of a first-touch fault, on the eight "no aging" walls.
   The growth with vCPUs is not fitted: it is the shared lines' transfers and queueing
   (``simulator.kvm.lines``) on the host topology (:data:`~simulator.selftest.calibration.
   HOSTS`). ``fault_access_track_ns`` is closed form on the 2021 "after" row (the slowest
   vCPU's per-page time over its SMT co-run factor, minus the touch and the TLB miss); the 2021
   "before" row is a prediction.
2. One scale of the aging walk's per-page sum (``pte_scan_ns``, ``notifier_call_ns``,
   ``tdp_descend_ns``, ``tdp_young_ns`` in the ratio of their derivations, :data:`AGING`) on
   the eight lockless passes: every v4 call covered one page, so only the sum shows.
3. ``fault_lock_hold_ns``, the CPU time a fault holds ``mmu_lock`` for read, on the eight
   write-locked passes.

Each stage simulates every row at a few values of its parameter (the earlier stages' fitted
values fixed), interpolates each row's result in log-log, and takes the value that minimises
the mean squared log error. The curves make the leave-one-out check cheap: for each row, the
three stages are refitted without it and the row is read off its curves at the refitted values.
The curves of a later stage were simulated at the earlier stages' full-data values, so the
check neglects how a refitted earlier stage shifts a later stage's curves (first order in the
small refit changes).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from simulator.costs import CostConfig
from simulator.kvm.topology import Topology, place
from simulator.selftest.calibration import (
    GIB_PAGES,
    HOSTS,
    MATLACK_HOST,
    MATLACK_IDLE_WRITE,
    MATLACK_VCPUS,
    V4_TABLE,
    Run,
    overrides,
    simulate_all,
)

AGING = {"pte_scan_ns": 20.0, "notifier_call_ns": 70.0, "tdp_descend_ns": 25.0,
         "tdp_young_ns": 35.0}
"""Derived values (simulator.costs) of the per-page sum's parts, scaled together by stage 2;
starting from them, not from the committed defaults, makes the fit depend on the data only."""
FITTED = ("fault_first_touch_ns", "fault_access_track_ns", *AGING, "fault_lock_hold_ns")
STAGES = {
    "first_touch": ("off", "wall_no_aging", (2600.0, 3100.0, 3600.0, 4200.0)),
    "aging_scale": ("none", "pass_none", (0.6, 0.8, 1.0, 1.3, 1.7)),
    "lock_hold": ("write", "pass_write", (100.0, 160.0, 250.0, 400.0, 640.0)),
}
"""stage → (aging lock of its runs, the published column it fits, its parameter grid)."""


def _interp(grid: Sequence[float], ys: Sequence[float], x: float) -> float:
    """Piecewise log-log interpolation, extrapolated from the end segments."""
    lx, ly = np.log(np.asarray(grid)), np.log(np.asarray(ys))
    i = int(np.clip(np.searchsorted(lx, math.log(x)) - 1, 0, len(lx) - 2))
    slope = (ly[i + 1] - ly[i]) / (lx[i + 1] - lx[i])
    return float(math.exp(ly[i] + slope * (math.log(x) - lx[i])))


def _best(grid: Sequence[float], curves: dict[int, list[float]], published: dict[int, float],
          rows: Sequence[int]) -> float:
    """The parameter in ``[min(grid), max(grid)]`` minimising the mean squared log error."""
    xs = np.exp(np.linspace(math.log(grid[0]), math.log(grid[-1]), 400))
    errs = [sum(math.log(_interp(grid, curves[v], x) / published[v]) ** 2 for v in rows)
            for x in xs]
    return float(xs[int(np.argmin(errs))])


@dataclass
class Fit:
    """A fit on one host: its constants and the response curves behind them."""

    host: str
    mib: int
    constants: dict[str, float] = field(default_factory=dict)
    params: dict[str, float] = field(default_factory=dict)
    """Each stage's fitted parameter (the aging stage's is the scale of :data:`AGING`)."""
    curves: dict[str, dict[int, list[float]]] = field(default_factory=dict)

    def published(self, stage: str) -> dict[int, float]:
        column = STAGES[stage][1]
        return {r.vcpus: getattr(r, column) for r in V4_TABLE}

    def refit(self, stage: str, rows: Sequence[int]) -> float:
        return _best(STAGES[stage][2], self.curves[stage], self.published(stage), rows)

    def predict(self, stage: str, vcpus: int, value: float) -> float:
        return _interp(STAGES[stage][2], self.curves[stage][vcpus], value)

    def loo(self) -> dict[tuple[int, str], tuple[float, float]]:
        """(vCPUs, variant) → (prediction with all rows, prediction without that row)."""
        out = {}
        every = [r.vcpus for r in V4_TABLE]
        for stage, (variant, _, _) in STAGES.items():
            for v in every:
                others = [u for u in every if u != v]
                out[(v, variant)] = (self.predict(stage, v, self.params[stage]),
                                     self.predict(stage, v, self.refit(stage, others)))
        return out


def aging_costs(scale: float) -> dict[str, float]:
    return {k: round(v * scale, 1) for k, v in AGING.items()}


def access_track_ns(costs: CostConfig) -> float:
    """``fault_access_track_ns`` from the 2021 "after" row: a vCPU's time per page
    (``Writing to idle memory`` / 262,144) is ``stretch × (access + TLB miss + fault)``, the
    stretch being the SMT sharing of 64 busy vCPUs on the 2021 host."""
    sets = dict(s.split("=") for s in HOSTS[MATLACK_HOST])
    topo = Topology(int(sets["host.sockets"]), int(sets["host.cores_per_socket"]),
                    int(sets["host.smt"]), int(sets["host.cores_per_llc"]))
    stretch = place(topo, MATLACK_VCPUS).stretch(MATLACK_VCPUS, costs)
    per_page = MATLACK_IDLE_WRITE["none"] * 1e9 / GIB_PAGES
    return round(per_page / stretch - costs.access_ns - costs.tlb_miss_ns, 1)


def fit(host: str, mib: int = 256, jobs: int = 1,
        log: Callable[[str], None] = print) -> Fit:
    """The three stages on host ``host`` at ``-b mib`` (results scaled to 1 GiB)."""
    result = Fit(host, mib)
    result.constants["fault_access_track_ns"] = access_track_ns(CostConfig())
    fixed: dict[str, float] = {}
    vcpus = [r.vcpus for r in V4_TABLE]
    for stage, (lock, _, grid) in STAGES.items():
        log(f"stage {stage}: {len(grid)} values x {len(vcpus)} rows ({lock} runs)")
        runs = []
        for value in grid:
            costs = {**fixed, **_stage_costs(stage, value)}
            sets = (*HOSTS[host], *overrides(costs))
            runs += [Run("p", v, lock, mib, sets) for v in vcpus]
        outs = simulate_all(runs, jobs)
        curves: dict[int, list[float]] = {v: [] for v in vcpus}
        for o in outs:
            sim = o.vcpu_wall if lock == "off" else o.aging_pass
            assert sim is not None
            curves[o.run.vcpus].append(sim)
        result.curves[stage] = curves
        best = result.refit(stage, vcpus)
        result.params[stage] = best
        fixed.update(_stage_costs(stage, best))
        log(f"  {stage} = {best:.4g}: " + ", ".join(
            f"{v}:{result.predict(stage, v, best) / result.published(stage)[v]:.2f}"
            for v in vcpus))
    result.constants.update(fixed)
    return result


def _stage_costs(stage: str, value: float) -> dict[str, float]:
    if stage == "first_touch":
        return {"fault_first_touch_ns": round(value)}
    if stage == "aging_scale":
        return aging_costs(value)
    return {"fault_lock_hold_ns": round(value)}

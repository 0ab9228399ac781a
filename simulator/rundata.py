"""What one run produced, in memory: the model fills it, the output layer writes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulator.config import Scenario
from simulator.metrics import Counters
from simulator.truth import GroundTruth


@dataclass(slots=True)
class RunData:
    """Everything a run produced, in memory; the runner turns it into files."""

    scenario: Scenario
    run_id: str
    counters: Counters
    truth: GroundTruth
    passes: list[dict[str, Any]] = field(default_factory=list)
    timeseries: list[dict[str, Any]] = field(default_factory=list)
    lru_gen: list[str] = field(default_factory=list)
    sim_time_ns: int = 0
    mmu_lock_write_hold_ns: float | None = None
    backend: str | None = None
    aging_lock: str | None = None
    young_via_fault: bool = False
    vm_counters: dict[str, Counters] = field(default_factory=dict)

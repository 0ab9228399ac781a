"""Soak: a 1M-page guest aged back to back for hundreds of passes under memory pressure uses
no more memory at the end than in the middle (nothing grows with simulated time except the
recorded rows, which are budgeted for explicitly)."""

import tracemalloc
from collections.abc import Generator
from typing import Any

import simpy

from simulator.config import scenario_from_dict
from simulator.machine import Machine

ROW_BUDGET = 4096
"""Bytes allowed per recorded row (timeseries sample or aging pass): a dict of ~25 numbers."""


def test_memory_does_not_grow_with_simulated_time() -> None:
    sc = scenario_from_dict({
        "sim": {"duration_ms": 1200, "seed": 9, "sample_interval_ms": 10},
        "vm": {"memory": "4GiB", "vcpus": 2, "quantum_accesses": 4096},
        "host": {"memory": "1GiB"},
        "workload": {"kind": "uniform", "think_ns": 400},
        "mglru": {"aging": "back_to_back"},
    })
    tracemalloc.start()
    m = Machine(sc)
    marks: list[tuple[int, int, int]] = []

    def probe() -> Generator[simpy.Event, Any, None]:
        for t_ms in (400, 800, 1199):
            yield m.env.timeout(t_ms * 1_000_000 - m.now())
            rows = len(m.data.timeseries) + len(m.data.passes)
            marks.append((tracemalloc.get_traced_memory()[0], rows, m.host.counters.aging_passes))

    m.env.process(probe())
    m.run()
    tracemalloc.stop()
    assert m.host.pt.nr_pages == 1 << 20
    (mid, rows_mid, passes_mid), _, (end, rows_end, passes_end) = marks
    assert passes_end - passes_mid >= 10  # many aging passes happened in the window
    assert m.host.counters.evictions > 0
    budget = (rows_end - rows_mid) * ROW_BUDGET + 2 * 2**20
    assert end - mid <= budget, f"grew {end - mid} bytes over {passes_end - passes_mid} passes"

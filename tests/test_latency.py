"""Fault latency percentiles: the log histogram against numpy on known samples, and the
summary columns a run reports."""

import numpy as np
import pytest

from simulator.config import scenario_from_dict
from simulator.metrics import LatencyHistogram
from simulator.runner import simulate


@pytest.mark.parametrize("q", [50, 90, 99])
def test_percentiles_within_the_bin_resolution(q: int) -> None:
    rng = np.random.default_rng(3)
    values = rng.lognormal(mean=9.0, sigma=1.5, size=20_000)
    h = LatencyHistogram()
    for part in np.array_split(values, 7):
        h.add(part)
    exact = float(np.percentile(values, q))
    assert h.percentile(q) == pytest.approx(exact, rel=0.05)
    assert h.maximum == pytest.approx(values.max())
    assert h.total == len(values)


def test_empty_histogram_has_no_percentiles() -> None:
    assert LatencyHistogram().percentile(50) is None


def test_a_run_reports_fault_latency_percentiles() -> None:
    row = simulate(scenario_from_dict({
        "sim": {"duration_ms": 80}, "vm": {"memory": "32MiB", "vcpus": 2},
        "host": {"memory": "24MiB"}})).summary
    p50, p99, mx = row["fault_latency_p50_ns"], row["fault_latency_p99_ns"], \
        row["fault_latency_max_ns"]
    cost = 1000.0  # any fault costs at least a microsecond in the cost model
    assert cost < p50 <= p99 <= mx * 1.05

"""The resource guard: the memory estimate tracks what a run really allocates, and a scenario
that does not fit is refused with the estimate and the limit, before anything is allocated."""

import tracemalloc
from typing import Any

import pytest

from simulator.config import scenario_from_dict
from simulator.machine import Machine
from simulator.resources import BASE_BYTES, ResourceError, check, estimate


@pytest.mark.parametrize("doc", [
    {"vm": {"memory": "256MiB", "vcpus": 2}, "host": {"memory": "256MiB"}},
    {"vm": {"memory": "128MiB", "vcpus": 1}, "host": {"memory": "64MiB"},
     "task": {"memory": "64MiB"}, "vms": {"b": {"memory": "64MiB", "vcpus": 1}}},
    {"vm": {"enabled": False}, "task": {"memory": "256MiB", "workload": {"kind": "uniform"}},
     "host": {"memory": "128MiB"}},
])
def test_estimate_tracks_traced_allocations(doc: dict[str, Any]) -> None:
    doc = {**doc, "sim": {"duration_ms": 5}}
    sc = scenario_from_dict(doc)
    # load (or compile) the run's numba kernels first: code is not what the estimate counts
    Machine(scenario_from_dict({**doc, "sim": {"duration_ms": 0.01}})).run()
    tracemalloc.start()
    Machine(sc).run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    model = estimate(sc).bytes - BASE_BYTES
    assert 0.8 * peak <= model <= 1.3 * peak


def test_refuses_with_estimate_and_limit() -> None:
    sc = scenario_from_dict({"vm": {"memory": "64GiB"}, "host": {"memory": "64GiB"}})
    with pytest.raises(ResourceError) as info:
        check(sc, "1GiB")
    msg = str(info.value)
    assert "GiB" in msg and "--max-memory" in msg and "1.00 GiB" in msg
    assert "\n" not in msg


def test_parallel_copies_count() -> None:
    sc = scenario_from_dict({"vm": {"memory": "1GiB"}, "host": {"memory": "1GiB"}})
    one = estimate(sc).bytes
    check(sc, one + 1)
    with pytest.raises(ResourceError, match="× 2 parallel runs"):
        check(sc, one + 1, copies=2)


def test_cli_refuses_before_allocating(capsys: pytest.CaptureFixture[str]) -> None:
    from simulator.cli import main
    rc = main(["run", "scenarios/default.toml", "--max-memory", "100M", "--no-report",
               "--out", "/nonexistent-should-not-be-created"])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs about" in err

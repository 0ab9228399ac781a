"""Runs scenarios: one simulation in this process, and one run written to its folder.

What a run produced becomes tables and files in :mod:`simulator.output` (DESIGN §4: model code
never touches files); sweeps (:mod:`simulator.sweep`) run many of these in parallel.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from simulator.config import Scenario
from simulator.machine import Machine
from simulator.output.run_folder import Finish, RunResult, run_folder, run_result, write_run
from simulator.provenance import Provenance, with_provenance


def simulate(sc: Scenario, progress: Callable[[int], None] | None = None) -> RunResult:
    """Run one scenario in this process and build its tables (no file I/O).

    ``progress`` is called with the simulated time reached (ns) as the run goes; it does not
    change the results.
    """
    t0 = time.perf_counter()
    data = Machine(sc).run(progress)
    return run_result(data, time.perf_counter() - t0)


def run_one(sc: Scenario, out: Path, provenance: Provenance | None = None,
            progress: Callable[[int], None] | None = None,
            finish: Finish | None = None) -> tuple[RunResult, Path]:
    """Simulate ``sc`` and write its run folder under ``out`` (``config.toml`` ends with
    ``provenance``'s table if given; ``finish`` adds files to the folder before it is
    complete: the figures and the report)."""
    result = with_provenance(simulate(sc, progress), provenance)
    folder = write_run(result, run_folder(out, sc, result.summary), finish=finish)
    return result, folder


__all__ = ["run_one", "simulate"]

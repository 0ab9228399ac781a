"""One run of a sweep, wherever it executes: the task a worker gets and what it sends back.

Each run's id is :func:`simulator.config.run_id_of` of its effective scenario. Wherever a run
executes, its folder is written atomically (:func:`simulator.output.run_folder.write_run`); on a
cluster without a shared results folder the worker sends the result back and the driver writes
the folder. A failing run becomes an outcome with an error and never stops the sweep.
"""

from __future__ import annotations

import functools
import hashlib
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import simulator
from simulator.config import Scenario
from simulator.output.run_folder import RunResult, write_run
from simulator.provenance import Provenance, with_provenance
from simulator.runner import simulate


@functools.cache
def code_fingerprint() -> str:
    """A hash of this installation's model sources (``simulator`` and ``workloads``).

    Run ids depend on the configuration only, so a worker with other code would file different
    numbers under the same id; each task carries the driver's fingerprint to catch that.
    """
    import workloads

    h = hashlib.sha256()
    for pkg in (Path(simulator.__file__).parent, Path(workloads.__file__).parent):
        for path in sorted(pkg.rglob("*.py")):
            h.update(path.relative_to(pkg.parent).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class RunTask:
    """What a worker needs for one run. ``folder`` None: send the result back instead."""

    run_index: int
    run_id: str
    scenario: Scenario
    folder: str | None
    fingerprint: str
    provenance: Provenance | None = None
    """What the run's ``config.toml`` records about how it was made (None: nothing)."""


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What a worker sends back: the summary, or the error of a failed run."""

    run_index: int
    run_id: str
    summary: dict[str, Any] | None
    error: str | None = None
    traceback: str | None = None
    result: RunResult | None = None


def failed(task: RunTask | RunOutcome, error: str, trace: str) -> RunOutcome:
    """The outcome of a run that did not finish: ``error`` on one line, and its traceback."""
    return RunOutcome(task.run_index, task.run_id, None, error=" ".join(error.split()),
                      traceback=trace)


def execute_run(task: RunTask) -> RunOutcome:
    """Simulate one run and write its folder (or return it); never raises for a run's error."""
    try:
        if task.fingerprint != code_fingerprint():
            raise RuntimeError(f"this worker's mglru-sim code ({code_fingerprint()}) differs "
                               f"from the driver's ({task.fingerprint}); install the same "
                               "version everywhere")
        result = with_provenance(simulate(task.scenario), task.provenance)
        if result.summary["run_id"] != task.run_id:
            raise RuntimeError(f"run id {result.summary['run_id']} != expected {task.run_id}")
        if task.folder is None:
            return RunOutcome(task.run_index, task.run_id, result.summary, result=result)
        write_run(result, Path(task.folder))
        return RunOutcome(task.run_index, task.run_id, result.summary)
    except Exception as e:  # a failed run is data, not the end of the sweep
        return failed(task, f"{type(e).__name__}: {e}", traceback.format_exc())


__all__ = ["RunOutcome", "RunTask", "code_fingerprint", "execute_run", "failed"]

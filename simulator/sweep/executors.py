"""Where the runs of a sweep execute: in this process, in a local process pool, or on Dask.

An executor takes the tasks and yields each run's outcome as it finishes, in any order
(``dask.distributed``: a ``LocalCluster`` of ``--jobs`` workers, or an existing scheduler).
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from typing import Any, Literal

from simulator.config import ConfigError
from simulator.sweep.tasks import RunOutcome, RunTask, execute_run, failed
from simulator.workers import worker_pool

Engine = Literal["local", "dask"]
ENGINES: tuple[Engine, ...] = ("local", "dask")

Outcomes = Generator[RunOutcome, None, None]
Executor = Callable[[Sequence[RunTask]], Outcomes]


def _run_in_process(tasks: Sequence[RunTask]) -> Outcomes:
    for task in tasks:
        yield execute_run(task)


def local_executor(jobs: int) -> Executor:
    """Runs in this process (``jobs == 1``) or in a pool of ``jobs`` local processes that die
    with this one (:func:`simulator.workers.worker_pool`): an interruption kills them."""
    if jobs == 1:
        return _run_in_process

    def run(tasks: Sequence[RunTask]) -> Outcomes:
        if not tasks:
            return
        with worker_pool(min(jobs, len(tasks))) as pool:
            pending = {pool.submit(execute_run, t): t for t in tasks}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=lambda f: pending[f].run_index):
                    yield _outcome_of(fut, pending.pop(fut))

    return run


def _outcome_of(fut: Any, task: RunTask) -> RunOutcome:
    """The outcome of a finished future, also when the worker itself died."""
    try:
        outcome = fut.result()
    except Exception as e:
        return failed(task, f"worker lost: {type(e).__name__}: {e}",
                      "".join(traceback.format_exception(e)))
    assert isinstance(outcome, RunOutcome)
    return outcome


def dask_executor(jobs: int, address: str | None = None) -> Executor:
    """Runs on Dask: the scheduler at ``address``, or a new ``LocalCluster`` of ``jobs`` workers.

    Raises:
        ConfigError: dask.distributed is not installed, or the scheduler cannot be reached.
    """
    try:
        import distributed
    except ImportError:
        raise ConfigError("--engine dask", "",
                          "needs dask.distributed: pip install 'mglru-sim[dask]'") from None

    def run(tasks: Sequence[RunTask]) -> Outcomes:
        if not tasks:
            return
        with _dask_client(distributed, jobs, address) as client:
            futures = client.map(execute_run, list(tasks), pure=False)
            by_key = {f.key: t for f, t in zip(futures, tasks, strict=True)}
            try:
                # distributed ships no annotations for as_completed
                for fut in distributed.as_completed(futures):  # type: ignore[no-untyped-call]
                    yield _outcome_of(fut, by_key[fut.key])
            finally:
                client.cancel(futures)

    return run


@contextlib.contextmanager
def _dask_client(distributed: Any, jobs: int, address: str | None) -> Iterator[Any]:
    """A ``distributed.Client`` (on a new ``LocalCluster`` if no address), closed on exit."""
    if address is None:
        # One single-threaded process per worker: the model is pure Python and holds the GIL.
        with distributed.LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client:
            yield client
        return
    try:
        client = distributed.Client(address, timeout="20s")
    except (OSError, TimeoutError) as e:
        raise ConfigError("--address", "",
                          f"cannot reach the Dask scheduler at {address}: {e}") from None
    with client:
        if not client.scheduler_info().get("workers"):
            # Otherwise the sweep waits silently until a `dask worker` joins.
            print(f"mglru-sim: the Dask scheduler at {address} has no workers yet; waiting for "
                  "`dask worker` processes to join", file=sys.stderr)
        yield client


def make_executor(engine: Engine, jobs: int, address: str | None = None) -> Executor:
    """The executor for ``--engine``/``--jobs``/``--address``.

    Raises:
        ConfigError: ``jobs`` < 1, an unknown engine, or an address without ``engine="dask"``.
    """
    if jobs < 1:
        raise ConfigError("--jobs", "", f"must be at least 1, got {jobs}")
    if engine == "dask":
        return dask_executor(jobs, address)
    if engine != "local":
        raise ConfigError("--engine", "", f"expected local or dask, got {engine!r}")
    if address is not None:
        raise ConfigError("--address", "", "needs --engine dask")
    return local_executor(jobs)


__all__ = ["ENGINES", "Engine", "Executor", "Outcomes", "dask_executor", "local_executor",
           "make_executor"]

"""Worker processes that never outlive the command that started them.

Every process pool of the simulator (sweep runs, mrc replays, bench cases) comes from
:func:`worker_pool`. Its workers

- are ``spawn``\\ ed children of the command itself (no fork server or other intermediary that
  could be left behind), each with :func:`die_with_parent` as initializer: ``PR_SET_PDEATHSIG``
  (``prctl`` through ctypes, Linux) makes the kernel kill a worker the moment its parent dies,
  by whatever signal, SIGKILL included; elsewhere a watch thread notices the parent is gone
  (the worker is re-parented) and exits;
- ignore SIGINT: a Ctrl-C reaches the whole process group, and it is the command that decides
  what to do (stop dispatching, kill the workers, keep what finished);
- are killed, not waited for, when the block that owns the pool ends with an exception
  (KeyboardInterrupt, SIGTERM as :class:`simulator.signals.Terminated`, a crash): a queued or
  running run is abandoned, never finished behind the user's back.

When every worker is gone, multiprocessing's resource tracker (which the workers share with the
command) sees its last client close and exits too: nothing of the command's process tree is left.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

PR_SET_PDEATHSIG = 1
"""``prctl`` option: the signal the kernel sends this process when its parent dies."""

WATCH_INTERVAL_S = 0.5
"""How often the watch thread checks that the parent is still there."""


def _pdeathsig(sig: int) -> bool:
    """``prctl(PR_SET_PDEATHSIG, sig)``; False where it is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int) -> None:
    while True:
        time.sleep(WATCH_INTERVAL_S)
        if os.getppid() != parent:
            os._exit(1)


def die_with_parent(parent: int) -> None:
    """Initializer of a pool worker: die with ``parent`` (the command), ignore SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not _pdeathsig(signal.SIGKILL):
        threading.Thread(target=_watch, args=(parent,), daemon=True,
                         name="mglru-sim parent watch").start()
    if os.getppid() != parent:  # the parent died before the prctl took effect
        os._exit(1)


class _QuietSpawnProcess(multiprocessing.context.SpawnProcess):
    """A spawned process started with SIGINT ignored, which it inherits across ``exec``: the
    new interpreter then installs no KeyboardInterrupt handler, so a Ctrl-C that reaches the
    process group while the worker is still starting up (importing) cannot print a
    traceback. (From another thread, where Python cannot change signal handlers, the worker
    relies on :func:`die_with_parent` alone.)"""

    def start(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            super().start()
            return
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            super().start()
        finally:
            signal.signal(signal.SIGINT, old)


class _QuietSpawnContext(multiprocessing.context.SpawnContext):
    Process = _QuietSpawnProcess


def kill_workers(pool: ProcessPoolExecutor) -> None:
    """SIGKILL every worker of ``pool`` now (their runs are abandoned)."""
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.kill()


@contextlib.contextmanager
def worker_pool(jobs: int, *, max_tasks_per_child: int | None = None,
                ) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``jobs`` spawned workers that die with this process (see the module doc).

    Leaving the block normally waits for the submitted work; leaving it by an exception
    kills the workers first.
    """
    pool = ProcessPoolExecutor(max_workers=max(1, jobs),
                               mp_context=_QuietSpawnContext(),
                               initializer=die_with_parent, initargs=(os.getpid(),),
                               max_tasks_per_child=max_tasks_per_child)
    try:
        yield pool
    except BaseException:
        kill_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


__all__ = ["PR_SET_PDEATHSIG", "die_with_parent", "kill_workers", "worker_pool"]

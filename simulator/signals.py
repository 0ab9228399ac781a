"""SIGTERM handled like Ctrl-C: every command cleans up the same way for both.

Python turns SIGINT into KeyboardInterrupt; SIGTERM kills the process outright, skipping every
``finally`` (temporaries stay, workers are orphaned, no table is written). While
:func:`terminate_as_interrupt` is active, SIGTERM raises :class:`Terminated`, a
KeyboardInterrupt, so each cleanup written for Ctrl-C runs for it too, and the command exits
with 143 (128 + SIGTERM) instead of 130.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like KeyboardInterrupt."""

    exit_code = 128 + signal.SIGTERM


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """The exit status of a command stopped by ``interrupt``: 143 for SIGTERM, 130 for Ctrl-C."""
    return int(getattr(interrupt, "exit_code", 128 + signal.SIGINT))


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` in the main thread while the block runs (no effect
    when called from another thread, where Python cannot set signal handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


__all__ = ["Terminated", "exit_code", "terminate_as_interrupt"]

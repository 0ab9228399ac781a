"""Advisory locks (``fcntl.flock``) that say who is writing what.

- :func:`exclusive`: hold a folder's lock for the few system calls that replace one of its
  entries (check, rename aside, rename into place): two writers of one run id take turns
  instead of racing;
- :func:`claim`: a temporary file or folder is locked by its writer for as long as it is being
  written, so a cleaner can tell a live temporary from the leftover of a killed process
  (:func:`is_claimed`); the kernel drops the lock when the writer dies, whatever killed it.

A file system without ``flock`` (some network mounts) gets no locking: the writers still work,
one at a time as before.

A leaf module: it imports nothing of the simulator.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def exclusive(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s lock (waiting for it) while the block runs."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # no flock on this file system
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def claim(path: Path) -> int:
    """Lock ``path`` (a new temporary file or folder) for this writer; returns the
    descriptor to pass to :func:`release` when the temporary is gone or renamed."""
    fd = os.open(path, os.O_RDONLY)
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def release(fd: int) -> None:
    """Drop a :func:`claim`."""
    with contextlib.suppress(OSError):
        os.close(fd)


def is_claimed(path: Path) -> bool:
    """Whether a live writer holds ``path``'s claim (False when nobody does, or when the file
    system has no flock)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False


__all__ = ["claim", "exclusive", "is_claimed", "release"]

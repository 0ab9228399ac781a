"""Errors of writing output: one line naming the path and the reason, and an exit code.

Every failure to write an output (a folder that cannot be created, ``--out`` on a file, a
read-only file system, ``/proc``, a full disk) becomes an :class:`OutputError`, which the CLI
prints as one line and turns into its exit code: 2 (the output location is bad input), or 1 when
the disk filled up while writing (the location was fine, the machine ran out of space). The
atomic writers (:mod:`.atomic`) raise it themselves, after removing their temporary files, so a
command that writes through them leaves nothing half-written behind.

It imports nothing of the simulator but the leaf :mod:`simulator.params` (how an error line is
made one line).
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator

from simulator.params import one_line

FULL_DISK = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
"""Errors of a write that ran out of room (disk, quota, file size limit): exit code 1."""


class OutputError(OSError):
    """An output could not be written. ``str()`` is ``PATH: reason``; ``exit_code`` is 1 for
    a disk that filled up while writing, 2 for a location that cannot be written at all."""

    def __init__(self, path: str | os.PathLike[str], reason: str, exit_code: int = 2,
                 error: int | None = None) -> None:
        super().__init__(error or 0, reason)
        self.path = str(path)
        self.reason = reason
        self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"

    def moved(self, old: str, new: str) -> OutputError:
        """The same error for a path below ``old`` renamed below ``new``."""
        if not (self.path == old or self.path.startswith(old + os.sep)):
            return self
        return OutputError(new + self.path[len(old):], self.reason, self.exit_code, self.errno)

    def __reduce__(self) -> tuple[object, ...]:  # pickled from workers to the driver
        return (type(self), (self.path, self.reason, self.exit_code, self.errno))


def output_error(path: str | os.PathLike[str], e: OSError) -> OutputError:
    """The :class:`OutputError` for an OSError raised while writing ``path``."""
    if isinstance(e, OutputError):
        return e
    reason = e.strerror or str(e) or type(e).__name__
    return OutputError(printable(path), f"cannot write: {reason}",
                       exit_code=1 if e.errno in FULL_DISK else 2, error=e.errno)


def printable(path: str | os.PathLike[str]) -> str:
    """A path as text for one error line: control characters (a NUL, a newline) escaped."""
    return one_line(os.fspath(path), limit=4096)


def check_path(path: str | os.PathLike[str]) -> None:
    """OutputError for a path no system call takes (empty, or with a NUL byte)."""
    text = os.fspath(path)
    if not text or "\0" in text:
        raise OutputError(printable(text) or "''", "not a usable path (empty, or a NUL byte)")


@contextlib.contextmanager
def writing(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn an OSError raised in the block into an :class:`OutputError` naming ``path``
    (checked first with :func:`check_path`)."""
    check_path(path)
    try:
        yield
    except OSError as e:
        raise output_error(path, e) from None


__all__ = ["FULL_DISK", "OutputError", "check_path", "output_error", "printable", "writing"]

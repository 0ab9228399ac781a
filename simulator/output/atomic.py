"""Writing files so that a reader, a crash or Ctrl-C never sees half of one.

:func:`atomic_write` is the one way the simulator writes a file: the data goes to a temporary
file in the target's directory (same file system, so the final rename is atomic), is flushed to
disk (``fsync``), and is renamed over the target; the directory is then fsynced so the rename
itself survives a crash. On any error, KeyboardInterrupt included, the temporary file is
removed and the old target, if any, is left as it was.

:func:`atomic_folder` does the same for a whole folder (a run folder): it is built under a
temporary name beside the target and renamed into place once, complete.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

Writer = Callable[[Path], object]
"""Writes the whole file at the path it is given (a temporary one); for data too large to hold
in memory, or for writers that want a path (``DataFrame.to_csv``, ``numpy`` memmaps)."""

_UNSUPPORTED = (errno.EINVAL, errno.ENOTSUP, errno.EBADF)
"""Errors of ``fsync`` on a directory from file systems that cannot sync one: nothing to do."""


def atomic_write(path: str | Path, data: bytes | str | Writer, *,
                 encoding: str = "utf-8") -> Path:
    """Write ``data`` (bytes, text, or a writer callback) to ``path`` atomically.

    Missing parent folders are created. A file that replaces another keeps the other's
    permissions; a new one gets the usual ``0666`` minus the umask. Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temporary(path)
    try:
        if callable(data):
            os.close(fd)
            fd = -1
            data(tmp)
            _fsync_path(tmp)
        else:
            with os.fdopen(fd, "wb") as f:
                fd = -1  # closed by the with block from here on
                f.write(data.encode(encoding) if isinstance(data, str) else data)
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    return path


@contextlib.contextmanager
def atomic_folder(folder: str | Path) -> Iterator[Path]:
    """Build ``folder`` under a temporary name beside it; rename it into place at the end.

    Yields the temporary folder to fill. When the block ends normally, an existing ``folder``
    is replaced by the new one; when it raises (KeyboardInterrupt included), the temporary
    folder is removed and an existing ``folder`` is left as it was.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        yield staging
        _fsync_directory(staging)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _fsync_directory(folder.parent)


def _create_temporary(path: Path) -> tuple[int, Path]:
    """A new, empty, uniquely named file beside ``path``: ``(descriptor, name)``."""
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = None
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            # 0666 through the umask, as open() would create it (mkstemp makes 0600)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        if mode is not None:
            os.fchmod(fd, mode)
        return fd, tmp


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(folder: Path) -> None:
    """Make a rename (or a new entry) in ``folder`` durable."""
    try:
        _fsync_path(folder)
    except OSError as e:
        if e.errno not in _UNSUPPORTED:
            raise


__all__ = ["Writer", "atomic_folder", "atomic_write"]

"""Writing files so that a reader, a crash or Ctrl-C never sees half of one.

:func:`atomic_write` is the one way the simulator writes a file: the data goes to a temporary
file in the target's directory (same file system, so the final rename is atomic), is flushed to
disk (``fsync``), and is renamed over the target; the directory is then fsynced so the rename
itself survives a crash. On any error, KeyboardInterrupt included, the temporary file is
removed and the old target, if any, is left as it was; an OSError becomes an
:class:`~simulator.output.errors.OutputError` naming the target (exit code 1 if the disk filled).

:func:`atomic_folder` does the same for a whole folder (a run folder): it is built under a
temporary name beside the target and renamed into place once, complete. Replacing an existing
folder happens under the parent folder's lock (:func:`simulator.output.locks.exclusive`), so two
writers of one folder take turns; ``replaceable`` may refuse to replace it (a folder holding
files the writer did not make).

Every temporary is claimed (locked) by its writer while it exists, and both writers first remove
the stale temporaries a killed process left in the folder they write to
(:func:`simulator.output.stale.remove_stale`).
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

from simulator.output.errors import OutputError, printable, writing
from simulator.output.locks import claim, exclusive, release
from simulator.output.stale import TEMP_SUFFIX, remove_stale

Writer = Callable[[Path], object]
"""Writes the whole file at the path it is given (a temporary one); for data too large to hold
in memory, or for writers that want a path (``DataFrame.to_csv``, ``numpy`` memmaps)."""

_UNSUPPORTED = (errno.EINVAL, errno.ENOTSUP, errno.EBADF)
"""Errors of ``fsync`` on a directory from file systems that cannot sync one: nothing to do."""


def atomic_write(path: str | Path, data: bytes | str | Writer, *,
                 encoding: str = "utf-8") -> Path:
    """Write ``data`` (bytes, text, or a writer callback) to ``path`` atomically.

    Missing parent folders are created. A file that replaces another keeps the other's
    permissions; a new one gets the usual ``0666`` minus the umask. Returns ``path``. Raises
    OutputError if it cannot be written.
    """
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(path.parent)
        fd, tmp = _create_temporary(path)
        lock = claim(tmp)
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
        finally:
            release(lock)
        _fsync_directory(path.parent)
    return path


@contextlib.contextmanager
def atomic_folder(folder: str | Path,
                  replaceable: Callable[[Path], None] | None = None) -> Iterator[Path]:
    """Build ``folder`` under a temporary name beside it; rename it into place at the end.

    Yields the temporary folder to fill. When the block ends normally, an existing ``folder``
    is replaced by the new one (``replaceable(folder)`` is called first, under the lock, and
    may raise to keep it); when it raises (KeyboardInterrupt included), the temporary folder is
    removed and an existing ``folder`` is left as it was. Raises OutputError if the folder
    cannot be written.
    """
    folder = Path(folder)
    with writing(folder):
        folder.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(folder.parent)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=TEMP_SUFFIX,
                                        dir=folder.parent))
    lock = claim(staging)
    try:
        with writing(folder):  # also what the block raises: the folder was being written
            yield staging
            _fsync_directory(staging)
            with exclusive(folder.parent):
                _replace_folder(staging, folder, replaceable)
            _fsync_directory(folder.parent)
    except OutputError as e:  # name the file of the folder, not of its temporary twin
        shutil.rmtree(staging, ignore_errors=True)
        raise e.moved(str(staging), str(folder)) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        release(lock)


def _replace_folder(staging: Path, folder: Path,
                    replaceable: Callable[[Path], None] | None) -> None:
    """Rename ``staging`` to ``folder``; an existing ``folder`` is first renamed aside (and
    removed after), so that ``folder`` is never missing while a reader looks."""
    if not os.path.lexists(folder):
        os.rename(staging, folder)
        return
    if folder.is_symlink() or not folder.is_dir():
        raise OutputError(printable(folder), "exists and is not a folder; nothing was replaced")
    if replaceable is not None:
        replaceable(folder)
    old = folder.with_name(f".{folder.name}.{secrets.token_hex(4)}.old{TEMP_SUFFIX}")
    os.rename(folder, old)
    try:
        os.rename(staging, folder)
    except BaseException:
        os.rename(old, folder)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _create_temporary(path: Path) -> tuple[int, Path]:
    """A new, empty, uniquely named file beside ``path``: ``(descriptor, name)``."""
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = None
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
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

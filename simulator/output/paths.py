"""Where outputs go: one rule for every folder a command creates under its output root.

A run folder is always ``OUT/<name>/<run id>``, a sweep's table ``OUT/<name>/sweep.csv``: the
parts below ``OUT`` come from the scenario (its ``name``) or are computed (run ids), never from a
path the user typed, so each must be a *safe name* (:func:`name_problem`): letters, digits,
``_``, ``-`` and ``.``, at most :data:`NAME_MAX` characters, not starting with ``.`` or ``-``. A
name like ``/etc``, ``../x``, ``a\\0b`` or 300 characters is refused (a ConfigError of the
scenario's ``name`` key, also by ``validate``). :func:`folder_under` then joins the parts and
checks that the folder stays under ``OUT`` once resolved, and that nothing on the way below
``OUT`` is a symbolic link or a file (``OUT`` itself may be a link: users keep results on other
disks). :func:`probe` tries the location before any work is done, leaving nothing behind.

It imports nothing of the simulator but :mod:`.errors`.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from pathlib import Path

from simulator.output.errors import OutputError, check_path, printable, writing

NAME_MAX = 64
"""The longest name of a folder under the output root."""

_SAFE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_UNSAFE_CHAR = re.compile(r"[^A-Za-z0-9._-]")


NAME_RULE = (f"letters, digits, '_', '-' and '.', at most {NAME_MAX} characters, not starting "
             "with '.' or '-'")


def shown_name(name: object) -> str:
    """A name as an error line shows it: quoted, control characters escaped, cut short."""
    text = printable(name) if isinstance(name, str) else repr(name)
    return "'" + (text if len(text) <= 40 else text[:40] + "...") + "'"


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a folder under the output root, or None if it can."""
    if isinstance(name, str) and len(name) <= NAME_MAX and _SAFE.fullmatch(name):
        return None
    return f"must be a folder name ({NAME_RULE}), got {shown_name(name)}"


def safe_name(text: str) -> str:
    """``text`` made into a safe name (for folders named after something else, e.g. a trace
    file): unsafe characters become ``_``, a leading ``.``/``-`` gets a ``_`` in front."""
    name = _UNSAFE_CHAR.sub("_", text)[:NAME_MAX] or "_"
    return name if _SAFE.fullmatch(name) else ("_" + name)[:NAME_MAX]


def check_root(out: str | os.PathLike[str]) -> Path:
    """The output root as a Path; OutputError if it cannot be one (a NUL byte, a file)."""
    check_path(out)
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise OutputError(printable(root), "exists and is not a folder")
    return root


def folder_under(out: str | os.PathLike[str], *parts: str) -> Path:
    """``OUT/part/...`` after checking that it stays under ``OUT``.

    Raises OutputError if a part is not a safe name, if a part that exists is a symbolic link
    or not a folder, or if the folder would resolve outside ``OUT``.
    """
    root = check_root(out)
    path = root
    for part in parts:
        if name_problem(part) is not None:
            raise OutputError(printable(os.fspath(root)),
                              f"refusing to write to the folder {shown_name(part)} below it: "
                              f"not a safe name ({NAME_RULE})")
        path = path / part
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        except OSError as e:
            raise OutputError(printable(os.fspath(path)), f"cannot use: {e.strerror}") from None
        if stat.S_ISLNK(st.st_mode):
            raise OutputError(printable(os.fspath(path)),
                              "is a symbolic link; mglru-sim writes no output through links "
                              "below the output folder")
        if not stat.S_ISDIR(st.st_mode):
            raise OutputError(printable(os.fspath(path)), "exists and is not a folder")
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if os.path.commonpath([real_root, real]) != real_root:
        raise OutputError(printable(os.fspath(path)), f"resolves outside {root}")
    return path


def probe(folder: str | os.PathLike[str]) -> Path:
    """Check now that ``folder`` can be created (or written to, if it exists): create what
    is missing and a temporary entry in it, then remove them again. Raises OutputError."""
    path = check_root(folder)
    missing: list[Path] = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    created: list[Path] = []
    with writing(path):
        try:
            for d in reversed(missing):
                os.mkdir(d)
                created.append(d)
            os.rmdir(tempfile.mkdtemp(prefix=".probe.", dir=path))
        finally:
            for d in reversed(created):
                try:
                    os.rmdir(d)
                except OSError:
                    break
    return path


def probe_file(path: str | os.PathLike[str]) -> Path:
    """:func:`probe` for an output file: its folder can be written, and it is not a folder."""
    check_path(path)
    file = Path(path)
    if file.is_dir():
        raise OutputError(printable(file), "is a folder, not a file")
    probe(file.parent)
    return file


__all__ = ["NAME_MAX", "NAME_RULE", "check_root", "folder_under", "name_problem", "probe",
           "probe_file", "safe_name", "shown_name"]

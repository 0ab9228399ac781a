"""Temporaries left behind by killed writers, and removing them.

The atomic writers build under hidden temporary names ending in ``.tmp`` (``.summary.csv.1a2b3c4d
.tmp``, ``.3f9c0a1b2c4d.x8k2m1qz.tmp/``). SIGKILL, a power cut or an OOM kill leaves them
behind. Before writing into a folder, a writer removes the ones that are *stale*: older than the
running process (so no writer started after this one owns it) and not claimed by a live writer
(:func:`simulator.output.locks.is_claimed`: a writer holds a lock on its temporary while it
works, and the kernel drops it when the writer dies). Run-folder staging folders of earlier
versions (``.<run id>.<random>/``, no ``.tmp``) count too.

A leaf module: it imports nothing of the simulator but :mod:`.locks`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from pathlib import Path

from simulator.output.locks import is_claimed

TEMP_SUFFIX = ".tmp"
_LEGACY_STAGING = re.compile(r"\.[0-9a-f]{12}\.[a-z0-9_]{8}")
"""A run folder's staging name before temporaries ended in ``.tmp``."""


def process_start() -> float:
    """When this process started (seconds since the epoch; the import time of this module
    where ``/proc`` cannot tell)."""
    try:
        stat = Path("/proc/self/stat").read_text()
        ticks = int(stat[stat.rindex(")") + 2:].split()[19])
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return int(line.split()[1]) + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        pass
    return _IMPORTED


_IMPORTED = time.time()
STARTED = process_start()
"""This process's start time."""


def is_temporary(name: str) -> bool:
    """Whether an entry named ``name`` is a temporary of the atomic writers."""
    return name.startswith(".") and (name.endswith(TEMP_SUFFIX)
                                     or _LEGACY_STAGING.fullmatch(name) is not None)


def remove_stale(folder: Path) -> list[Path]:
    """Remove the stale temporaries directly in ``folder``; returns what was removed."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not is_temporary(entry.name):
            continue
        path = Path(entry.path)
        try:
            old = entry.stat(follow_symlinks=False).st_mtime < STARTED
        except OSError:
            continue
        if not old or is_claimed(path):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    return removed


__all__ = ["STARTED", "TEMP_SUFFIX", "is_temporary", "process_start", "remove_stale"]

"""How much memory a command may use: the lowest of every limit that applies.

- ``--max-memory`` if given, else ``MemAvailable`` (``/proc/meminfo``; total physical memory
  where there is none): what the machine can give without swapping;
- ``RLIMIT_AS`` (``ulimit -v``) and ``RLIMIT_DATA`` (``ulimit -d``): per process, so they bound
  each run (or worker) on its own, less what this process already maps;
- the cgroup's ``memory.max`` (v2) or ``memory.limit_in_bytes`` (v1), less what the cgroup
  already uses: a container's limit, which ``MemAvailable`` does not show.

Each is a :class:`Limit` with the name an error line shows. A missing or unreadable source is
skipped (no limit), never an error.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
NO_LIMIT = 2**62
"""cgroup v1 writes "no limit" as a huge number (9223372036854771712): anything above this."""


@dataclass(frozen=True, slots=True)
class Limit:
    """How many bytes may be used under one limit; ``per_process``: each run or worker has
    the whole limit to itself (rlimits), else parallel runs share it."""

    bytes: int
    name: str
    per_process: bool = False


def available_bytes() -> int:
    """``MemAvailable`` from /proc/meminfo, or total physical memory elsewhere."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _status_bytes(field: str) -> int:
    """A ``VmXxx:`` field of /proc/self/status in bytes (0 where there is none)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def rlimits() -> list[Limit]:
    """``RLIMIT_AS`` and ``RLIMIT_DATA`` that are set, less this process's current size."""
    out = []
    for which, name, field in ((resource.RLIMIT_AS, "RLIMIT_AS (ulimit -v)", "VmSize"),
                               (resource.RLIMIT_DATA, "RLIMIT_DATA (ulimit -d)", "VmData")):
        soft, _ = resource.getrlimit(which)
        if soft != resource.RLIM_INFINITY and soft >= 0:
            out.append(Limit(max(0, soft - _status_bytes(field)), name, per_process=True))
    return out


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def cgroup_limit(root: Path = CGROUP_ROOT, proc_cgroup: Path = Path("/proc/self/cgroup"),
                 ) -> Limit | None:
    """What the cgroup of this process may still use (v2 ``memory.max`` less
    ``memory.current``, v1 ``memory.limit_in_bytes`` less ``memory.usage_in_bytes``), or None
    without a limit. ``root`` and ``proc_cgroup`` are where to look (tests point them at a fake
    tree)."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        rel = path.lstrip("/")
        if hierarchy == "0" and not controllers:  # v2: 0::/path
            limit = _read_int(root / rel / "memory.max")
            used = _read_int(root / rel / "memory.current") or 0
            name = "cgroup memory.max"
        elif "memory" in controllers.split(","):  # v1: N:memory:/path
            limit = _read_int(root / "memory" / rel / "memory.limit_in_bytes")
            used = _read_int(root / "memory" / rel / "memory.usage_in_bytes") or 0
            name = "cgroup memory.limit_in_bytes"
        else:
            continue
        if limit is not None and limit < NO_LIMIT:
            return Limit(max(0, limit - used), name)
    return None


def memory_limits(max_memory: int | None) -> list[Limit]:
    """Every limit that applies, ``--max-memory`` standing in for the available memory."""
    out = [Limit(max_memory, "--max-memory") if max_memory is not None
           else Limit(available_bytes(), "available memory")]
    out += rlimits()
    cgroup = cgroup_limit()
    if cgroup is not None:
        out.append(cgroup)
    return out


__all__ = ["CGROUP_ROOT", "Limit", "available_bytes", "cgroup_limit", "memory_limits", "rlimits"]

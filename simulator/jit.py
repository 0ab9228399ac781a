"""The compiled core's switchboard: numba's ``njit`` as the project uses it, and the core choice.

Hot loops (a quantum's TLB lookups and fills, the exact LRU list, ...) exist twice: the numpy
*reference*, written for reading and kept as the oracle, and a *compiled* kernel (numba, plain
loops) that must give the same results bit for bit (``tests/test_compiled.py`` compares them on
random inputs with hypothesis, and every ci scenario runs with both cores). Which one a run
uses:

- ``MGLRU_SIM_CORE=reference`` (or ``mglru-sim --core reference``) runs the numpy
  reference everywhere; the default, ``compiled``, runs the kernels.
- ``NUMBA_DISABLE_JIT=1`` keeps the compiled core's code paths but runs the kernels as plain
  Python, for debugging them with pdb or coverage (very slowly).

Kernels are compiled on first use and cached on disk (``cache=True``: ``__pycache__`` beside
each module, or ``NUMBA_CACHE_DIR``), so only the first run after an install or a change pays
the compile time. ``fastmath`` stays off: reassociating float sums would change results.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

F = TypeVar("F", bound=Callable[..., Any])

CORES = ("compiled", "reference")
ENV_CORE = "MGLRU_SIM_CORE"


class CoreError(ValueError):
    """An unknown core name (in the environment or on the command line)."""


def core() -> str:
    """The core this process runs: ``compiled`` (default) or ``reference``."""
    name = os.environ.get(ENV_CORE, "compiled") or "compiled"
    if name not in CORES:
        raise CoreError(f"{ENV_CORE}={name!r}: expected one of {', '.join(CORES)}")
    return name


def compiled() -> bool:
    """True when the compiled kernels run (the default)."""
    return core() == "compiled"


def set_core(name: str) -> None:
    """Choose the core for this process and the worker processes it starts (they inherit
    the environment)."""
    if name not in CORES:
        raise CoreError(f"--core {name!r}: expected one of {', '.join(CORES)}")
    os.environ[ENV_CORE] = name


def jit_enabled() -> bool:
    """False under ``NUMBA_DISABLE_JIT=1`` (kernels then run as Python)."""
    return not bool(getattr(numba.config, "DISABLE_JIT", False))


def njit(fn: F) -> F:
    """Compile ``fn`` in nopython mode, cached on disk, without fast-math."""
    compiled_fn: Any = numba.njit(cache=True, nogil=True, fastmath=False)(fn)
    return cast(F, compiled_fn)


__all__ = ["CORES", "ENV_CORE", "CoreError", "compiled", "core", "jit_enabled", "njit",
           "set_core"]

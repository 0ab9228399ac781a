"""What several commands share: the parser class, argument types and common options.

Each option is declared here once, so it reads and fails the same in every command that takes
it: ``--set``, the scenario argument, ``--max-memory`` (parsed by :func:`size`), ``--jobs``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import typing
from collections.abc import Callable
from typing import TypeAlias, TypeVar

from simulator.config import SimConfig, parse_size
from simulator.params import INT_RANGE, bounds, keys_of, shown_bound

DEFAULT_SCENARIO = "default"
"""The bundled ``scenarios/default.toml``."""
MAX_JOBS = 4096
"""The most parallel runs ``--jobs`` asks for (each is a process)."""


FILE_COMPLETION = {"bash": "_shtab_compgen_files", "zsh": "_files", "tcsh": "f"}
"""shtab's ``FILE``: ``mglru-sim completion`` completes this argument with file names."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit 2 (no usage dump)."""

    def error(self, message: str) -> typing.NoReturn:
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What each command module's ``register`` adds its parser to."""


def size(text: str) -> int:
    """A size with units (``"4GiB"``, ``"256M"``, a byte count) as an argparse type: bytes."""
    try:
        value = parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if value > INT_RANGE[1]:
        raise argparse.ArgumentTypeError(f"must be at most {INT_RANGE[1]} bytes, got {text!r}")
    return value


Number = TypeVar("Number", int, float)


def number(kind: type[Number], lo: float | None = None,
           hi: float | None = None) -> Callable[[str], Number]:
    """An argparse type: an ``int`` or a finite ``float`` in ``[lo, hi]`` (an integer without
    bounds still fits an ``int64``), so a bad value is blamed on its option."""
    if kind is int:
        lo = INT_RANGE[0] if lo is None else lo
        hi = INT_RANGE[1] if hi is None else hi

    def parse(text: str) -> Number:
        try:
            value = kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if lo is not None and value < lo:
            raise argparse.ArgumentTypeError(f"must be >= {shown_bound(lo)}, got {text!r}")
        if hi is not None and value > hi:
            raise argparse.ArgumentTypeError(f"must be <= {shown_bound(hi)}, got {text!r}")
        return value

    parse.__name__ = kind.__name__
    return parse


def add_set(p: argparse.ArgumentParser,
            help: str = "override a scenario key (dotted), e.g. vm.vcpus=4") -> None:
    """``--set KEY=VALUE``, repeatable."""
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=help)


def add_scenario(p: argparse.ArgumentParser, *, optional: bool) -> None:
    """The scenario argument (optional: defaults to the bundled ``default``), and ``--set``.

    A scenario is a TOML file or the name of a bundled one (``mglru-sim list scenarios``)."""
    what = "scenario TOML file, or a bundled scenario's name (mglru-sim list scenarios)"
    if optional:
        action = p.add_argument("scenario", nargs="?", default=DEFAULT_SCENARIO,
                                help=f"{what}; default: {DEFAULT_SCENARIO}")
    else:
        action = p.add_argument("scenario", help=what)
    action.complete = FILE_COMPLETION  # type: ignore[attr-defined]
    add_set(p)


def add_max_memory(p: argparse.ArgumentParser, help: str) -> None:
    """``--max-memory SIZE``: the memory a run (or the parallel runs) may need."""
    p.add_argument("--max-memory", type=size, default=None, metavar="SIZE", help=help)


def add_jobs(p: argparse.ArgumentParser, help: str, default: int | None = None) -> None:
    """``--jobs/-j N``: parallel runs (default: the number of cores)."""
    p.add_argument("--jobs", "-j", type=number(int, 1, MAX_JOBS),
                   default=default or os.cpu_count() or 1,
                   metavar="N", help=help)


def add_seed(p: argparse.ArgumentParser) -> None:
    """``--seed N``: overrides ``sim.seed`` (checked against that key's range)."""
    lo, hi = bounds(keys_of(SimConfig)["seed"])
    p.add_argument("--seed", type=number(int, lo, hi), default=None, help="override sim.seed")


def add_out(p: argparse.ArgumentParser) -> None:
    """``--out DIR``: the results root."""
    p.add_argument("--out", default="results", help="results root (default: results)")


def invariant_overrides(check_invariants: bool) -> list[str]:
    """The ``--set`` that ``--check-invariants`` stands for."""
    return ["sim.check_invariants=true"] if check_invariants else []


__all__ = ["DEFAULT_SCENARIO", "FILE_COMPLETION", "MAX_JOBS", "Parser", "Subparsers", "add_jobs",
           "add_max_memory", "add_out", "add_scenario", "add_seed", "add_set",
           "invariant_overrides", "number", "size"]

"""What several commands share: the parser class, argument types and common options.

Each option is declared here once, so it reads and fails the same in every command that takes
it: ``--set``, the scenario argument, ``--max-memory`` (parsed by :func:`size`), ``--jobs``.
"""

from __future__ import annotations

import argparse
import os
import sys
import typing
from typing import TypeAlias

from simulator.config import parse_size

DEFAULT_SCENARIO = "default"
"""The bundled ``scenarios/default.toml``."""


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
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


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
    p.add_argument("--jobs", "-j", type=int, default=default or os.cpu_count() or 1,
                   metavar="N", help=help)


def add_out(p: argparse.ArgumentParser) -> None:
    """``--out DIR``: the results root."""
    p.add_argument("--out", default="results", help="results root (default: results)")


def invariant_overrides(check_invariants: bool) -> list[str]:
    """The ``--set`` that ``--check-invariants`` stands for."""
    return ["sim.check_invariants=true"] if check_invariants else []


__all__ = ["DEFAULT_SCENARIO", "FILE_COMPLETION", "Parser", "Subparsers", "add_jobs",
           "add_max_memory", "add_out", "add_scenario", "add_set", "invariant_overrides", "size"]

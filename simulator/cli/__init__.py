"""The ``mglru-sim`` command line (also ``python -m simulator``); thin by design.

One module per command, each with ``register(subparsers)`` (its options) and the function it
sets as ``func``: it parses, calls the domain code, prints, and maps errors to exit codes.
Exit codes: 0 ok, 1 a failed check or regression (or a disk that filled up), 2 bad input (one
line on stderr naming the file and key, no traceback), 130 Ctrl-C, 143 SIGTERM.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from simulator import __version__, progress
from simulator.cli import (
    bench,
    completion,
    mrc,
    plot,
    questions,
    run,
    selftest,
    sweep,
    trace,
    validate,
)
from simulator.cli import list as list_
from simulator.cli.args import Parser
from simulator.config import ConfigError
from simulator.jit import CORES, CoreError, core, set_core
from simulator.mm.lruvec import InvariantError
from simulator.output.errors import OutputError
from simulator.resources import ResourceError
from simulator.signals import Terminated, exit_code, terminate_as_interrupt

COMMANDS = (run, validate, list_, sweep, plot, trace, mrc, questions, bench, selftest,
            completion)
"""Every command module, in the order of ``mglru-sim --help``."""


def _add_quiet(p: argparse.ArgumentParser) -> None:
    """``-q/--quiet`` on ``p`` and on every command below it (SUPPRESS: a command's default
    must not undo ``mglru-sim -q COMMAND``)."""
    p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                   help="no progress bars or progress lines on stderr")
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                _add_quiet(child)


def build_parser() -> Parser:
    p = Parser(prog="mglru-sim",
               description="The mglru-sim command line (also python -m simulator).")
    p.add_argument("--version", action="version", version=f"mglru-sim {__version__}")
    p.add_argument("--core", choices=CORES, default=None,
                   help="run the compiled kernels (default) or their numpy reference; "
                   "results are identical (also MGLRU_SIM_CORE)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.register(sub)
    _add_quiet(p)
    p.set_defaults(root_parser=p)  # what `mglru-sim completion` describes
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:
        if not e.code:  # --help, --version: they end the process, as argparse does
            raise
        return e.code if isinstance(e.code, int) else 2  # a usage error (one line, printed)
    was_quiet = progress.quiet()
    progress.set_quiet(getattr(args, "quiet", False))
    try:
        return _run(args)
    finally:  # main() called from Python (tests, notebooks): -q lasts for this command only
        progress.set_quiet(was_quiet)


def _run(args: argparse.Namespace) -> int:
    """The command, with its errors mapped to exit codes."""
    try:
        with terminate_as_interrupt():
            if args.core:
                set_core(args.core)
            core()  # a bad MGLRU_SIM_CORE fails here, before any work
            rc: int = args.func(args)
    except (ConfigError, ResourceError, CoreError) as e:
        print(f"mglru-sim: error: {e}", file=sys.stderr)
        return 2
    except OutputError as e:  # 2: a location that cannot be written; 1: the disk filled
        print(f"mglru-sim: error: {e}", file=sys.stderr)
        return e.exit_code
    except InvariantError as e:
        print(f"mglru-sim: invariant violated: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `mglru-sim ... | head`: the reader went away; not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt as e:  # Ctrl-C (130), or SIGTERM (Terminated, 143)
        print(f"mglru-sim: {'terminated' if isinstance(e, Terminated) else 'interrupted'}",
              file=sys.stderr)
        return exit_code(e)
    return rc


__all__ = ["COMMANDS", "build_parser", "main"]

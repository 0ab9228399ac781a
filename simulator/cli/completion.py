"""``mglru-sim completion bash|zsh|tcsh``: print a shell completion script.

The script is generated from the command line's own parser (shtab), so it completes every
command, option and choice there is, and scenario arguments complete file names. Install it
once, for example ``mglru-sim completion bash > ~/.local/share/bash-completion/completions/
mglru-sim`` (README, "Shell completion").
"""

from __future__ import annotations

import argparse

from simulator.cli.args import Subparsers

SHELLS = ("bash", "zsh", "tcsh")


def register(sub: Subparsers) -> None:
    p = sub.add_parser("completion", help="print a shell completion script (bash, zsh, tcsh)",
                       description="Print a completion script for SHELL on stdout.")
    p.add_argument("shell", choices=SHELLS, help="the shell")
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    import shtab

    print(shtab.complete(args.root_parser, shell=args.shell), end="")
    return 0


__all__ = ["SHELLS", "command", "register"]

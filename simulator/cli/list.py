"""``mglru-sim list backends|workloads|policies|kernels|scenarios|keys``: what exists, one line
each.

Every list comes from where the thing is declared: the backend, workload and policy registries,
the bundled scenario files (package data, found from any directory), the configuration's keys.
An empty list is an error (exit 1): an installation without its scenarios should say so.
"""

from __future__ import annotations

import argparse
import sys

from simulator.cli.args import Subparsers
from simulator.config import describe_keys, describe_scenarios
from simulator.config.bundled import BUNDLED_DIR

LISTS = ("backends", "workloads", "policies", "kernels", "scenarios", "keys")


def register(sub: Subparsers) -> None:
    p = sub.add_parser("list", help="list backends, workloads, policies, kernels, scenarios or "
                                    "scenario keys")
    p.add_argument("what", choices=LISTS)
    p.add_argument("--markdown", action="store_true",
                   help="kernels: the tables of docs/kernels.md")
    p.set_defaults(func=command)


def rows(what: str) -> list[tuple[str, str]]:
    """``(name, one line)`` of every item of list ``what``."""
    if what == "backends":
        from simulator.kvm.backends import describe_backends
        return describe_backends()
    if what == "workloads":
        from workloads import describe_workloads
        return describe_workloads()
    if what == "policies":
        from simulator.policies import describe_policies
        return describe_policies()
    if what == "kernels":
        from simulator.kernels import describe_kernels
        return describe_kernels()
    if what == "scenarios":
        return describe_scenarios()
    return [(k, f"{d}  {doc}") for k, d, doc in describe_keys()]


def command(args: argparse.Namespace) -> int:
    if args.what == "kernels" and args.markdown:
        from simulator.kernels import markdown
        print(markdown(), end="")
        return 0
    items = rows(args.what)
    if not items:
        where = f" in {BUNDLED_DIR}" if args.what == "scenarios" else ""
        print(f"mglru-sim: error: no {args.what} found{where}", file=sys.stderr)
        return 1
    width = max((len(n) for n, _ in items), default=0)
    for name, desc in items:
        print(f"{name:<{width}}  {desc}")
    return 0


__all__ = ["LISTS", "command", "register", "rows"]

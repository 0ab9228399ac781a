"""``mglru-sim validate``: parse and check a scenario only (nothing runs, nothing is written)."""

from __future__ import annotations

import argparse

from simulator.cli.args import Subparsers, add_scenario
from simulator.config import load_scenario


def register(sub: Subparsers) -> None:
    p = sub.add_parser("validate", help="parse and check a scenario only")
    add_scenario(p, optional=False)
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    sc = load_scenario(args.scenario, args.set)
    print(f"{args.scenario}: ok (scenario {sc.name!r}, {sc.guest_pages} guest pages, "
          f"{sc.task_pages} host-task pages, memcg limit {sc.host_pages} pages)")
    return 0


__all__ = ["command", "register"]

"""``mglru-sim validate``: parse and check a scenario only (nothing runs, nothing is written)."""

from __future__ import annotations

import argparse

from simulator.cli.args import Subparsers, add_scenario
from simulator.config import load_scenario
from simulator.humanize import pages


def register(sub: Subparsers) -> None:
    p = sub.add_parser("validate", help="parse and check a scenario only")
    add_scenario(p, optional=False)
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    sc = load_scenario(args.scenario, args.set)
    def memory(n: int) -> str:
        return pages(n) if n else "none"

    print(f"{args.scenario}: ok (scenario {sc.name!r}, guest memory {memory(sc.guest_pages)}, "
          f"host task {memory(sc.task_pages)}, memcg limit {memory(sc.host_pages)})")
    return 0


__all__ = ["command", "register"]

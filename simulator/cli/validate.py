"""``mglru-sim validate``: parse and check a scenario only (nothing runs, nothing is written).

A scenario with a ``[sweep]`` table is expanded and every run checked, exactly as ``sweep``
would (so a value that only one run takes is found too).
"""

from __future__ import annotations

import argparse

from simulator.cli.args import Subparsers, add_scenario
from simulator.humanize import pages


def register(sub: Subparsers) -> None:
    p = sub.add_parser("validate", help="parse and check a scenario (and every run of its "
                                        "[sweep]) only")
    add_scenario(p, optional=False)
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from simulator.sweep import load_sweep

    sweep = load_sweep(args.scenario, args.set)
    sc = sweep.points[0].scenario
    runs = f", {len(sweep.points)} sweep runs" if sweep.keys else ""

    def memory(n: int) -> str:
        return pages(n) if n else "none"

    print(f"{args.scenario}: ok (scenario {sc.name!r}, guest memory {memory(sc.guest_pages)}, "
          f"host task {memory(sc.task_pages)}, memcg limit {memory(sc.host_pages)}{runs})")
    return 0


__all__ = ["command", "register"]

"""``mglru-sim selftest access-tracking``: the ``access_tracking_perf_test`` replica.

Options follow the selftest (``-v -b -o -w``) and the v4–v8 series (``-p``); ``--mode`` picks
how memory is marked idle (``lru_gen`` as 6.16 does when MGLRU is usable, or ``page_idle``).
Phase lines are printed as they finish. Exit status: 0 passed (warnings included), 1 a failed
check ("Too many pages still idle", ...), 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simulator.cli.args import Subparsers, add_max_memory, add_out, add_seed, add_set, number
from simulator.config import ConfigError, VmConfig, parse_size
from simulator.params import bounds, keys_of


def register(sub: Subparsers) -> None:
    """Add ``selftest access-tracking``."""
    from simulator.selftest.driver import MODES

    st = sub.add_parser("selftest", help="replicas of KVM selftests on the simulated machine",
                        description="Replicas of KVM selftests on the simulated machine.")
    tests = st.add_subparsers(dest="selftest", required=True, parser_class=type(st))
    p = tests.add_parser(
        "access-tracking", help="access_tracking_perf_test (phases, idle checks, -p)",
        description="Replica of tools/testing/selftests/kvm/access_tracking_perf_test: every "
                    "vCPU touches its memory, memory is marked idle, each phase is timed "
                    "(simulated time).")
    p.add_argument("-v", dest="vcpus", type=number(int, *bounds(keys_of(VmConfig)["vcpus"])),
                   default=1, metavar="N",
                   help="vCPUs (default 1)")
    p.add_argument("-b", dest="bytes", default="1G", metavar="SIZE",
                   help="memory per vCPU, e.g. 256M or 1G (default 1G)")
    p.add_argument("-o", dest="overlap", action="store_true",
                   help="every vCPU accesses all the memory; vCPU 0 alone marks it idle")
    p.add_argument("-w", dest="warn", type=number(int, 0), nargs="?", const=1, default=0,
                   metavar="N",
                   help="N > 0 (or -w alone): too many idle pages only warns (default: fail)")
    p.add_argument("--mode", choices=MODES, default="lru_gen",
                   help="mark memory idle through lru_gen aging (default) or page_idle")
    p.add_argument("-p", dest="benchmark", action="store_true",
                   help="age back to back while the vCPUs populate memory (v4-v8 series)")
    p.add_argument("--backend", default=None, metavar="NAME",
                   help="KVM backend (default: the scenario default, x86_tdp)")
    add_set(p, "override a scenario key, e.g. vm.aging_lock=write")
    add_out(p)
    p.add_argument("--no-out", action="store_true", help="do not write a run folder")
    add_seed(p)
    add_max_memory(p, "refuse the run if it needs more (default: available memory)")
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """Run the replica, print its lines, write the run folder; 1 if a check failed."""
    from simulator.output.paths import folder_under, probe
    from simulator.resources import check_estimate, selftest_estimate
    from simulator.selftest.driver import AccessTracking, SelftestParams, selftest_scenario
    from simulator.selftest.output import write_selftest_run

    try:
        size = parse_size(args.bytes)
    except ValueError as e:  # the selftest's own message for -b, as its -v and -p get
        raise ConfigError("selftest", "-b", str(e)) from None
    params = SelftestParams(vcpus=args.vcpus, bytes_per_vcpu=size, overlap=args.overlap,
                            warn_only=args.warn > 0, mode=args.mode, benchmark=args.benchmark)
    params.check()
    sc = selftest_scenario(params, args.backend, args.set, args.seed)
    check_estimate(selftest_estimate(sc, params.mode == "page_idle"),
                   f"selftest -v {params.vcpus} -b {args.bytes}", args.max_memory)
    if not args.no_out:
        probe(folder_under(Path(args.out), sc.name))
    result = AccessTracking(sc, params, emit=lambda line: print(line, flush=True)).run()
    if result.failure is not None:
        print("==== Test Assertion Failure ====", file=sys.stderr)
        print(f"  access_tracking_perf_test: {result.failure}", file=sys.stderr)
    if not args.no_out:
        folder = write_selftest_run(result, Path(args.out))
        print(f"\nrun folder: {folder}")
    return 0 if result.passed else 1


__all__ = ["command", "register"]

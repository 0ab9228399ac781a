"""The fast mmu_lock model against the fine one over the whole grid.

Usage::

    python scripts/lock_agreement.py                       # the full grid (~30 min, 2 cores)
    python scripts/lock_agreement.py --vcpus 1,16 --holds 100 --locks write   # one corner

For every vCPU count × fault read hold (the ends and middle of ``fault_lock_hold_ns``'s
plausible range) × aging lock, it simulates the ``access_tracking_perf_test -p`` replica with
both models (:func:`simulator.selftest.agreement.agreement`; ``-b`` grows with the vCPU count
so that there are a few passes to average) and writes ``lock_agreement.csv``: the mean pass and
the vCPUs' mmu_lock wait of each model and their relative errors (the aging time per page aged
beside them, ``page_error``, not a target) (a wait below 0.1 % of the
vCPUs' wall time is compared against that floor). It prints the worst errors and exits 1 if any
is beyond ``--tolerance`` (15 %).
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from simulator.costs import CostConfig
from simulator.selftest.agreement import Agreement, agreement

LO, HI = CostConfig.__dataclass_fields__["fault_lock_hold_ns"].metadata["range"]
ROOT = Path(__file__).resolve().parents[1]


def mib_for(vcpus: int) -> int:
    """Per-vCPU memory: large enough for a few passes, small enough for the fine model."""
    return 8 if vcpus <= 16 else 4


def point(args: tuple[int, float, str]) -> Agreement:
    vcpus, hold, lock = args
    return agreement(vcpus, hold, lock, mib=mib_for(vcpus))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vcpus", default="1,2,4,8,16,32,64,112")
    p.add_argument("--holds", default=f"{LO:g},{(LO * HI) ** 0.5:.0f},{HI:g}")
    p.add_argument("--locks", default="write,none")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--tolerance", type=float, default=0.15)
    p.add_argument("--out", type=Path, default=ROOT / "results" / "baselines")
    args = p.parse_args(argv)
    grid = [(int(v), float(h), lock) for lock in args.locks.split(",")
            for h in args.holds.split(",") for v in args.vcpus.split(",")]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = []
        for a in pool.map(point, grid):
            results.append(a)
            print(f"{a.lock:5} hold {a.hold_ns:4.0f} {a.vcpus:3} vCPUs: pass "
                  f"{a.fine_pass / 1e6:8.3f} / {a.fast_pass / 1e6:8.3f} ms "
                  f"({a.pass_error:+.0%}, {a.fine_passes}/{a.fast_passes} passes; per page "
                  f"{a.page_error:+.0%}), wait "
                  f"{a.fine_wait / 1e6:8.2f} / {a.fast_wait / 1e6:8.2f} ms "
                  f"({a.wait_error:+.0%})", flush=True)
    rows = [{**asdict(a), "pass_error": a.pass_error, "wait_error": a.wait_error,
             "page_error": a.page_error} for a in results]
    df = pd.DataFrame(rows).drop(columns=["seconds"])
    args.out.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out / "lock_agreement.csv", index=False)
    worst_pass = df.loc[df["pass_error"].abs().idxmax()]
    worst_wait = df.loc[df["wait_error"].abs().idxmax()]
    print(f"\nworst pass error {worst_pass['pass_error']:+.0%} ({worst_pass['lock']}, "
          f"{worst_pass['vcpus']} vCPUs, hold {worst_pass['hold_ns']:g}); worst wait error "
          f"{worst_wait['wait_error']:+.0%} ({worst_wait['lock']}, {worst_wait['vcpus']} "
          f"vCPUs, hold {worst_wait['hold_ns']:g})")
    beyond = df[(df["pass_error"].abs() > args.tolerance)
                | (df["wait_error"].abs() > args.tolerance)]
    print(f"{len(beyond)} of {len(df)} points beyond ±{args.tolerance:.0%}; wrote "
          f"{args.out / 'lock_agreement.csv'}")
    return 1 if len(beyond) else 0


if __name__ == "__main__":
    sys.exit(main())

"""Calibrate the x86 TDP MMU costs on the published access_tracking_perf_test runs.

Usage (``make calibrate`` runs the first form)::

    python scripts/calibrate.py                  # fit, then simulate every row at -b 1G
    python scripts/calibrate.py --no-fit         # simulate with the current defaults only
    python scripts/calibrate.py --mib 64 --vcpus 1,16,32   # a quick, reduced check

The fit (:func:`simulator.selftest.calibration.fit`) runs at ``--fit-mib`` MiB per vCPU and
scales to 1 GiB (every simulated cost is per page or per fault, so the results scale); the
evaluation then simulates every published number at ``--mib`` (1024: the published size) and
prints them side by side. It writes ``calibration.csv`` (label, published, simulated, then
unit, dataset, metric, vcpus, variant), ``calibration.{png,svg}`` (every row side by side) and
``calibration_shape.{png,svg}`` (pass time and slowdown against vCPUs) to ``--out``, and prints
the shape criteria the model misses, if any. Exit status 1 if it misses any.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from simulator.costs import CostConfig
from simulator.output import atomic_write
from simulator.plots.reference import calibration_figure
from simulator.plots.style import save
from simulator.selftest.calibration import (
    FITTED,
    V4_TABLE,
    Outcome,
    fit,
    overrides,
    runs_for,
    shape,
    simulate_all,
    table,
)
from simulator.selftest.figure import calibration_shape_figure

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--no-fit", action="store_true",
                   help="skip the fit: simulate with the current cost defaults")
    p.add_argument("--fit-mib", type=int, default=256,
                   help="-b of the fitting runs, in MiB (default 256)")
    p.add_argument("--mib", type=int, default=1024,
                   help="-b of the evaluation runs, in MiB (default 1024, as published)")
    p.add_argument("--vcpus", default=",".join(str(r.vcpus) for r in V4_TABLE),
                   help="v4 rows to evaluate (default: all)")
    p.add_argument("--no-2021", action="store_true", help="skip the 2021 rows")
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                   help="simulations in parallel (default 2)")
    p.add_argument("--out", type=Path, default=ROOT / "results" / "baselines",
                   help="where calibration.csv and the plot go (default results/baselines)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    defaults = CostConfig()
    costs: dict[str, float] = {}
    if not args.no_fit:
        t0 = time.perf_counter()
        costs = fit(args.fit_mib, args.jobs)
        print(f"fit took {time.perf_counter() - t0:.0f} s\n")
        print(f"{'constant':<24} {'default':>10} {'fitted':>10}")
        for k in FITTED:
            print(f"{k:<24} {getattr(defaults, k):>10g} {costs[k]:>10g}")
        print()
    vcpus = [int(v) for v in args.vcpus.split(",")]
    runs = runs_for(vcpus, args.mib, overrides(costs),
                    None if args.no_2021 else args.mib)

    def progress(o: Outcome) -> None:
        r = o.run
        extra = "" if o.aging_pass is None else \
            f", pass {o.aging_pass:.4f} s ({o.passes} passes)"
        print(f"  simulated {r.kind} {r.vcpus:>3} vCPUs {r.lock:<5}: wall {o.vcpu_wall:.4f} s"
              f"{extra}  [{o.wall_time_s:.0f} s]", flush=True)

    t0 = time.perf_counter()
    df = table(simulate_all(runs, args.jobs, progress))
    print(f"simulation took {time.perf_counter() - t0:.0f} s\n")
    width = int(df["label"].str.len().max())
    print(f"{'':<{width}}  {'published':>10}  {'simulated':>10}  {'sim/pub':>7}")
    for _, row in df.iterrows():
        print(f"{row['label']:<{width}}  {row['published']:>10.4f}  {row['simulated']:>10.4f}"
              f"  {row['simulated'] / row['published']:>7.2f}")
    atomic_write(args.out / "calibration.csv", lambda path: df.to_csv(path, index=False))
    save(calibration_figure(df), args.out, "calibration")
    if args.mib == 1024 and len(vcpus) > 1:
        save(calibration_shape_figure(df), args.out, "calibration_shape")
    print(f"\nwrote {args.out / 'calibration.csv'} and the plots "
          "(calibration.png/.svg, calibration_shape.png/.svg)")
    failures = shape(df).failures()
    published = shape(df, "published").failures()
    for f in published:
        print(f"note: the published table itself misses: {f}")
    for f in failures:
        print(f"shape: {f}", file=sys.stderr)
    print("shape criteria: " + ("all met" if not failures else f"{len(failures)} missed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""Calibrate the x86 TDP MMU costs on the published access_tracking_perf_test runs.

Usage (``make calibrate`` runs the first form)::

    python scripts/calibrate.py                  # fit, then simulate every row at -b 1G
    python scripts/calibrate.py --no-fit --out DIR          # the committed defaults only
    python scripts/calibrate.py --hosts clx-2x28,icx-2x32,zen2-1x64   # host sensitivity
    python scripts/calibrate.py --mib 64 --vcpus 1,16,32 --no-fit     # a quick check

The fit (:func:`simulator.selftest.fitting.fit`) runs at ``--fit-mib`` MiB per vCPU and
scales to 1 GiB; it writes ``calibration_fit.json`` (constants, stage parameters, response
curves) next to the CSV. The evaluation simulates every published number at ``--mib`` (1024:
the published size) and writes ``calibration.csv`` (label, published, simulated, then unit,
dataset, metric, vcpus, variant, and for the aging passes and no-aging walls ``fit_curve`` and
``loo_simulated``: the fitted row read off its response curve with all rows, and without it,
from the ``calibration_fit.json`` in ``--out`` or the committed one), ``calibration.{png,svg}``
and ``calibration_shape.{png,svg}``, and prints the targets the model misses. Exit status 1 only
with ``--check`` and a missed target.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import pandas as pd

from simulator.costs import CostConfig
from simulator.output import atomic_write
from simulator.plots.reference import calibration_figure
from simulator.plots.style import save
from simulator.selftest.calibration import (
    HOSTS,
    V4_HOST,
    V4_TABLE,
    Outcome,
    log_rms,
    overrides,
    runs_for,
    simulate_all,
    table,
    target_misses,
)
from simulator.selftest.figure import calibration_shape_figure
from simulator.selftest.fitting import FITTED, STAGES, Fit, fit

ROOT = Path(__file__).resolve().parents[1]
BASELINES = ROOT / "results" / "baselines"


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
    p.add_argument("--hosts", default="",
                   help="fit on each of these hosts and write calibration_hosts.csv "
                        f"(known: {', '.join(HOSTS)}); no evaluation run")
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                   help="simulations in parallel (default 2)")
    p.add_argument("--out", type=Path, default=BASELINES,
                   help="where the CSV, fit and plots go (default results/baselines)")
    p.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    return p.parse_args(argv)


def save_fit(result: Fit, path: Path) -> None:
    path.write_text(json.dumps({
        "host": result.host, "mib": result.mib, "constants": result.constants,
        "params": result.params,
        "curves": {s: {str(v): ys for v, ys in c.items()} for s, c in result.curves.items()},
    }, indent=1) + "\n")


def load_fit(path: Path) -> Fit | None:
    if not path.exists():
        return None
    d = json.loads(path.read_text())
    out = Fit(d["host"], d["mib"], d["constants"], d["params"])
    out.curves = {s: {int(v): ys for v, ys in c.items()} for s, c in d["curves"].items()}
    return out


def with_loo(df: pd.DataFrame, result: Fit | None) -> pd.DataFrame:
    """Add the fit's ``fit_curve`` and ``loo_simulated`` columns (empty without a fit)."""
    df = df.copy()
    df["fit_curve"] = float("nan")
    df["loo_simulated"] = float("nan")
    if result is None:
        return df
    loo = result.loo()
    for i, row in df.iterrows():
        key = (int(row["vcpus"]), str(row["variant"]))
        wanted = "vcpu_wall" if key[1] == "off" else "aging_pass"
        if row["dataset"] == "v4" and row["metric"] == wanted and key in loo:
            df.loc[i, "fit_curve"], df.loc[i, "loo_simulated"] = loo[key]
    return df


def sensitivity(hosts: list[str], args: argparse.Namespace) -> int:
    """Fit on each host; one row per host: its constants and errors at the fit size."""
    rows = []
    for host in hosts:
        print(f"== host {host}")
        result = fit(host, args.fit_mib, args.jobs)
        row: dict[str, object] = {"host": host, **result.constants}
        for stage, (variant, _, _) in STAGES.items():
            pred = {v: result.predict(stage, v, result.params[stage])
                    for v in result.curves[stage]}
            pub = result.published(stage)
            for v in sorted(pred):
                row[f"{variant}_{v}"] = round(pred[v] / pub[v] - 1.0, 3)
        rows.append(row)
    args.out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(args.out / "calibration_hosts.csv", index=False)
    print(f"wrote {args.out / 'calibration_hosts.csv'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.hosts:
        return sensitivity(args.hosts.split(","), args)
    args.out.mkdir(parents=True, exist_ok=True)
    costs: dict[str, float] = {}
    result: Fit | None = None
    if not args.no_fit:
        t0 = time.perf_counter()
        result = fit(V4_HOST, args.fit_mib, args.jobs)
        save_fit(result, args.out / "calibration_fit.json")
        costs = result.constants
        print(f"fit took {time.perf_counter() - t0:.0f} s\n")
        defaults = CostConfig()
        print(f"{'constant':<24} {'default':>10} {'fitted':>10}")
        for k in FITTED:
            print(f"{k:<24} {getattr(defaults, k):>10g} {costs[k]:>10g}")
        print()
    else:
        result = load_fit(args.out / "calibration_fit.json") or load_fit(
            BASELINES / "calibration_fit.json")
    vcpus = [int(v) for v in args.vcpus.split(",")]
    runs = runs_for(vcpus, args.mib, overrides(costs), None if args.no_2021 else args.mib)

    def progress(o: Outcome) -> None:
        r = o.run
        extra = "" if o.aging_pass is None else \
            f", pass {o.aging_pass:.4f} s ({o.passes} passes)"
        print(f"  simulated {r.kind} {r.vcpus:>3} vCPUs {r.lock:<5}: wall {o.vcpu_wall:.4f} s"
              f"{extra}  [{o.wall_time_s:.0f} s]", flush=True)

    t0 = time.perf_counter()
    df = with_loo(table(simulate_all(runs, args.jobs, progress)), result)
    print(f"simulation took {time.perf_counter() - t0:.0f} s\n")
    width = int(df["label"].str.len().max())
    print(f"{'':<{width}}  {'published':>10}  {'simulated':>10}  {'sim/pub':>7}  {'LOO/pub':>7}")
    for _, row in df.iterrows():
        loo = row["loo_simulated"] / row["published"]
        print(f"{row['label']:<{width}}  {row['published']:>10.4f}  {row['simulated']:>10.4f}"
              f"  {row['simulated'] / row['published']:>7.2f}"
              f"  {'' if pd.isna(loo) else f'{loo:.2f}':>7}")
    atomic_write(args.out / "calibration.csv", lambda path: df.to_csv(path, index=False))
    save(calibration_figure(df), args.out, "calibration")
    if args.mib == 1024 and len(vcpus) > 1:
        save(calibration_shape_figure(df), args.out, "calibration_shape")
    print(f"\nwrote {args.out / 'calibration.csv'} and the plots; "
          f"log RMS error {log_rms(df):.3f}")
    misses = target_misses(df)
    for m in misses:
        print(f"target missed: {m}")
    print("targets: " + ("all met" if not misses else f"{len(misses)} missed"))
    return 1 if misses and args.check else 0


if __name__ == "__main__":
    sys.exit(main())

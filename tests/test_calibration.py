"""Calibration against the published x86 runs (DESIGN §6, docs/calibration.md).

Expected behaviour (the issue "access_tracking_perf_test replica and calibration"): the
simulated v4 ``-p`` table has the published shape. The write-locked pass grows super-linearly
with vCPUs while the lockless one stays near linear; lockless aging is 1.0-1.6x faster at 1
vCPU and more than 8x at 16 and 32; write-locked aging slows the vCPUs by +4..+25 % at 16-32
vCPUs, lockless aging by less than +6 %. CI checks the committed full-size fit
(``results/baselines/calibration.csv``, written by ``make calibrate``) without re-running it,
and re-runs the same criteria at a reduced size (64 MiB per vCPU, similar quanta).
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from simulator.costs import CostConfig
from simulator.selftest.calibration import (
    AGING_WALK,
    FIT_VCPUS,
    FITTED,
    MATLACK_IDLE_WRITE,
    V4_TABLE,
    Run,
    fit_fault_path,
    runs_for,
    shape,
    simulate,
    simulate_all,
    table,
)

CSV = Path(__file__).resolve().parents[1] / "results" / "baselines" / "calibration.csv"


@cache
def committed() -> pd.DataFrame:
    return pd.read_csv(CSV)


def test_committed_csv_has_every_published_number() -> None:
    df = committed()
    assert list(df.columns[:3]) == ["label", "published", "simulated"]
    assert len(df) == 5 * len(V4_TABLE) + len(MATLACK_IDLE_WRITE)
    assert df["simulated"].notna().all() and (df["simulated"] > 0).all()
    v4 = df[df["dataset"] == "v4"].set_index(["vcpus", "metric", "variant"])["published"]
    for r in V4_TABLE:
        assert v4[(r.vcpus, "vcpu_wall", "off")] == r.wall_no_aging
        assert v4[(r.vcpus, "vcpu_wall", "write")] == r.wall_write
        assert v4[(r.vcpus, "vcpu_wall", "none")] == r.wall_none
        assert v4[(r.vcpus, "aging_pass", "write")] == r.pass_write
        assert v4[(r.vcpus, "aging_pass", "none")] == r.pass_none
    old = df[df["dataset"] == "2021"].set_index("variant")["published"]
    assert old.to_dict() == MATLACK_IDLE_WRITE


def test_the_published_table_meets_the_criteria() -> None:
    """The criteria encode the published shape (a check of the criteria themselves)."""
    assert shape(committed(), "published").failures() == []


def test_the_committed_fit_has_the_published_shape() -> None:
    s = shape(committed())
    assert s.failures() == []
    # spelled out, as the issue states them
    assert s.locked_slope > 1.3 and 0.8 <= s.lockless_slope <= 1.2
    assert 1.0 <= s.speedup[1] <= 1.6
    assert s.speedup[16] > 8 and s.speedup[32] > 8
    assert all(0.04 <= s.slowdown_write[v] <= 0.25 for v in (16, 32))
    assert all(x < 0.06 for x in s.slowdown_none.values())


def test_the_committed_fit_is_close_on_the_fitted_rows() -> None:
    """Fitted rows (1-32 vCPUs) within -25..+40 %; 64/112 are reported, not fitted (the
    lockless pass there costs 2.7x more per page than at 1-32, which no x86 TDP cost can
    explain, docs/calibration.md)."""
    df = committed()
    fitted = df[(df["dataset"] == "v4") & df["vcpus"].isin(FIT_VCPUS)]
    ratio = fitted["simulated"] / fitted["published"]
    assert ratio.between(0.75, 1.4).all(), fitted.assign(ratio=ratio)
    # the whole table, log-space RMS error
    rms = math.sqrt(float((df["simulated"] / df["published"]).map(math.log).pow(2).mean()))
    assert rms < 0.35


def test_defaults_are_the_fit() -> None:
    """``costs.py`` holds what ``make calibrate`` fits (stage 1 is closed form; stages 2 and 3
    keep the ratio of the first estimates and a whole-ns hold)."""
    c = CostConfig()
    for key, value in fit_fault_path(c).items():
        assert getattr(c, key) == pytest.approx(value), key
    walk = [getattr(c, k) / v for k, v in AGING_WALK.items()]
    assert max(walk) / min(walk) == pytest.approx(1.0, abs=0.01)
    assert c.fault_lock_hold_ns == round(c.fault_lock_hold_ns)
    assert set(FITTED) <= {f for f in c.__dataclass_fields__}


def test_only_x86_tdp_constants_are_fitted() -> None:
    assert set(FITTED) == {"fault_first_touch_ns", "fault_contention_ns",
                           "fault_access_track_ns", "pte_scan_ns", "notifier_call_ns",
                           "spte_age_ns", "fault_lock_hold_ns"}


@cache
def reduced() -> pd.DataFrame:
    return table(simulate_all(runs_for((1, 16, 32), 64), jobs=1))


def test_reduced_scale_has_the_published_shape() -> None:
    """The same criteria at 64 MiB per vCPU (results scale to 1 GiB)."""
    assert shape(reduced()).failures() == []


def test_reduced_scale_is_a_miniature_of_the_full_size() -> None:
    """vCPU walls within 10 %; mean passes within 50 % (with write-locked aging at 16-32
    vCPUs there are only one or two passes, so the mean jumps with the pass count)."""
    full = committed().set_index("label")["simulated"]
    for _, row in reduced().iterrows():
        rel = 0.1 if row["metric"] == "vcpu_wall" else 0.5
        assert row["simulated"] == pytest.approx(full[row["label"]], rel=rel), row["label"]


def test_matlack_fast_page_fault_speedup() -> None:
    """2021: access-tracked SPTEs restored under mmu_lock read by 64 faulting vCPUs are an
    order of magnitude slower than the lockless fast_page_fault (published 10.8x)."""
    before = simulate(Run("idle_write", 64, "read", 16))
    after = simulate(Run("idle_write", 64, "none", 16))
    assert after.vcpu_wall == pytest.approx(MATLACK_IDLE_WRITE["none"], rel=0.1)
    assert 5 < before.vcpu_wall / after.vcpu_wall < 25


def test_populating_grows_linearly_with_faulting_vcpus() -> None:
    """The no-aging column: every locked fault pays fault_contention_ns per other faulting
    vCPU, so 1 GiB per vCPU takes (access + first touch + c (N - 1)) x 262,144."""
    c = CostConfig()
    for vcpus in (1, 8):
        wall = simulate(Run("p", vcpus, "off", 16)).vcpu_wall
        expect = (c.access_ns + c.fault_first_touch_ns + c.fault_contention_ns * (vcpus - 1)) \
            * 262144 / 1e9
        assert wall == pytest.approx(expect, rel=0.02)

"""The ChromeOS regression mechanism (research/mglru.md §6.4, DESIGN §2 ``blind``).

Before 6.12 the MGLRU aging walk only read primary A bits. A guest's accesses set the A bit in
KVM's SPTEs, not in the VMM's PTEs, so the walk saw the VM as idle: it promoted almost nothing
(low recall of the walk's young decisions), most guest pages reached the oldest generation, and
reclaim had to find out page by page at eviction time, through the rmap walk (``folio_referenced``)
and ``clear_flush_young``: more rmap walks. The 6.12 fix (``ptep_clear_young_notify`` in the walk,
``per_page`` here) asks KVM about every PTE.

The same scenario and seed are run on the releases ChromeOS users ran: 6.11 (``blind``, the
regression) and 6.12 (``per_page``, the fix); the direction is asserted for three seeds.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from simulator.config import scenario_from_dict
from simulator.output.run_folder import RunResult
from simulator.runner import simulate

SEEDS = (1, 2, 3)


RELEASE = {"blind": "6.11", "per_page": "6.12"}


@cache
def run(notifier: str, seed: int) -> RunResult:
    sc = scenario_from_dict({
        "name": f"chromeos-{notifier}",
        "sim": {"duration_ms": 800, "seed": seed, "lru_gen_snapshots": 0},
        "host": {"memory": "96MiB"},
        "vm": {"memory": "128MiB", "vcpus": 2},
        "kernel": {"release": RELEASE[notifier]},
        "workload": {"kind": "zipf", "theta": 0.99, "think_ns": 200},
    })
    assert sc.mglru.notifier == notifier  # the release decides the design
    return simulate(sc)


def later_walk_recall(r: RunResult) -> float:
    """Recall of the walk's decisions after the first pass (which sees fault-time A bits)."""
    p = r.passes.iloc[1:]
    tp, fn = int(p["young_tp"].sum()), int(p["young_fn"].sum())
    assert tp + fn > 0
    return tp / (tp + fn)


@pytest.mark.parametrize("seed", SEEDS)
def test_blind_walk_misses_guest_accesses(seed: int) -> None:
    blind, per_page = run("blind", seed).summary, run("per_page", seed).summary
    for s in (blind, per_page):
        assert s["evictions"] > 0 and s["refaults"] > 0  # under memory pressure
        assert s["aging_passes"] >= 2
    assert blind["young_walk_recall"] < per_page["young_walk_recall"] - 0.1
    assert per_page["young_walk_recall"] > 0.9


@pytest.mark.parametrize("seed", SEEDS)
def test_blind_walk_recall_after_first_pass(seed: int) -> None:
    blind, per_page = run("blind", seed), run("per_page", seed)
    assert later_walk_recall(blind) < 0.8
    assert later_walk_recall(per_page) > 0.9


@pytest.mark.parametrize("seed", SEEDS)
def test_blind_pays_at_eviction_time(seed: int) -> None:
    """Blind aging leaves guest-hot folios in the oldest generation: eviction walks their
    rmap to find them young, and look-around (which needs a young primary PTE) rarely runs."""
    blind, per_page = run("blind", seed).summary, run("per_page", seed).summary
    assert blind["rmap_walks"] > 1.5 * per_page["rmap_walks"]
    assert blind["look_arounds"] < per_page["look_arounds"] / 3


@pytest.mark.parametrize("seed", SEEDS)
def test_blind_walk_makes_no_notifier_calls(seed: int) -> None:
    blind, per_page = run("blind", seed), run("per_page", seed)
    assert int(blind.passes["notifier_calls"].sum()) == 0
    # per_page: every pass asks KVM about at least every present PTE of the tables it walks
    pp: Any = per_page.passes
    walked = pp[pp["ptes_scanned"] > 0]
    assert len(walked) > 0
    assert (walked["notifier_calls"] > 0).all()

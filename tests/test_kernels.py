"""Kernel release profiles: the docs table, resolution and overrides, and what each release does.

Oracles: docs/kernels.md (each profile's resolved values against the table a reader sees, and
the generated tables verbatim), the kernel history's own rules (a switch changes only at the
release of its change), and runs that check the mechanism a release switches (blind notifier
and flushing ``clear_flush_young`` on 6.11; per_page, lockless and no aging flush on 6.15; no
page-table walk on arm64 without a hardware Access Flag).
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest

from simulator.cli import main
from simulator.config import ConfigError, load_scenario, scenario_from_dict
from simulator.kernels import (
    CHANGES,
    PROFILES,
    RELEASES,
    VARIANTS,
    deviations,
    markdown,
    resolve,
    switch_names,
)
from simulator.kernels.history import release_key
from simulator.kernels.profile import KernelProfile
from simulator.runner import simulate

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "kernels.md"


def _doc_table() -> dict[str, dict[str, str]]:
    """The profile table of docs/kernels.md: {switch: {release: value}}."""
    lines = DOC.read_text().splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("| switch | 6.1 |"))
    names = [c.strip() for c in lines[start].strip("|").split("|")][1:]
    out: dict[str, dict[str, str]] = {}
    for ln in lines[start + 2:]:
        if not ln.startswith("|"):
            break
        cells = [c.strip() for c in ln.strip("|").split("|")]
        out[cells[0].strip("`")] = dict(zip(names, cells[1:], strict=True))
    return out


@pytest.mark.parametrize("release", list(PROFILES))
def test_each_profile_resolves_to_the_docs_table(release: str) -> None:
    table = _doc_table()
    sc = scenario_from_dict({"kernel": {"release": release}})
    for sw in switch_names():
        assert getattr(PROFILES[release], sw) == table[sw][release], (release, sw)
        resolved = getattr(sc.kernel, sw)
        if sw == "notifier":
            resolved = sc.mglru.notifier
        elif sw.startswith("aging_lock_"):
            continue  # per backend: checked below
        assert resolved == table[sw][release], (release, sw)
    for backend in ("x86_tdp", "x86_tdp_noad", "x86_shadow", "arm64", "generic"):
        vm = scenario_from_dict({"kernel": {"release": release},
                                 "vm": {"backend": backend}}).vm
        assert vm.aging_lock == table[f"aging_lock_{backend}"][release]


def test_the_docs_carry_the_generated_tables_verbatim() -> None:
    text = DOC.read_text()
    for table in markdown().split("\n\n"):
        assert table.strip() in text


def test_a_switch_changes_only_at_the_release_of_its_change() -> None:
    """Between two consecutive releases, a modelled switch differs only if a change of that
    switch lies in between (the profiles are the history, folded)."""
    for older, newer in itertools.pairwise(RELEASES):
        for sw in switch_names():
            changed = getattr(PROFILES[older], sw) != getattr(PROFILES[newer], sw)
            made = any(c.switch == sw and release_key(older) < release_key(c.release)
                       <= release_key(newer) for c in CHANGES)
            assert changed <= made, (older, newer, sw)
    for c in CHANGES:
        assert c.modelled or c.note, f"{c.release} {c.behaviour}: say why it is not modelled"


def test_the_series_are_variants_on_their_base_release() -> None:
    for v in VARIANTS:
        base, var = PROFILES[v.base], PROFILES[v.name]
        differ = {sw for sw in switch_names() if getattr(base, sw) != getattr(var, sw)}
        assert differ == {sw for sw, _ in v.values if getattr(base, sw) != dict(v.values)[sw]}
    assert PROFILES["v3"].notifier == "bitmap" and PROFILES["v3"].aging_lock("arm64") == "read"
    assert PROFILES["v7"].aging_lock("x86_shadow") == "rmap"
    assert PROFILES["v7"].aging_lock("arm64") == "write"  # "Dropped arm64 locking change"


def test_explicit_keys_override_the_release_and_are_reported() -> None:
    sc = scenario_from_dict({"kernel": {"release": "6.11", "promotion": "two"},
                             "vm": {"aging_lock": "none"}, "mglru": {"notifier": "per_page"}})
    assert (sc.mglru.notifier, sc.vm.aging_lock, sc.kernel.promotion) == \
        ("per_page", "none", "two")
    assert deviations(resolve(KernelProfile(release="6.11", promotion="two"))) == \
        {"promotion": "two"}
    row = simulate(scenario_from_dict({
        "sim": {"duration_ms": 5}, "host": {"memory": "64MiB"},
        "vm": {"memory": "16MiB", "vcpus": 1, "aging_lock": "none"},
        "kernel": {"release": "6.11", "promotion": "two"}})).summary
    assert row["kernel"] == "6.11"
    assert row["kernel_promotion"] == "two"
    assert row["kernel_deviations"] == "kernel.promotion=two vm.aging_lock=none"


def test_unknown_release_and_reserved_switches_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"kernel\.release.*6\.11\.7.*got '6\.7'"):
        scenario_from_dict({"kernel": {"release": "6.7"}})
    with pytest.raises(ConfigError, match=r"set vm\.aging_lock instead"):
        scenario_from_dict({"kernel": {"aging_lock_arm64": "read"}})


def test_config_toml_round_trips_a_resolved_scenario(tmp_path: Path) -> None:
    from simulator.config import to_toml

    sc = scenario_from_dict({"kernel": {"release": "6.1"}, "vm": {"backend": "arm64"}})
    path = tmp_path / "c.toml"
    path.write_text(to_toml(sc))
    again = load_scenario(path)
    assert again == sc
    assert deviations(resolve(again.kernel)) == {}


def test_list_kernels_prints_every_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "kernels"]) == 0
    out = capsys.readouterr().out
    assert [ln.split()[0] for ln in out.splitlines()] == list(PROFILES)
    assert main(["list", "kernels", "--markdown"]) == 0
    assert capsys.readouterr().out == markdown()


# --- what the releases do -------------------------------------------------------------------

def _run(release: str, **over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "sim": {"duration_ms": 1200, "seed": 2, "lru_gen_snapshots": 0},
        "host": {"memory": "48MiB"},
        "vm": {"memory": "64MiB", "vcpus": 2, "backend": "x86_tdp"},
        "kernel": {"release": release},
        "workload": {"kind": "zipf", "theta": 0.9, "think_ns": 200},
    }
    for k, v in over.items():
        doc.setdefault(k, {}).update(v)
    return simulate(scenario_from_dict(doc)).summary


def test_6_11_on_x86_is_blind_write_locked_and_flushes_on_young_pivots() -> None:
    row = _run("6.11")
    assert (row["notifier"], row["aging_lock"]) == ("blind", "write")
    assert row["young_tlb_flushes"] > 0  # clear_flush_young on young eviction pivots
    assert row["aging_notifier_calls"] == 0  # the walk never asks KVM
    assert row["aging_write_locks"] == 0 and row["eviction_write_locks"] > 0


def test_6_15_on_x86_is_per_page_lockless_and_never_flushes_when_aging() -> None:
    row = _run("6.15")
    assert (row["notifier"], row["aging_lock"]) == ("per_page", "none")
    assert row["young_tlb_flushes"] == 0
    assert row["aging_notifier_calls"] > 0 and row["aging_write_locks"] == 0
    assert row["unmap_tlb_flushes"] > 0  # evictions still flush (invalidate_range_start)


def test_arm64_flushes_on_young_clear_flush_young_in_every_release() -> None:
    row = _run("6.15", vm={"backend": "arm64"}, kernel={"release": "6.15"},
               host={"memory": "48MiB"})
    assert row["kernel_young_flush_arm64"] == "yes"
    # 6.15 uses clear_young (never flushing) in walk and look-around: only the unmaps flush
    assert row["young_tlb_flushes"] == 0 and row["unmap_tlb_flushes"] > 0
    old = _run("6.11", vm={"backend": "arm64"})
    assert old["young_tlb_flushes"] > 0


def test_arm64_without_hardware_af_never_walks_page_tables_but_looks_around() -> None:
    sc = scenario_from_dict({
        "sim": {"duration_ms": 600, "seed": 3, "check_invariants": True},
        "host": {"memory": "48MiB"},
        "vm": {"memory": "64MiB", "vcpus": 2, "backend": "arm64", "hw_af": False},
        "workload": {"kind": "zipf", "theta": 0.9},
    })
    r = simulate(sc)
    assert len(r.passes) > 0 and r.summary["aging_passes"] > 0
    assert (r.passes["ptes_scanned"] == 0).all()  # iterate_mm_list_nowalk
    assert (r.passes["mms_walked"] == 0).all()
    assert r.summary["look_arounds"] > 0 and r.summary["faults_access_track"] > 0
    assert r.summary["aging_notifier_calls"] == 0


def test_the_6_1_debugfs_force_scan_walks_without_a_hardware_af() -> None:
    """6.1-6.2: a debugfs force_scan walked even when should_walk_mmu() was false."""
    from simulator.machine import Machine

    def pass_of(release: str) -> dict[str, Any]:
        m = Machine(scenario_from_dict({
            "kernel": {"release": release}, "host": {"memory": "64MiB"},
            "vm": {"memory": "16MiB", "vcpus": 1, "backend": "arm64", "hw_af": False}}))
        pages = __import__("numpy").arange(m.vms[0].region.start, m.vms[0].region.end)
        m.mglru().fault_in(pages, pages < 0)
        proc = m.env.process(m.age("debugfs", force_scan=True))
        m.env.run(until=proc)
        record = proc.value
        assert record is not None
        return record

    assert pass_of("6.1")["ptes_scanned"] > 0
    assert pass_of("6.6")["ptes_scanned"] == 0


def test_the_selftest_falls_back_to_page_idle_without_a_hardware_af(
        capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["selftest", "access-tracking", "-v", "1", "-b", "1M", "--backend", "arm64",
               "--set", "vm.hw_af=false", "--set", "vm.tlb_entries=0", "--no-out"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0, out
    assert out[:3] == ["lru_gen: missing features, got: 0x1, expected: 0x3",
                       "lru_gen: Try 'echo 0x3 > /sys/kernel/mm/lru_gen/enabled'",
                       "Using page_idle for aging"]
    assert any(re.match(r"Mark memory idle \(page_idle\) +: ", ln) for ln in out)

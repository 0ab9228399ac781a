"""Contract tests run the same way over every KVM backend (``simulator.kvm.backends.BACKENDS``).

Expected behaviour (research/patch-series.md §4 and the issue "All KVM architecture backends
and notifier designs"):

- five backends, each with a one-line description (``mglru-sim list backends``);
- aging lock modes per backend, ``auto`` = upstream as of 6.15: x86_tdp ``none`` (RCU,
  "KVM: x86/mmu: Age sptes locklessly"), x86_tdp_noad ``none``, x86_shadow ``rmap`` (per-rmap
  lock), arm64 ``write`` (arm64 never selected ``KVM_MMU_LOCKLESS_AGING``), generic ``write``;
  any other mode is an error, in the API (ValueError) and in a scenario (ConfigError naming
  ``vm.aging_lock``);
- vCPU faults take mmu_lock for read on the TDP MMU and arm64, for write on the shadow MMU and
  on a spinlock architecture;
- ``age_sptes`` tests (and with ``clear``, clears) the young state of present SPTEs only;
  ``unmap`` zaps SPTEs under the write lock whatever the aging lock;
- every run produces the whole summary contract (DESIGN §5) with ``None`` exactly in the
  columns that do not apply: ``faults_access_track`` needs a backend without hardware A bits
  (x86_tdp_noad, arm64 with ``hw_af = false``); the bitmap columns need ``notifier = bitmap``;
- ``scenarios/backends.toml`` sweeps the five backends x the four notifier designs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from simulator.accounting import Work
from simulator.cli import main
from simulator.config import ConfigError, apply_overrides, read_toml, scenario_from_dict
from simulator.costs import CostConfig
from simulator.kernels import PROFILES
from simulator.kvm.backends import BACKENDS, make_backend
from simulator.kvm.notifier import KvmAgingOps
from simulator.kvm.tlb import Tlbs
from simulator.metrics import SUMMARY_COLUMNS
from simulator.runner import simulate

ROOT = Path(__file__).resolve().parents[1]
SWEEP_FILE = ROOT / "scenarios" / "backends.toml"

NAMES = ("x86_tdp", "x86_tdp_noad", "x86_shadow", "arm64", "generic")
LOCKS = ("write", "read", "none", "rmap")
DESIGNS = ("blind", "per_page", "bitmap", "fast_only")
UPSTREAM_6_15 = {"x86_tdp": "none", "x86_tdp_noad": "none", "x86_shadow": "rmap",
                 "arm64": "write", "generic": "write"}
AGING_LOCKS = {"x86_tdp": {"write", "none"}, "x86_tdp_noad": {"write", "none"},
               "x86_shadow": {"write", "rmap"}, "arm64": {"write", "read", "none"},
               "generic": {"write"}}
FAULT_LOCK = {"x86_tdp": "read", "x86_tdp_noad": "read", "x86_shadow": "write",
              "arm64": "read", "generic": "write"}
BITMAP_LOCKS = {"x86_tdp": {"none"}, "x86_tdp_noad": set(), "x86_shadow": set(),
                "arm64": {"read", "none"}, "generic": set()}
N = 2048


def test_the_five_backends_are_registered() -> None:
    assert tuple(BACKENDS) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_class_contract(name: str) -> None:
    cls = BACKENDS[name]
    assert cls.name == name
    assert cls.description and "\n" not in cls.description
    assert set(cls.aging_locks) == AGING_LOCKS[name]
    for release, profile in PROFILES.items():  # every release ages with a lock it can take
        assert profile.aging_lock(name) in cls.aging_locks, release
    assert cls.fault_lock == FAULT_LOCK[name]
    assert set(cls.bitmap_locks) == BITMAP_LOCKS[name]
    assert set(cls.bitmap_locks) <= set(cls.aging_locks)


@pytest.mark.parametrize("name", NAMES)
def test_auto_follows_the_kernel_release(name: str) -> None:
    assert make_backend(name, N, "auto", CostConfig()).aging_lock == UPSTREAM_6_15[name]
    assert PROFILES["6.15"].aging_lock(name) == UPSTREAM_6_15[name]
    for profile in PROFILES.values():
        built = make_backend(name, N, "auto", CostConfig(), kernel=profile)
        assert built.aging_lock == profile.aging_lock(name)
        assert built.kernel is profile
    # before 6.15 every backend aged under mmu_lock for write
    assert make_backend(name, N, "auto", CostConfig(), kernel=PROFILES["6.14"]).aging_lock \
        == "write"


@pytest.mark.parametrize("name", NAMES)
def test_every_declared_lock_is_accepted(name: str) -> None:
    for lock in BACKENDS[name].aging_locks:
        assert make_backend(name, N, lock, CostConfig()).aging_lock == lock


@pytest.mark.parametrize(("name", "lock"), [
    (n, lock) for n in NAMES for lock in LOCKS if lock not in AGING_LOCKS[n]])
def test_impossible_lock_is_a_value_error(name: str, lock: str) -> None:
    with pytest.raises(ValueError, match=lock):
        make_backend(name, N, lock, CostConfig())


def test_unknown_backend_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="riscv"):
        make_backend("riscv", N, "auto", CostConfig())


@pytest.mark.parametrize(("name", "hw_af", "via_fault"), [
    ("x86_tdp", True, False), ("x86_tdp_noad", True, True), ("x86_shadow", True, False),
    ("arm64", True, False), ("arm64", False, True), ("generic", True, False)])
def test_young_via_fault(name: str, hw_af: bool, via_fault: bool) -> None:
    b = make_backend(name, N, "auto", CostConfig(), hw_af=hw_af)
    assert b.young_via_fault is via_fault
    if via_fault:
        assert b.access_fault_ns > 0
        assert b.access_fault_lock in ("none", "read")  # never serialises vCPUs
    assert b.handler_ns(1, 1, 1, 1) > 0


def mapped(name: str, lock: str = "auto") -> Any:
    b = make_backend(name, N, lock, CostConfig())
    b.sptes.map(np.arange(0, N // 2, dtype=np.int64), np.zeros(N // 2, dtype=bool))
    b.sptes.young[:] = False
    b.sptes.young[[1, 2, 3, 700]] = True
    return b


@pytest.mark.parametrize("name", NAMES)
def test_age_sptes_test_then_clear(name: str) -> None:
    b = mapped(name)
    pages = np.array([0, 1, 2, 700, 1500], dtype=np.int64)  # 1500: no SPTE
    before = b.sptes.young.copy()
    got = b.age_sptes(pages, clear=False)
    assert got.tolist() == [False, True, True, True, False]
    assert np.array_equal(b.sptes.young, before)  # test only
    got = b.age_sptes(pages, clear=True)
    assert got.tolist() == [False, True, True, True, False]
    assert np.flatnonzero(b.sptes.young).tolist() == [3]  # not asked about: untouched
    assert not b.age_sptes(pages, clear=True).any()  # cleared: old now
    assert b.sptes.present[: N // 2].all()  # aging never unmaps


@pytest.mark.parametrize("name", NAMES)
def test_unmap_zaps_and_takes_the_write_lock(name: str) -> None:
    for lock in BACKENDS[name].aging_locks:  # whatever the aging lock
        b = mapped(name, lock)
        b.sptes.dirty[[2, 5]] = True
        work = Work()
        gone = np.array([1, 2, 5, 9, N - 1], dtype=np.int64)  # N - 1: no SPTE to zap
        assert not b.sptes.present[N - 1]
        flushes = b.unmap(gone, work)
        assert not b.sptes.present[gone].any()
        assert not b.sptes.young[gone].any() and not b.sptes.dirty[gone].any()
        assert b.sptes.present[[0, 3, 4, 700]].all() and b.sptes.young[[3, 700]].all()
        assert work.write_locks == len(gone)
        # one kvm_flush_remote_tlbs per call that zapped a present SPTE, inside the hold
        assert flushes == work.unmap_flushes == 4 and work.tlb_flushes == 0
        zap = b.costs.zap_ns
        assert work.write_hold_ns == pytest.approx(len(gone) * zap + 4 * b.flush_ns())
        assert work.cpu_ns >= work.write_hold_ns
        assert work.read_locks == 0


@pytest.mark.parametrize(("name", "lock"), [(n, lock) for n in NAMES for lock in AGING_LOCKS[n]])
def test_aging_call_takes_the_lock_of_its_mode(name: str, lock: str) -> None:
    b = mapped(name, lock)
    ops = KvmAgingOps(b, Tlbs(1, 0), tlb_flush_on_age=False)
    work = Work()
    young, _ = ops.clear_young_pages(np.array([1, 2, 10], dtype=np.int64), work)
    assert young.tolist() == [True, True, False]
    assert work.notifier_calls == 3 and work.cpu_ns > 0
    assert work.write_locks == (3 if lock == "write" else 0)
    assert work.read_locks == (3 if lock == "read" else 0)
    assert (work.write_hold_ns > 0) == (lock == "write")


# --- config validation and the CLI -----------------------------------------------------------

def vm_doc(**vm: Any) -> dict[str, Any]:
    return {"host": {"memory": "48MiB"}, "vm": {"memory": "64MiB", "vcpus": 2, **vm}}


@pytest.mark.parametrize(("name", "lock"), [
    (n, lock) for n in NAMES for lock in LOCKS if lock not in AGING_LOCKS[n]])
def test_config_rejects_impossible_aging_lock(name: str, lock: str) -> None:
    with pytest.raises(ConfigError) as err:
        scenario_from_dict(vm_doc(backend=name, aging_lock=lock), "x.toml")
    assert err.value.key == "vm.aging_lock"
    assert "vm.aging_lock" in str(err.value) and name in str(err.value)


@pytest.mark.parametrize(("name", "lock"), [
    (n, lock) for n in NAMES for lock in ("auto", *sorted(AGING_LOCKS[n]))])
def test_config_accepts_possible_aging_lock(name: str, lock: str) -> None:
    sc = scenario_from_dict(vm_doc(backend=name, aging_lock=lock))
    resolved = UPSTREAM_6_15[name] if lock == "auto" else lock  # the default release: 6.15
    assert (sc.vm.backend, sc.vm.aging_lock) == (name, resolved)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "arm64"])
def test_config_software_af_only_on_arm64(name: str) -> None:
    with pytest.raises(ConfigError) as err:
        scenario_from_dict(vm_doc(backend=name, hw_af=False), "x.toml")
    assert err.value.key == "vm.hw_af"
    assert not scenario_from_dict(vm_doc(backend="arm64", hw_af=False)).vm.hw_af


def test_cli_list_backends(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "backends"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(NAMES)
    for line, name in zip(lines, NAMES, strict=True):
        assert line.split()[0] == name
        assert BACKENDS[name].description in line


# --- whole runs: the summary row is complete --------------------------------------------------

def not_applicable(backend: str, hw_af: bool, notifier: str) -> set[str]:
    na = set()
    if not (backend == "x86_tdp_noad" or (backend == "arm64" and not hw_af)):
        na.add("faults_access_track")
    if notifier != "bitmap":
        na |= {"notifier_calls_bitmap", "notifier_unreliable"}
    if notifier not in ("bitmap", "fast_only"):
        na.add("notifier_fast")
    return na


def assert_complete(summary: Mapping[str, Any], backend: str, notifier: str,
                    hw_af: bool = True) -> None:
    assert list(summary)[: len(SUMMARY_COLUMNS)] == list(SUMMARY_COLUMNS)
    na = not_applicable(backend, hw_af, notifier)
    missing = [k for k in SUMMARY_COLUMNS if k not in na and (
        summary[k] is None or (isinstance(summary[k], float) and math.isnan(summary[k])))]
    assert not missing, f"{backend}/{notifier}: no value for {missing}"
    extra = [k for k in na if summary[k] is not None]
    assert not extra, f"{backend}/{notifier}: {extra} should not apply"
    assert summary["backend"] == backend and summary["notifier"] == notifier
    assert summary["aging_passes"] > 0 and summary["evictions"] > 0  # under pressure
    assert summary["notifier_calls"] >= 0 and 0 <= summary["young_recall"] <= 1


def tiny(backend: str, notifier: str, hw_af: bool = True) -> dict[str, Any]:
    return {
        "name": "backend-contract",
        "sim": {"duration_ms": 40, "seed": 5, "check_invariants": True, "lru_gen_snapshots": 1},
        "host": {"memory": "12MiB"},
        "vm": {"memory": "16MiB", "vcpus": 2, "backend": backend, "hw_af": hw_af},
        "mglru": {"notifier": notifier},
        "workload": {"kind": "zipf", "theta": 0.9, "think_ns": 100},
    }


@cache
def run_tiny(backend: str, notifier: str, hw_af: bool = True) -> dict[str, Any]:
    return simulate(scenario_from_dict(tiny(backend, notifier, hw_af))).summary


RUNS = [(n, True) for n in NAMES] + [("arm64", False)]


@pytest.mark.parametrize("notifier", ["per_page", "bitmap"])
@pytest.mark.parametrize(("name", "hw_af"), RUNS, ids=[f"{n}-hw_af={h}" for n, h in RUNS])
def test_short_run_gives_a_complete_summary(name: str, hw_af: bool, notifier: str) -> None:
    s = run_tiny(name, notifier, hw_af)
    assert_complete(s, name, notifier, hw_af)
    assert s["aging_lock"] == UPSTREAM_6_15[name]
    if name == "x86_tdp_noad" or not hw_af:
        assert s["faults_access_track"] > 0  # aged SPTEs fault on the next TLB fill
    if notifier == "bitmap":
        unsupported = name != "x86_tdp"  # upstream locks: only lockless x86 TDP is "fast"
        assert (s["notifier_unreliable"] > 0) is unsupported
        assert s["notifier_calls_bitmap"] > 0


# --- the backends x designs sweep file ---------------------------------------------------------

SMALL = ("sim.duration_ms=40", "vm.memory=16MiB", "host.memory=12MiB", "vm.vcpus=2",
         "sim.check_invariants=true", "sim.lru_gen_snapshots=1")


def expand(doc: Mapping[str, Any]) -> list[tuple[dict[str, Any], Any]]:
    """(varied values, scenario) per run: simulator.sweep's expansion, or the plain product."""
    try:
        from simulator.sweep import expand_sweep
    except ImportError:  # pragma: no cover - the sweep module is optional here
        table = doc["sweep"]
        runs = []
        for combo in itertools.product(*table.values()):
            values = dict(zip(table, combo, strict=True))
            run = apply_overrides(doc, [f"{k}={v}" for k, v in values.items()])
            runs.append((values, scenario_from_dict(run, str(SWEEP_FILE))))
        return runs
    sweep = expand_sweep(doc, str(SWEEP_FILE))
    return [(dict(p.factors), p.scenario) for p in sweep.points]


def test_sweep_file_runs_every_backend_and_design_completely() -> None:
    doc = apply_overrides(read_toml(SWEEP_FILE), SMALL)
    assert set(doc["sweep"]) == {"vm.backend", "mglru.notifier"}
    runs = expand(doc)
    combos = [(v["vm.backend"], v["mglru.notifier"]) for v, _ in runs]
    assert sorted(combos) == sorted(itertools.product(NAMES, DESIGNS))
    # no explicit aging lock: each backend ages the way the release does
    assert read_toml(SWEEP_FILE).get("vm", {}).get("aging_lock", "auto") == "auto"
    for values, sc in runs:
        assert sc.vm.aging_lock == PROFILES[sc.kernel.release].aging_lock(sc.vm.backend)
        assert sc.sim.duration_ms == 40 and sc.guest_pages == 4096  # reduced size
        assert_complete(simulate(sc).summary, values["vm.backend"], values["mglru.notifier"])

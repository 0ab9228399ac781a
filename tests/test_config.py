"""Tests of ``simulator.config``: sizes, validation errors, overrides, TOML round trips."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.config import (
    PAGE_SIZE,
    ConfigError,
    ExtraVmConfig,
    Scenario,
    apply_overrides,
    describe_keys,
    load_scenario,
    parse_override,
    parse_size,
    read_toml,
    scenario_from_dict,
    to_dict,
    to_toml,
)

MiB = 2**20


# --- parse_size -----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("4GiB", 4 * 2**30),
    ("256M", 256 * 2**20),
    ("1G", 2**30),
    ("4096", 4096),
    ("512KiB", 512 * 1024),
    ("2T", 2 * 2**40),
    ("0.5K", 512),
    ("1.5MiB", 3 * 2**19),
    ("64mib", 64 * 2**20),
    (" 8 M ", 8 * 2**20),
    ("4096B", 4096),
    (0, 0),
    (12345, 12345),
])
def test_parse_size_units(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected
    assert isinstance(parse_size(text), int)


@pytest.mark.parametrize("text", [
    "", "abc", "4 GiBs", "4P", "-1", "1.3", "0.1K", "4G4", "GiB", "1e3", -4096, True, False,
])
def test_parse_size_rejects(text: Any) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


# --- errors from scenario_from_dict ---------------------------------------------------------

def _err(doc: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        scenario_from_dict(doc, "scen.toml")
    return info.value


def test_defaults_build() -> None:
    sc = scenario_from_dict({})
    raw = Scenario()
    # every auto resolves through the default release (6.15): per_page, lockless x86 TDP
    assert (raw.mglru.notifier, raw.vm.aging_lock) == ("auto", "auto")
    assert (sc.mglru.notifier, sc.vm.aging_lock) == ("per_page", "none")
    assert sc.kernel.release == "6.15" and sc.kernel.promotion == "two"
    assert sc == dataclasses.replace(
        raw, kernel=sc.kernel, mglru=dataclasses.replace(raw.mglru, notifier="per_page"),
        vm=dataclasses.replace(raw.vm, aging_lock="none"))
    assert sc.guest_pages == 4 * 2**30 // PAGE_SIZE


def test_unknown_key_names_dotted_key_with_suggestion() -> None:
    e = _err({"vm": {"vcpu": 4}})
    assert e.key == "vm.vcpu"
    assert "did you mean 'vcpus'" in str(e)
    assert str(e).startswith("scen.toml: key 'vm.vcpu': ")


def test_unknown_nested_key() -> None:
    e = _err({"task": {"workload": {"thetta": 0.5}}})
    assert e.key == "task.workload.thetta"
    assert "did you mean 'theta'" in str(e)


def test_unknown_top_level_table() -> None:
    e = _err({"mglu": {"notifier": "blind"}})
    assert e.key == "mglu"
    assert "did you mean 'mglru'" in str(e)


def test_unknown_key_without_close_match_has_no_suggestion() -> None:
    e = _err({"sim": {"zzzzzz": 1}})
    assert e.key == "sim.zzzzzz"
    assert "did you mean" not in str(e)


@pytest.mark.parametrize(("doc", "key", "words"), [
    ({"vm": {"vcpus": True}}, "vm.vcpus", "integer"),          # bool is not an int
    ({"vm": {"vcpus": 2.0}}, "vm.vcpus", "integer"),
    ({"vm": {"vcpus": "4"}}, "vm.vcpus", "integer"),
    ({"sim": {"duration_ms": "100"}}, "sim.duration_ms", "number"),
    ({"sim": {"duration_ms": False}}, "sim.duration_ms", "number"),
    ({"sim": {"check_invariants": 1}}, "sim.check_invariants", "true or false"),
    ({"mglru": {"notifier": 3}}, "mglru.notifier", "string"),
    ({"vm": {"memory": "lots"}}, "vm.memory", "size"),
    ({"vm": {"memory": True}}, "vm.memory", "boolean"),
    ({"vm": 5}, "vm", "table"),
    ({"costs": {"pte_scan_ns": "fast"}}, "costs.pte_scan_ns", "number"),
])
def test_wrong_types(doc: dict[str, Any], key: str, words: str) -> None:
    e = _err(doc)
    assert e.key == key
    assert words in e.message


def test_int_accepted_for_float_and_coerced() -> None:
    sc = scenario_from_dict({"sim": {"duration_ms": 100}, "costs": {"pte_scan_ns": 7}})
    assert sc.sim.duration_ms == 100.0 and isinstance(sc.sim.duration_ms, float)
    assert sc.costs.pte_scan_ns == 7.0 and isinstance(sc.costs.pte_scan_ns, float)


def test_float_size_is_a_config_error_not_a_crash() -> None:
    """TOML ``memory = 4096.0`` (or 1.5) must give a ConfigError (CLI exit 2), not TypeError."""
    e = _err({"vm": {"memory": 67108864.5}})
    assert e.key == "vm.memory"
    e = _err({"host": {"memory": 50331648.0}})
    assert e.key == "host.memory"


@pytest.mark.parametrize(("doc", "key", "bound"), [
    ({"vm": {"vcpus": 0}}, "vm.vcpus", ">= 1"),
    ({"vm": {"vcpus": 1025}}, "vm.vcpus", "<= 1024"),
    ({"sim": {"duration_ms": 0}}, "sim.duration_ms", ">="),
    ({"sim": {"seed": -1}}, "sim.seed", ">= 0"),
    ({"host": {"wmark_low": 0.6}}, "host.wmark_low", "<= 0.5"),
    ({"workload": {"write_fraction": 1.5}}, "workload.write_fraction", "<= 1"),
    ({"vm": {"memory": "1MiB"}}, "vm.memory", ">="),
    ({"host": {"memory": "32KiB"}}, "host.memory", ">="),
    ({"costs": {"rmap_walk_ns": -1}}, "costs.rmap_walk_ns", ">= 0"),
])
def test_out_of_range(doc: dict[str, Any], key: str, bound: str) -> None:
    e = _err(doc)
    assert e.key == key
    assert bound in e.message


def test_range_bounds_are_inclusive() -> None:
    sc = scenario_from_dict({"vm": {"vcpus": 1024}, "host": {"wmark_low": 0.5,
                                                              "wmark_high": 0.5}})
    assert sc.vm.vcpus == 1024


@pytest.mark.parametrize(("doc", "key", "suggestion"), [
    ({"mglru": {"notifier": "per-page"}}, "mglru.notifier", "per_page"),
    ({"vm": {"backend": "x86-tdp"}}, "vm.backend", "x86_tdp"),
    ({"host": {"swap": "zrma"}}, "host.swap", "zram"),
    ({"workload": {"kind": "zipfian"}}, "workload.kind", "zipf"),
])
def test_bad_choice_with_suggestion(doc: dict[str, Any], key: str, suggestion: str) -> None:
    e = _err(doc)
    assert e.key == key
    assert "expected one of" in e.message
    assert f"did you mean '{suggestion}'" in e.message


# --- cross-key rules ------------------------------------------------------------------------

def test_wmark_high_below_low() -> None:
    e = _err({"host": {"wmark_low": 0.05, "wmark_high": 0.02}})
    assert e.key == "host.wmark_high"


def test_vm_memory_not_multiple_of_2mib() -> None:
    e = _err({"vm": {"memory": "3MiB"}})
    assert e.key == "vm.memory"
    assert "2MiB" in e.message
    # a multiple of 2 MiB is fine
    assert scenario_from_dict({"vm": {"memory": "6MiB"}}).guest_pages == 6 * MiB // PAGE_SIZE


def test_host_only_needs_task_memory() -> None:
    e = _err({"vm": {"enabled": False}})
    assert e.key == "task.memory"
    sc = scenario_from_dict({"vm": {"enabled": False}, "task": {"memory": "8MiB"}})
    assert sc.guest_pages == 0 and sc.task_pages == 2048


def test_host_only_ignores_vm_memory_alignment() -> None:
    sc = scenario_from_dict({"vm": {"enabled": False, "memory": "3MiB"},
                             "task": {"memory": "8MiB"}})
    assert sc.guest_pages == 0


def test_task_memory_page_multiple() -> None:
    e = _err({"task": {"memory": 4097}})
    assert e.key == "task.memory"


@pytest.mark.parametrize("lock", ["rmap", "read"])
def test_aging_lock_not_allowed_by_backend(lock: str) -> None:
    # x86 TDP MMU ages under the write lock (<6.15) or locklessly (6.15+), never per rmap/read
    e = _err({"vm": {"backend": "x86_tdp", "aging_lock": lock}})
    assert e.key == "vm.aging_lock"
    assert "x86_tdp" in e.message


@pytest.mark.parametrize(("lock", "release", "resolved"), [
    ("auto", "6.15", "none"), ("auto", "6.14", "write"), ("write", "6.15", "write"),
    ("none", "6.11", "none")])
def test_aging_lock_allowed_by_x86_tdp(lock: str, release: str, resolved: str) -> None:
    """``auto`` is the release's lock; an explicit one overrides it (a what-if)."""
    sc = scenario_from_dict({"vm": {"backend": "x86_tdp", "aging_lock": lock},
                             "kernel": {"release": release}})
    assert sc.vm.aging_lock == resolved


def test_sweep_table_is_ignored_by_the_model() -> None:
    sc = scenario_from_dict({"sweep": {"vm.vcpus": [1, 2]}})
    assert sc == scenario_from_dict({})


# --- files ----------------------------------------------------------------------------------

def test_toml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text('name = "x"\n[vm]\nvcpus = = 4\n')
    with pytest.raises(ConfigError) as info:
        read_toml(p)
    msg = str(info.value)
    assert str(p) in msg
    assert "line 3" in msg and "column" in msg
    assert "\n" not in msg


def test_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        read_toml(p)
    assert info.value.source == str(p)
    assert "no such file" in str(info.value)
    with pytest.raises(ConfigError):
        load_scenario(p)


def test_load_scenario_names_file_in_errors(tmp_path: Path) -> None:
    p = tmp_path / "s.toml"
    p.write_text("[vm]\nvcpus = 0\n")
    with pytest.raises(ConfigError) as info:
        load_scenario(p)
    assert info.value.source == str(p)
    assert info.value.key == "vm.vcpus"


def test_load_scenario_with_overrides_and_seed(tmp_path: Path) -> None:
    p = tmp_path / "s.toml"
    p.write_text('name = "t"\n[vm]\nvcpus = 3\nmemory = "64MiB"\n[sim]\nseed = 5\n')
    sc = load_scenario(p, ["vm.vcpus=7", "host.memory=32MiB"], seed=11)
    assert (sc.name, sc.vm.vcpus, sc.host.memory, sc.sim.seed) == ("t", 7, 32 * MiB, 11)
    assert sc.vm.memory == 64 * MiB


# --- --set overrides ------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "key", "value"), [
    ("vm.vcpus=4", "vm.vcpus", 4),
    ("sim.duration_ms=100", "sim.duration_ms", 100.0),
    ("sim.duration_ms = 2.5", "sim.duration_ms", 2.5),
    ("vm.enabled=false", "vm.enabled", False),
    ("sim.check_invariants=True", "sim.check_invariants", True),
    ("vm.memory=64MiB", "vm.memory", "64MiB"),
    ('mglru.notifier="blind"', "mglru.notifier", "blind"),
    ("mglru.notifier=blind", "mglru.notifier", "blind"),
    ("task.workload.theta=0.5", "task.workload.theta", 0.5),
    ("name=my run", "name", "my run"),
    ("costs.pte_scan_ns=3", "costs.pte_scan_ns", 3.0),
])
def test_parse_override_coerces(text: str, key: str, value: Any) -> None:
    k, v = parse_override(text)
    assert k == key
    assert v == value
    assert type(v) is type(value)


@pytest.mark.parametrize(("text", "key", "words"), [
    ("vm.vcpus", "vm.vcpus", "key=value"),
    ("vm.vcpu=4", "vm.vcpu", "did you mean 'vcpus'"),
    ("vm.vcpus=four", "vm.vcpus", "number"),
    ("vm.vcpus=4.5", "vm.vcpus", "number"),
    ("vm.enabled=yes", "vm.enabled", "true or false"),
    ("vm.vcpus.x=1", "vm.vcpus.x", "unknown key"),
    ("vmm.vcpus=1", "vmm.vcpus", "did you mean 'vm'"),
])
def test_parse_override_errors(text: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_override(text)
    assert info.value.source == "--set"
    assert info.value.key == key
    assert words in info.value.message


def test_apply_overrides_deep_copies_and_builds() -> None:
    doc: dict[str, Any] = {"vm": {"vcpus": 2, "memory": "64MiB"}, "host": {"memory": "48MiB"}}
    out = apply_overrides(doc, ["vm.vcpus=6", "mglru.notifier=blind", "sim.seed=9"])
    assert doc == {"vm": {"vcpus": 2, "memory": "64MiB"}, "host": {"memory": "48MiB"}}
    assert out["vm"] == {"vcpus": 6, "memory": "64MiB"}
    sc = scenario_from_dict(out)
    assert (sc.vm.vcpus, sc.mglru.notifier, sc.sim.seed) == (6, "blind", 9)
    assert sc.vm.memory == 64 * MiB and sc.host.memory == 48 * MiB


def test_apply_overrides_later_wins() -> None:
    out = apply_overrides({}, ["vm.vcpus=2", "vm.vcpus=5"])
    assert out == {"vm": {"vcpus": 5}}


def test_apply_overrides_value_still_validated() -> None:
    out = apply_overrides({}, ["vm.vcpus=0"])
    with pytest.raises(ConfigError) as info:
        scenario_from_dict(out)
    assert info.value.key == "vm.vcpus"


# --- to_toml round trip ---------------------------------------------------------------------

def _round_trip(sc: Scenario) -> Scenario:
    text = to_toml(sc)
    return scenario_from_dict(tomllib.loads(text))


@pytest.mark.parametrize("doc", [
    {},
    {"name": "x", "description": 'quote " and backslash \\ here',
     "vm": {"memory": "64MiB", "vcpus": 2}, "host": {"memory": "48MiB", "swap": "ssd"}},
    {"vm": {"enabled": False}, "task": {"memory": "32MiB", "workload": {"kind": "uniform"}}},
    {"sim": {"duration_ms": 0.001, "seed": 2**63 - 1}, "workload": {"footprint": 1e-6},
     "costs": {"tlb_flush_ns": 1e10, "pte_scan_ns": 0.1}},
    {"mglru": {"notifier": "blind", "aging": "interval", "aging_interval_ms": 12.5}},
])
def test_to_toml_round_trip_examples(doc: dict[str, Any]) -> None:
    sc = scenario_from_dict(doc)
    assert _round_trip(sc) == sc


def test_to_toml_round_trip_multiline_description() -> None:
    """A TOML scenario may use a multi-line description; config.toml must stay valid TOML."""
    src = 'name = "m"\ndescription = """first line\nsecond line\tand a tab"""\n'
    sc = scenario_from_dict(tomllib.loads(src))
    assert "\n" in sc.description
    assert _round_trip(sc) == sc


_text = st.text(max_size=20)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,20}", fullmatch=True),
    description=_text,
    vcpus=st.integers(1, 1024),
    vm_mib=st.integers(2, 4096).map(lambda k: k // 2 * 2 or 2),
    duration=st.floats(0.001, 3.6e6, allow_nan=False),
    theta=st.floats(0.0, 5.0, allow_nan=False),
    notifier=st.sampled_from(["blind", "per_page"]),
    seed=st.integers(0, 2**63 - 1),
    check=st.booleans(),
    pte_ns=st.floats(0.0, 1e10, allow_nan=False),
)
def test_to_toml_round_trip_property(name: str, description: str, vcpus: int, vm_mib: int,
                                     duration: float, theta: float, notifier: str, seed: int,
                                     check: bool, pte_ns: float) -> None:
    sc = scenario_from_dict({
        "name": name, "description": description,
        "sim": {"duration_ms": duration, "seed": seed, "check_invariants": check},
        "vm": {"vcpus": vcpus, "memory": vm_mib * MiB},
        "workload": {"theta": theta}, "mglru": {"notifier": notifier},
        "costs": {"pte_scan_ns": pte_ns},
    })
    assert _round_trip(sc) == sc


def test_to_dict_sizes_in_bytes() -> None:
    d = to_dict(scenario_from_dict({"vm": {"memory": "64MiB"}}))
    assert d["vm"]["memory"] == 64 * MiB


# --- describe_keys --------------------------------------------------------------------------

def _leaves(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_leaves(v, prefix + k + "."))
        else:
            out[prefix + k] = v
    return out


def test_describe_keys_lists_every_leaf_key() -> None:
    rows = describe_keys()
    keys = [k for k, _, _ in rows]
    assert len(keys) == len(set(keys))
    # a scenario with one extra VM named <name> has exactly the listed leaves
    doc = to_dict(scenario_from_dict({"vms": {"x": {}}}))
    doc["vms"] = {"<name>": doc["vms"]["x"]}
    leaves = _leaves(doc)
    assert set(keys) == set(leaves)
    # every listed default is the real default, before the release resolves the autos
    raw = _leaves(to_dict(Scenario(vms={"<name>": ExtraVmConfig()})))
    for key, default, _doc in rows:
        assert default == repr(raw[key]), key


def test_describe_keys_documents_config_sections() -> None:
    rows = {k: doc for k, _, doc in describe_keys()}
    for section in ("sim", "host", "vm", "mglru", "workload", "costs"):
        sec_keys = [k for k in rows if k.startswith(section + ".")]
        assert sec_keys, section
        assert all(rows[k] for k in sec_keys), f"undocumented key in [{section}]"


def test_every_leaf_key_is_settable() -> None:
    doc = to_dict(scenario_from_dict({"vms": {"x": {}}}))
    for key, _, _ in describe_keys():
        if key in ("name", "description"):
            continue
        key = key.replace("<name>", "x")
        leaf = _leaves(doc)[key]
        text = str(leaf).lower() if isinstance(leaf, bool) else str(leaf)
        k, _ = parse_override(f"{key}={text}")
        assert k == key


def test_scenario_is_frozen() -> None:
    sc = Scenario()
    with pytest.raises(dataclasses.FrozenInstanceError):
        sc.vm = sc.vm  # type: ignore[misc]

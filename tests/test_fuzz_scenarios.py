"""Fuzzing scenario documents: the only outcomes are a run or a clean ConfigError.

Hypothesis builds documents from the real key space (every key of ``describe_keys``), each
value drawn from values of the right kind, of a wrong kind, out of range or misspelt, plus
unknown keys and wrong nesting. Whatever it builds, ``scenario_from_dict`` must either return
a Scenario or raise ConfigError (whose message names the key), and a returned scenario must
simulate cleanly (with invariants checked) once shrunk to a small size.
"""

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.config import ConfigError, describe_keys, scenario_from_dict
from simulator.runner import simulate

KEYS = [k.replace("<name>", "extra") for k, _, _ in describe_keys()]

VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 10**12), st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["4GiB", "64MiB", "2MiB", "1G", "-1", "0", "12Q", "per_page", "bitmap",
                     "fast_only", "blind", "x86_tdp", "arm64", "generic", "x86_shadow",
                     "x86_tdp_noad", "write", "read", "none", "rmap", "auto", "lru", "mglru",
                     "zipf", "uniform", "sequential", "zram", "ssd", "reclaim", "interval"]),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


def _set(doc: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = doc
    for part in parts[:-1]:
        nxt = node.setdefault(part, {})
        if not isinstance(nxt, dict):
            return
        node = nxt
    node[parts[-1]] = value


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=6)):
        _set(doc, key, draw(VALUES))
    if draw(st.booleans()):
        _set(doc, draw(st.sampled_from(["vm.vcpu", "sim.sed", "hots.memory", "zzz",
                                         "mglru.notifer", "vms.x.workload.knd"])), 1)
    return doc


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_documents_parse_or_fail_cleanly(doc: dict[str, Any]) -> None:
    try:
        scenario_from_dict(doc, "fuzz.toml")
    except ConfigError as e:
        line = str(e)
        assert line.startswith("fuzz.toml: ") and "\n" not in line


SMALL = {"sim": {"duration_ms": 3, "check_invariants": True, "sample_interval_ms": 1},
         "host": {"memory": "8MiB"}, "vm": {"memory": "8MiB", "vcpus": 2},
         "task": {"memory": "0"}}
RUNNABLE = {
    "vm.backend": st.sampled_from(["x86_tdp", "x86_tdp_noad", "x86_shadow", "arm64",
                                   "generic"]),
    "mglru.notifier": st.sampled_from(["blind", "per_page", "bitmap", "fast_only"]),
    "mglru.unreliable_fallback": st.sampled_from(["blind", "per_page"]),
    "mglru.aging": st.sampled_from(["reclaim", "interval", "back_to_back"]),
    "mglru.aging_interval_ms": st.floats(0.1, 5),
    "vm.tlb_entries": st.integers(0, 64),
    "vm.tlb_flush_on_age": st.booleans(),
    "vm.quantum_accesses": st.integers(1, 512),
    "workload.kind": st.sampled_from(["zipf", "uniform", "sequential"]),
    "workload.theta": st.floats(0, 2),
    "workload.footprint": st.floats(0.01, 1),
    "host.memory": st.sampled_from(["64KiB", "1MiB", "4MiB", "8MiB"]),
    "host.policy": st.sampled_from(["mglru", "lru"]),
    "mglru.bloom_filter": st.booleans(),
    "mglru.look_around": st.booleans(),
    "sim.seed": st.integers(0, 2**32),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({}, optional=RUNNABLE))
def test_valid_small_scenarios_run_with_invariants(over: dict[str, Any]) -> None:
    doc: dict[str, Any] = {k: dict(v) for k, v in SMALL.items()}
    for key, value in over.items():
        _set(doc, key, value)
    try:
        sc = scenario_from_dict(doc)
    except ConfigError:
        return  # e.g. a lock mode the backend cannot take: a clean refusal is fine
    row = simulate(sc).summary
    assert row["accesses"] > 0
    assert row["sim_time_ns"] == 3_000_000

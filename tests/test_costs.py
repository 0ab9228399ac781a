"""Every cost constant with its plausible range and source, and which backend charges what.

Expected behaviour (issue "mmu_lock and KVM costs from mechanism"):

- every constant of ``simulator.costs.CostConfig`` carries, as structured fields, a plausible
  range around its value and a source tag (src, derived, estimate, fit);
  ``cost_ranges()`` returns them machine-readable, ``mglru-sim list keys`` and the docs show them;
- range-aware KVM aging: one call over a range descends once and steps leaf by leaf (TDP MMU,
  arm64 stage 2), so a 64-page call costs far less than 64 one-page calls; the shadow MMU
  walks an rmap head per gfn and a generic arch looks each gfn up; each young leaf cleared
  adds its cost;
- each backend charges its own walker's constants; a constant two backends charge is in
  ``SHARED_COSTS`` with the reason, and docs/backends.md says it.
"""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.costs import TAGS, CostConfig, cost_ranges
from simulator.kvm.backends import BACKENDS, SHARED_COSTS, make_backend

ROOT = Path(__file__).resolve().parents[1]
N = 1024


def test_every_constant_has_a_range_and_a_source() -> None:
    ranges = cost_ranges()
    assert set(ranges) == {f.name for f in fields(CostConfig)}
    for name, (value, lo, hi, tag) in ranges.items():
        assert 0 <= lo <= value <= hi, name
        assert tag in TAGS, name
        assert lo < hi or tag == "src", name


def test_cost_ranges_report_the_given_values() -> None:
    c = replace(CostConfig(), zap_ns=123.0)
    assert cost_ranges(c)["zap_ns"][0] == 123.0
    assert cost_ranges(c)["zap_ns"][1:] == cost_ranges()["zap_ns"][1:]


def test_list_keys_shows_the_ranges(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "keys"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("costs.line_other_socket_ns"))
    assert "plausible 113-178, src" in line


def test_docs_list_every_constant() -> None:
    docs = (ROOT / "docs" / "calibration.md").read_text() + (
        ROOT / "docs" / "backends.md").read_text()
    missing = [f.name for f in fields(CostConfig) if f"`{f.name}`" not in docs]
    assert not missing


@pytest.mark.parametrize("name", list(BACKENDS))
def test_a_range_call_descends_once(name: str) -> None:
    b = make_backend(name, N, "auto", CostConfig())
    one = b.handler_ns(1, 1, 1, 0)
    many = b.handler_ns(1, 64, 64, 0)
    separate = 64 * one
    if name == "generic":  # no range iterator: a walk per gfn
        assert many == pytest.approx(separate)
    elif name == "x86_shadow":  # no descent either: an rmap head (and its chain) per gfn
        assert 0.8 * separate < many < separate
    else:
        assert many < separate / 3
    assert b.handler_ns(1, 64, 64, 10) > many  # clearing young leaves costs


def aging_constants() -> set[str]:
    return {c for cls in BACKENDS.values() for c in cls.aging_costs}


@pytest.mark.parametrize("name", list(BACKENDS))
def test_a_backend_charges_exactly_its_declared_constants(name: str) -> None:
    """Perturb every walker constant: only the backend's own move its handler's cost."""
    cls = BACKENDS[name]
    for const in sorted(aging_constants()):
        base = CostConfig()
        bumped = replace(base, **{const: getattr(base, const) * 2 + 1})
        moved = False
        for lock in cls.aging_locks:
            a = make_backend(name, N, lock, base).handler_ns(2, 64, 60, 10)
            b = make_backend(name, N, lock, bumped).handler_ns(2, 64, 60, 10)
            moved |= a != b
        assert moved == (const in cls.aging_costs), const


def test_shared_constants_are_declared_and_documented() -> None:
    users: dict[str, list[str]] = {}
    for name, cls in BACKENDS.items():
        for const in cls.aging_costs:
            users.setdefault(const, []).append(name)
    shared = {c for c, names in users.items() if len(names) > 1}
    assert shared <= set(SHARED_COSTS)
    doc = (ROOT / "docs" / "backends.md").read_text()
    for const in SHARED_COSTS:
        assert f"`{const}`" in doc
    # arm64 has its own walker constants (x86's are not reused for it)
    assert not set(BACKENDS["arm64"].aging_costs) & set(BACKENDS["x86_tdp"].aging_costs)

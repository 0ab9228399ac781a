"""Estimates over seeds, their digits, the sentences about changes, and the sensitivity
machinery (one-at-a-time, Latin hypercube, verdicts and bisection) on crafted inputs."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.questions.estimate import Effect, Estimate, fmt_estimate, sig
from simulator.questions.prose import change, value
from simulator.questions.sensitivity import (
    Conclusion,
    Point,
    Uncertain,
    judge,
    latin_hypercube,
    one_at_a_time,
    refine,
)


# --- estimates ----------------------------------------------------------------------------
def test_identical_seeds_are_deterministic_with_no_interval() -> None:
    e = Estimate.of([0.8490000000000001, 0.8490000000000001, 0.8490000000000001])
    assert e.deterministic and e.sd == 0.0 and e.half_width == 0.0
    assert fmt_estimate(e) == "0.8490"


def test_t_interval_of_three_seeds() -> None:
    e = Estimate.of([1.0, 2.0, 3.0])
    # t(0.975, 2) = 4.3027, sd = 1, n = 3
    assert e.half_width == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert not e.deterministic


def test_one_seed_has_no_interval() -> None:
    e = Estimate.of([5.0])
    assert math.isnan(e.half_width) and not e.deterministic
    assert fmt_estimate(e) == "5.000"


def test_welch_interval_and_resolution() -> None:
    a, b = Estimate.of([10.0, 11.0, 12.0]), Estimate.of([20.0, 21.0, 22.0])
    eff = Effect(a, b)
    # equal variances and sizes: Welch df = 4, se = sqrt(2/3)
    assert eff.half_width == pytest.approx(2.776445 * math.sqrt(2 / 3), rel=1e-6)
    assert eff.resolved
    assert not Effect(a, Estimate.of([10.5, 11.5, 12.5])).resolved


def test_deterministic_effect_is_resolved_unless_zero() -> None:
    a, b = Estimate.of([3.0] * 3), Estimate.of([4.0] * 3)
    assert Effect(a, b).deterministic and Effect(a, b).resolved
    assert not Effect(a, a).resolved


def test_significant_figures() -> None:
    assert sig(1.0) == "1.000"
    assert sig(12345.6) == "12,350"
    assert sig(543744, integer=True) == "543,744"
    assert sig(-2.85e-16) == "-2.850e-16"
    assert "e" not in sig(0.00123)


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=2,
                max_size=8))
def test_printed_digits_never_exceed_the_interval(values: list[float]) -> None:
    """The mean's last printed digit is at the half-width's second significant figure: the
    text never claims more precision than the seeds give."""
    e = Estimate.of(values)
    text = fmt_estimate(e)
    if e.half_width == 0:
        return
    mean_text, h_text = text.split(" ± ")
    decimals = len(mean_text.split(".")[1]) if "." in mean_text else 0
    h = float(h_text.replace(",", ""))
    assert decimals == (len(h_text.split(".")[1]) if "." in h_text else 0)
    # two significant figures of the half-width (rounding can carry into a third place)
    assert h == pytest.approx(e.half_width, rel=0.06, abs=10 ** -decimals)


# --- sentences ----------------------------------------------------------------------------
def test_unchanged_is_said_so_not_from_1_to_1() -> None:
    one = Estimate.of([1.0, 1.0, 1.0])
    text = change("the walk's young recall", Effect(one, Estimate.of([0.99999] * 3)))
    assert "unchanged at 1.000" in text and "from 1" not in text
    assert "deterministic" in text


def test_deterministic_change_reports_no_seed_test() -> None:
    text = change("the aging pass", Effect(Estimate.of([12.1] * 3), Estimate.of([4.91] * 3)),
                  "ms")
    assert text.startswith("lowers the aging pass from 12.10 ms to 4.910 ms")
    assert "deterministic" in text and "seed noise" not in text and "interval" not in text


def test_unresolved_change_asks_for_more_seeds() -> None:
    text = change("refaults", Effect(Estimate.of([10.0, 11.0, 12.0]),
                                     Estimate.of([10.5, 11.8, 12.2])))
    assert "not resolved" in text and "more seeds" in text
    assert re.search(r"from 11\.0 to 11\.5", text)


def test_resolved_change_names_its_interval() -> None:
    text = change("refaults", Effect(Estimate.of([10.0, 11.0, 12.0]),
                                     Estimate.of([20.0, 21.0, 22.0])))
    assert text.startswith("raises refaults from 11.0 to 21.0 (+10.0, +91%; 95% interval")
    assert "excluding zero" in text


def test_value_sentence() -> None:
    assert value("recall", Estimate.of([0.5] * 4)) == "recall is 0.5000 (deterministic)"


# --- sensitivity --------------------------------------------------------------------------
X = Uncertain("costs.x_ns", 20.0, 10.0, 60.0, "estimate")
Y = Uncertain("costs.y_ns", 5.0, 2.0, 15.0, "estimate")


def test_one_at_a_time_moves_one_constant_to_each_end() -> None:
    pts = one_at_a_time([X, Y])
    assert [p.values for p in pts] == [(("costs.x_ns", 10.0),), (("costs.x_ns", 60.0),),
                                       (("costs.y_ns", 2.0),), (("costs.y_ns", 15.0),)]
    assert pts[1].overrides() == ["costs.x_ns=60.0"]


def test_latin_hypercube_uses_each_stratum_once_and_is_seeded() -> None:
    n = 7
    pts = latin_hypercube([X, Y], n, seed=3)
    assert pts == latin_hypercube([X, Y], n, seed=3)
    assert pts != latin_hypercube([X, Y], n, seed=4)
    for j, u in enumerate((X, Y)):
        strata = sorted(int((p.values[j][1] - u.lo) / (u.hi - u.lo) * n) for p in pts)
        assert strata == list(range(n))


def _claim(x: float, y: float) -> list[Conclusion]:
    """A crafted answer: 'bitmap is cheaper' holds while x < 41.3; 'always' always holds;
    'joint' flips only when both constants are high."""
    return [Conclusion("cheaper", "the bitmap is cheaper", x < 41.3, 41.3 - x),
            Conclusion("always", "a claim that always holds", True, 1.0),
            Conclusion("joint", "a claim with an interaction", not (x > 45 and y > 12), 0.0)]


def _evaluate(points: Sequence[Point]) -> Mapping[Point, Sequence[Conclusion]]:
    out = {}
    for p in points:
        vals = {"costs.x_ns": X.value, "costs.y_ns": Y.value, **dict(p.values)}
        out[p] = _claim(vals["costs.x_ns"], vals["costs.y_ns"])
    return out


def test_verdicts_locate_a_flip_inside_the_range() -> None:
    points = one_at_a_time([X, Y]) + latin_hypercube([X, Y], 10, seed=1)
    verdicts = {v.key: v for v in judge(_claim(X.value, Y.value), _evaluate(points), [X, Y])}
    assert verdicts["always"].robust
    assert verdicts["always"].sentence() == "holds over the plausible range (14 sensitivity points)"
    cheaper = verdicts["cheaper"]
    assert not cheaper.robust and cheaper.thresholds == {("costs.x_ns", "up"): (20.0, 60.0)}
    refine(list(verdicts.values()), _evaluate, rounds=6)
    ok, bad = cheaper.thresholds[("costs.x_ns", "up")]
    assert ok < 41.3 <= bad and bad - ok == pytest.approx(40.0 / 2 ** 6)
    assert cheaper.sentence().startswith("flips when costs.x_ns exceeds 41.")


def test_a_flip_only_in_the_joint_sample_is_reported_as_such() -> None:
    points = one_at_a_time([X, Y]) + latin_hypercube([X, Y], 40, seed=2)
    joint = next(v for v in judge(_claim(X.value, Y.value), _evaluate(points), [X, Y])
                 if v.key == "joint")
    assert not joint.robust and not joint.thresholds
    assert joint.sentence().startswith("flips only for joint settings")

"""Does a conclusion survive the constants nobody measured? One-at-a-time and Latin-hypercube.

A question's answer rests on cost constants, several of them estimates (``simulator.costs``
gives each a plausible range and a source tag). For each constant the question declares it
depends on (``[question] sensitivity = [...]``), the sensitivity pass re-runs the question's
sweep with

1. **one at a time** (OAT): the constant at the low end, then at the high end of its range,
   every other constant at its value;
2. a **Latin-hypercube** sample over all of them together (``n`` points, seeded, so the pass
   is reproducible): each constant's range is cut into ``n`` equal strata and each stratum is
   used once, which covers the joint range far better than ``n`` random points;

and re-evaluates every conclusion of the answer (:class:`Conclusion`) on each run. A
conclusion *holds over the plausible range* when it holds at every point; otherwise the
verdict names the constant and the value where it flips. For an OAT flip the threshold is
located by bisection between the value and the end (``refine`` rounds), so the text can say
"flips when costs.x exceeds 41"; a flip seen only in the joint sample is reported with the
sample's values.

The pass runs one seed per point (the first of the question's seeds): it asks how the answer
moves with the constants, which the seed spread of the main run already separates from noise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from simulator.questions.estimate import sig


@dataclass(frozen=True, slots=True)
class Conclusion:
    """One checkable claim of a finding: ``holds`` is the claim's truth in one run set, and
    ``value`` the quantity it is about (e.g. the lock's share of the gain, in %)."""

    key: str
    """Stable across runs: which claim this is (e.g. ``"x86_tdp 8 vCPUs: lock share > 50%"``)."""
    claim: str
    """The claim as the summary states it."""
    holds: bool
    value: float


@dataclass(frozen=True, slots=True)
class Uncertain:
    """A constant with its plausible range, as ``simulator.costs.cost_ranges`` reports it."""

    key: str
    """The scenario key, e.g. ``costs.notifier_call_ns``."""
    value: float
    lo: float
    hi: float
    tag: str

    def at(self, x: float) -> tuple[str, float]:
        return self.key, float(x)


@dataclass(frozen=True, slots=True)
class Point:
    """One setting of the uncertain constants (only the moved ones are listed)."""

    label: str
    values: tuple[tuple[str, float], ...]
    kind: str = "oat"
    """``oat``, ``lhs`` or ``bisect``."""

    def overrides(self) -> list[str]:
        return [f"{k}={v!r}" for k, v in self.values]

    @property
    def slug(self) -> str:
        """A folder name for the point's runs."""
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in self.label)


def one_at_a_time(constants: Sequence[Uncertain]) -> list[Point]:
    """Each constant at the low and at the high end of its range, the others at their value."""
    points = []
    for u in constants:
        for end, x in (("lo", u.lo), ("hi", u.hi)):
            if x != u.value:
                points.append(Point(f"{u.key}={end}", (u.at(x),), "oat"))
    return points


def latin_hypercube(constants: Sequence[Uncertain], n: int, seed: int) -> list[Point]:
    """``n`` points, each constant's range cut into ``n`` strata used once each (seeded)."""
    if n <= 0 or not constants:
        return []
    rng = np.random.default_rng(seed)
    d = len(constants)
    # stratum i of each dimension, in a random order per dimension, jittered inside it
    unit = (np.argsort(rng.random((n, d)), axis=0) + rng.random((n, d))) / n
    points = []
    for i in range(n):
        values = tuple(u.at(u.lo + unit[i, j] * (u.hi - u.lo)) for j, u in enumerate(constants))
        points.append(Point(f"lhs{i}", values, "lhs"))
    return points


@dataclass(slots=True)
class Verdict:
    """How one conclusion fared over the sensitivity points."""

    key: str
    claim: str
    holds_nominal: bool
    points: int = 0
    flips: list[tuple[Point, float]] = field(default_factory=list)
    """Points where the conclusion's truth differs from the nominal run, with the value."""
    thresholds: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    """Per (constant, ``"up"`` or ``"down"``) that flips it one at a time: (last value where
    it held, first where it flipped), narrowed by bisection."""

    @property
    def robust(self) -> bool:
        return not self.flips

    def sentence(self) -> str:
        """``"holds over the plausible range (N sensitivity points)"`` or where it flips (a
        point is one setting of the constants, with the runs of every configuration)."""
        if self.robust:
            return f"holds over the plausible range ({self.points} sensitivity points)"
        parts = []
        for (key, way), (ok, bad) in sorted(self.thresholds.items()):
            word = "exceeds" if way == "up" else "falls below"
            parts.append(f"flips when {key} {word} {sig((ok + bad) / 2, 3)}"
                         f" (holds at {sig(ok, 3)}, not at {sig(bad, 3)})")
        joint = [p for p, _ in self.flips if p.kind == "lhs"]
        if joint and not parts:
            first = joint[0]
            setting = ", ".join(f"{k}={sig(v, 3)}" for k, v in first.values)
            parts.append(f"flips only for joint settings ({len(joint)} of the Latin-hypercube "
                         f"points, e.g. {setting})")
        elif joint:
            parts.append(f"and at {len(joint)} Latin-hypercube point(s)")
        return "; ".join(parts)


def judge(nominal: Sequence[Conclusion], results: Mapping[Point, Sequence[Conclusion]],
          constants: Sequence[Uncertain]) -> list[Verdict]:
    """Compare each conclusion's truth at every point with the nominal run."""
    verdicts = {c.key: Verdict(c.key, c.claim, c.holds) for c in nominal}
    for point, conclusions in results.items():
        got = {c.key: c for c in conclusions}
        for key, v in verdicts.items():
            c = got.get(key)
            if c is None:
                continue  # the point lost the configuration (a failed run): not a flip
            v.points += 1
            if c.holds != v.holds_nominal:
                v.flips.append((point, c.value))
    nominal_of = {u.key: u.value for u in constants}
    for v in verdicts.values():
        for point, _ in v.flips:
            if point.kind == "oat":
                ((key, bad),) = point.values
                ok = nominal_of[key]
                v.thresholds[(key, "up" if bad > ok else "down")] = (ok, bad)
    return list(verdicts.values())


def bisection_points(verdicts: Sequence[Verdict]) -> dict[tuple[str, str, str], Point]:
    """The next bisection point for every (conclusion, constant, direction) OAT flip: the
    midpoint between the last value where it held and the first where it flipped."""
    out: dict[tuple[str, str, str], Point] = {}
    for v in verdicts:
        for (key, way), (ok, bad) in v.thresholds.items():
            mid = (ok + bad) / 2
            out[(v.key, key, way)] = Point(f"{key}={sig(mid, 6)}", ((key, mid),), "bisect")
    return out


def refine(verdicts: Sequence[Verdict],
           evaluate: Callable[[Sequence[Point]], Mapping[Point, Sequence[Conclusion]]],
           rounds: int) -> None:
    """Narrow each OAT flip's threshold by ``rounds`` bisection steps (``evaluate`` runs a
    batch of points and returns their conclusions)."""
    by_key = {v.key: v for v in verdicts}
    for _ in range(rounds):
        todo = bisection_points(verdicts)
        if not todo:
            return
        unique = {p.label: p for p in todo.values()}
        results = evaluate(list(unique.values()))
        for (ckey, key, way), point in todo.items():
            got = {c.key: c for c in results.get(unique[point.label], ())}
            c = got.get(ckey)
            if c is None:
                continue
            v = by_key[ckey]
            ok, bad = v.thresholds[(key, way)]
            mid = point.values[0][1]
            v.thresholds[(key, way)] = (mid, bad) if c.holds == v.holds_nominal else (ok, mid)


__all__ = ["Conclusion", "Point", "Uncertain", "Verdict", "bisection_points", "judge",
           "latin_hypercube", "one_at_a_time", "refine"]

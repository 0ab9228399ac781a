"""Sentences about numbers, written the way a careful engineer would write them.

Every generated finding describes a change through :func:`change`, so the rules live in one
place: both values printed to the digits the seeds support (or 4 significant figures when the
configuration is deterministic), "unchanged at X" when they print the same, the direction
as a verb, and a qualifier that says what backs the claim: deterministic runs, a 95 % interval
over the seeds that excludes zero, or an interval that does not (more seeds needed).
"""

from __future__ import annotations

import math

from simulator.questions.estimate import (
    DETERMINISTIC_DIGITS,
    Effect,
    Estimate,
    digits_for,
    fmt_estimate,
    grouped,
    sig,
)


def printed(effect: Effect, integer: bool = False) -> tuple[str, str, str]:
    """``before``, ``after`` and the change, printed with one shared precision (the strings
    :func:`change` writes, for the tables behind a sentence)."""
    h = effect.half_width
    a, b, d = effect.before.mean, effect.after.mean, effect.diff
    if math.isnan(h) or h == 0:
        return (sig(a, integer=integer), sig(b, integer=integer),
                sig(d, integer=integer))
    n = digits_for(h)
    return grouped(round(a, n), n), grouped(round(b, n), n), grouped(round(d, n), n)


def half_width_text(effect: Effect) -> str:
    """The 95 % half-width of the change as :func:`qualifier` prints it (``"0"`` when
    deterministic, ``"-"`` with one seed)."""
    h = effect.half_width
    if math.isnan(h):
        return "-"
    return grouped(round(h, digits_for(h)), digits_for(h)) if h > 0 else "0"


def percent_text(effect: Effect) -> str:
    """The relative change in % as :func:`change` prints it (``"-"`` when undefined or below
    0.01 %, where it is left out)."""
    rel = effect.relative
    if math.isnan(rel) or math.isinf(rel) or abs(100 * rel) < 0.01:
        return "-"  # below 0.01 % the absolute change says it better
    return f"{'+' if effect.diff > 0 else ''}{sig(100 * rel, 2)}"


def qualifier(effect: Effect) -> str:
    """What backs a stated change (no leading punctuation)."""
    if effect.deterministic:
        return "deterministic: every seed gives these values"
    h = effect.half_width
    n = min(effect.before.n, effect.after.n)
    if math.isnan(h):
        return "one seed: no interval"
    hw = half_width_text(effect)
    if effect.resolved:
        return f"95% interval of the change ±{hw} over {n} seeds, excluding zero"
    return (f"not resolved: the 95% interval of the change (±{hw}, {n} seeds) includes zero; "
            "more seeds are needed to tell")


def change(metric: str, effect: Effect, unit: str = "", integer: bool = False) -> str:
    """``"lowers the aging pass from 12.1 ms to 4.91 ms (-7.19 ms, -59%; ...)"`` or
    ``"leaves young recall unchanged at 1.000 (deterministic ...)"``.

    ``unit`` is appended to each value (with a space unless it is ``%``).
    """
    a, b, d = printed(effect, integer)
    u = "" if not unit else (unit if unit == "%" else f" {unit}")
    if a == b:
        how = f"to {DETERMINISTIC_DIGITS} s.f.; " if effect.deterministic else ""
        return f"leaves {metric} unchanged at {a}{u} ({how}{qualifier(effect)})"
    verb = "raises" if effect.diff > 0 else "lowers"
    sign = "+" if effect.diff > 0 else ""
    pct = "" if percent_text(effect) == "-" else f", {percent_text(effect)}%"
    return f"{verb} {metric} from {a}{u} to {b}{u} ({sign}{d}{u}{pct}; {qualifier(effect)})"


def value(metric: str, e: Estimate, unit: str = "", integer: bool = False) -> str:
    """``"young recall is 0.912 ± 0.013"`` or ``"... is 1.000 (deterministic)"``."""
    u = "" if not unit else (unit if unit == "%" else f" {unit}")
    tail = " (deterministic)" if e.deterministic else ""
    return f"{metric} is {fmt_estimate(e, integer=integer)}{u}{tail}"


__all__ = ["change", "half_width_text", "percent_text", "printed", "qualifier", "value"]

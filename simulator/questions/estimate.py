"""Estimates over seeds and how many digits they deserve.

A question compares configurations, each run with several seeds. This module turns the seeds of
one metric into an :class:`Estimate` (mean, sample standard deviation, a 95 % confidence
interval of the mean from Student's t) and two estimates into an :class:`Effect` (the
difference of the means with a Welch interval), and it decides how to print them:

- a *deterministic* metric (every seed gave the same value, e.g. a memstress run whose only
  random input is unused) has no interval; it is printed to 4 significant figures and said to
  be deterministic, never put through a seed test that it would pass trivially;
- otherwise the interval's half-width sets the last printed digit (two significant figures of
  the half-width), so a number never claims more precision than the seeds give it;
- an effect is *resolved* when its interval excludes zero, and the text says so, or says that
  more seeds are needed.

Why t and not a bootstrap: the questions run 3-5 seeds per configuration, and a bootstrap of 3
values cannot produce an interval wider than their range; the t interval is the standard small
sample answer for a mean, and Welch's form does not assume equal variances.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats as _stats

CONFIDENCE = 0.95
DETERMINISTIC_DIGITS = 4
"""Significant figures of a value that has no seed spread."""


def t_quantile(df: float) -> float:
    """The two-sided ``CONFIDENCE`` quantile of Student's t with ``df`` degrees of freedom."""
    return float(_stats.t.ppf(0.5 + CONFIDENCE / 2, df))


@dataclass(frozen=True, slots=True)
class Estimate:
    """One metric of one configuration over its seeds."""

    mean: float
    sd: float
    n: int
    lo: float
    hi: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Estimate:
        vals = [float(v) for v in values if not math.isnan(float(v))]
        if not vals:
            raise ValueError("an estimate needs at least one value")
        n = len(vals)
        mean = math.fsum(vals) / n
        sd = math.sqrt(math.fsum((v - mean) ** 2 for v in vals) / (n - 1)) if n > 1 else 0.0
        if max(vals) == min(vals):
            sd = 0.0  # identical seeds: no rounding residue from the mean
        return cls(mean, sd, n, min(vals), max(vals))

    @property
    def deterministic(self) -> bool:
        """Every seed gave the same value (with at least two seeds to say so)."""
        return self.n > 1 and self.lo == self.hi

    @property
    def half_width(self) -> float:
        """Half-width of the confidence interval of the mean; NaN with one seed, 0 when
        deterministic."""
        if self.n < 2:
            return float("nan")
        if self.deterministic:
            return 0.0
        return t_quantile(self.n - 1) * self.sd / math.sqrt(self.n)

    def scaled(self, divisor: float) -> Estimate:
        return Estimate(self.mean / divisor, self.sd / divisor, self.n, self.lo / divisor,
                        self.hi / divisor)


@dataclass(frozen=True, slots=True)
class Effect:
    """``after - before`` for two estimates, with a Welch confidence interval."""

    before: Estimate
    after: Estimate

    @property
    def diff(self) -> float:
        return self.after.mean - self.before.mean

    @property
    def deterministic(self) -> bool:
        return self.before.deterministic and self.after.deterministic

    @property
    def half_width(self) -> float:
        a, b = self.before, self.after
        if self.deterministic:
            return 0.0
        if a.n < 2 or b.n < 2:
            return float("nan")
        va, vb = a.sd ** 2 / a.n, b.sd ** 2 / b.n
        se = math.sqrt(va + vb)
        # Welch-Satterthwaite degrees of freedom (a deterministic side contributes none)
        denom = (va ** 2 / (a.n - 1) if va else 0.0) + (vb ** 2 / (b.n - 1) if vb else 0.0)
        df = (va + vb) ** 2 / denom
        return t_quantile(df) * se

    @property
    def resolved(self) -> bool:
        """The interval excludes zero (always true for a deterministic nonzero change)."""
        h = self.half_width
        return not math.isnan(h) and abs(self.diff) > h

    @property
    def relative(self) -> float:
        """The change as a fraction of ``before`` (NaN when ``before`` is 0)."""
        return self.diff / self.before.mean if self.before.mean else float("nan")


# --- formatting ------------------------------------------------------------------------------
def grouped(x: float, decimals: int) -> str:
    text = f"{x:,.{max(decimals, 0)}f}"
    return "0" if text.strip("-0.,") == "" else text


def sig(x: float, digits: int = DETERMINISTIC_DIGITS, integer: bool = False) -> str:
    """``x`` to ``digits`` significant figures, trailing zeros kept (``1.000``), thousands
    grouped; a count (``integer``) that is a whole number in full (``543,744``)."""
    if math.isnan(x):
        return "-"
    if integer and float(x).is_integer():
        return f"{round(x):,}"
    if x == 0:
        return "0"
    exp = math.floor(math.log10(abs(x)))
    if exp < -3:
        return f"{x:.{digits - 1}e}"  # 0.0001235 reads worse than 1.235e-04
    decimals = digits - 1 - exp
    rounded = round(x, decimals)
    if rounded and math.floor(math.log10(abs(rounded))) > exp:
        decimals -= 1  # 0.99999 rounds up to 1.000, not 1.0000
    return grouped(round(x, decimals), decimals)


def digits_for(half_width: float) -> int:
    """Decimals that show ``half_width`` to two significant figures (may be negative: the
    value is then rounded to tens, hundreds...)."""
    return 1 - math.floor(math.log10(half_width))


def fmt_estimate(e: Estimate | float, half_width: float | None = None,
                 integer: bool = False) -> str:
    """The mean with as many digits as its interval supports: ``12.35 ± 0.23``; a
    deterministic or single-seed value to :data:`DETERMINISTIC_DIGITS` figures (a count in
    full)."""
    if isinstance(e, Estimate):
        mean, h = e.mean, e.half_width if half_width is None else half_width
    else:
        mean, h = float(e), half_width if half_width is not None else float("nan")
    if math.isnan(h) or h == 0:
        return sig(mean, integer=integer)
    d = digits_for(h)
    return f"{grouped(round(mean, d), d)} ± {grouped(round(h, d), d)}"


def fmt_mean(e: Estimate, integer: bool = False) -> str:
    """Only the mean, to the digits its interval supports."""
    h = e.half_width
    if math.isnan(h) or h == 0:
        return sig(e.mean, integer=integer)
    d = digits_for(h)
    return grouped(round(e.mean, d), d)


__all__ = [
    "CONFIDENCE",
    "DETERMINISTIC_DIGITS",
    "Effect",
    "Estimate",
    "digits_for",
    "fmt_estimate",
    "fmt_mean",
    "grouped",
    "sig",
    "t_quantile",
]

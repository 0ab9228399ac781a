"""YCSB's request distribution: ``ZipfianGenerator`` and ``ScrambledZipfianGenerator``.

What it models: the key popularity of YCSB's core workloads (``requestdistribution=zipfian``,
theta 0.99), the usual load in MGLRU-versus-YCSB benchmarks (a KV store in a memory-limited
memcg), with the generator's own arithmetic rather than an exact Zipf law, so that a page's
hotness is the one YCSB would give its key. Items are the footprint's
``K = max(1, int(pages * footprint))`` pages; item ``i`` is placed like every ranked workload
(``scatter``: a seeded permutation of the region, else page ``i``).

``ZipfianGenerator`` (YCSB ``core/.../generator/ZipfianGenerator.java``; Gray et al., "Quickly
generating billion-record synthetic databases", SIGMOD 1994) over ``n`` items:
``zeta(n) = sum_{i=1..n} i**-theta``, ``alpha = 1 / (1 - theta)``,
``eta = (1 - (2/n)**(1 - theta)) / (1 - zeta(2) / zeta(n))``; draw ``u ~ U[0, 1)``; item 0 if
``u * zeta(n) < 1``, item 1 if ``< 1 + 0.5**theta``, else ``int(n * (eta*u - eta + 1)**alpha)``.
Items 0 and 1 get their exact Zipf probabilities; the tail is an approximation (the rank-3
probability is about 16 % high at n = 1000), which is YCSB's behaviour and kept on purpose.

``ScrambledZipfianGenerator`` (YCSB's default for ``zipfian``): draw from a ZipfianGenerator
over ``ITEM_COUNT + 1 = 10**10 + 1`` items with the precomputed ``ZETAN = 26.46902820178302``
(theta 0.99), then item ``FNV-1a-64(v) mod K`` (``Utils.fnvhash64``: offset basis
``0xCBF29CE484222325``, prime ``1099511628211``, the 8 little-endian octets of ``v``, then
``Math.abs``). The hash spreads the popular items over the item space, and collides: several
of the 10**10 values land on one item, so the hottest item is hotter than rank 0's Zipf share.

What it simplifies: YCSB's formula divides by ``1 - theta``; at ``theta = 1`` exactly this takes
its limit, ``n * exp(c * (u - 1))`` with ``c = ln(n / 2) / (1 - zeta(2) / zeta(n))``, and above
1 the same formula still draws items (items 0 and 1 exact, the tail a rougher approximation
than below 1). For another theta than 0.99 the scrambled variant needs
``zeta(10**10 + 1, theta)``, which YCSB sums term by term (minutes); here it is the
Euler-Maclaurin sum (exact to double precision).
Java's ``Math.abs(Long.MIN_VALUE)`` is negative and would index out of range; that one hash
value is taken modulo ``K`` as unsigned instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from simulator.params import param
from workloads import params as shared
from workloads.base import PageArray, RankedWorkload, check_theta

ZIPFIAN_CONSTANT = 0.99
"""YCSB's default theta (``ZipfianGenerator.ZIPFIAN_CONSTANT``)."""

ITEM_COUNT = 10_000_000_000
"""``ScrambledZipfianGenerator.ITEM_COUNT``: the scrambled generator draws from 0..ITEM_COUNT."""

ZETAN = 26.46902820178302
"""``ScrambledZipfianGenerator.ZETAN``: YCSB's precomputed zeta for theta 0.99."""

FNV_OFFSET_BASIS_64 = 0xCBF29CE484222325
FNV_PRIME_64 = 1099511628211

_EXACT_TERMS = 1 << 20
"""zeta(n) sums this many terms exactly, the rest by Euler-Maclaurin."""


def zeta(n: int, theta: float) -> float:
    """``sum_{i=1..n} i**-theta``: exact summation up to 2**20 terms (in blocks), beyond that
    the Euler-Maclaurin formula, whose error is far below a double's resolution there."""
    if n < 1:
        return 0.0
    m = min(n, _EXACT_TERMS)
    total = 0.0
    for start in range(1, m + 1, 1 << 16):
        i = np.arange(start, min(start + (1 << 16), m + 1), dtype=np.float64)
        total += float(np.sum(i ** -theta))
    if n == m:
        return total
    a, b, s = float(m), float(n), theta
    pw = math.pow
    integral = math.log(b / a) if s == 1.0 else (pw(b, 1 - s) - pw(a, 1 - s)) / (1 - s)
    # Euler-Maclaurin with f(x) = x**-s: sum_{i=m+1..n} f(i)
    #   = int_m^n f + (f(n) - f(m)) / 2 + (f'(n) - f'(m)) / 12 + O(m**(-s-3))
    tail = integral + (pw(b, -s) - pw(a, -s)) / 2 + (s * pw(a, -s - 1) - s * pw(b, -s - 1)) / 12
    return total + tail


def fnv1a_64(values: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
    """YCSB's ``Utils.fnvhash64`` (FNV-1a over the 8 little-endian octets, then ``abs`` of the
    signed result), vectorised; the result is non-negative except ``2**63`` (Java's
    ``Math.abs(Long.MIN_VALUE)``), returned as unsigned."""
    v = values.astype(np.uint64)
    h = np.full(v.shape, FNV_OFFSET_BASIS_64, dtype=np.uint64)
    prime = np.uint64(FNV_PRIME_64)
    with np.errstate(over="ignore"):
        for i in range(8):
            h ^= (v >> np.uint64(8 * i)) & np.uint64(0xFF)
            h *= prime
    signed = h.view(np.int64)
    neg = signed < 0
    # two's-complement negation in uint64: abs of every value but Long.MIN_VALUE
    h[neg] = ~h[neg] + np.uint64(1)
    return h


class ZipfianGenerator:
    """YCSB's ZipfianGenerator over items ``0..items-1`` (vectorised draws)."""

    def __init__(self, items: int, theta: float, zetan: float | None = None) -> None:
        if not (math.isfinite(theta) and theta >= 0.0):
            raise ValueError(f"the zipfian generator needs a finite theta >= 0, got {theta}")
        self.items = int(items)
        self.theta = float(theta)
        self.zetan = zeta(self.items, theta) if zetan is None else float(zetan)
        zeta2 = zeta(2, theta)
        self.half_pow_theta = 0.5 ** theta
        with np.errstate(divide="ignore", invalid="ignore"):
            denominator = np.float64(1.0) - np.float64(zeta2) / np.float64(self.zetan)
            if theta == 1.0:
                # the limit of (eta*u - eta + 1)**alpha as theta -> 1 is exp(c * (u - 1))
                self.alpha = math.inf
                self.eta = float(np.log(self.items / 2.0) / denominator)
            else:
                self.alpha = 1.0 / (1.0 - theta)
                self.eta = float((1.0 - (2.0 / self.items) ** (1.0 - theta)) / denominator)

    def draw(self, u: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """Items for uniform draws ``u`` in ``[0, 1)`` (``nextLong(items)`` per value)."""
        uz = u * self.zetan
        with np.errstate(invalid="ignore", over="ignore"):
            if self.theta == 1.0:
                tail = np.floor(self.items * np.exp(self.eta * (u - 1.0)))
            else:
                tail = np.floor(self.items * np.power(self.eta * u - self.eta + 1.0,
                                                      self.alpha))
        out: npt.NDArray[np.float64] = np.where(
            uz < 1.0, 0.0, np.where(uz < 1.0 + self.half_pow_theta, 1.0, tail))
        np.nan_to_num(out, copy=False, nan=0.0)
        np.clip(out, 0, self.items - 1, out=out)
        return out.astype(np.int64)


@dataclass(frozen=True, slots=True)
class YcsbZipfParams:
    """``kind = "ycsb_zipf"``."""

    theta: float = shared.theta()
    footprint: float = shared.footprint()
    think_ns: int = shared.think_ns()
    write_fraction: float = shared.write_fraction()
    scatter: bool = shared.scatter()
    ycsb_scrambled: bool = param(True, doc="ScrambledZipfianGenerator (FNV-1a hash of the "
                                           "item, mod the item count), as YCSB's zipfian "
                                           "requests; false: plain ZipfianGenerator")


class YcsbZipfWorkload(RankedWorkload[YcsbZipfParams]):
    """YCSB zipfian requests (scrambled by default) over the footprint pages."""

    name: ClassVar[str] = "ycsb_zipf"
    description: ClassVar[str] = (
        "YCSB's ZipfianGenerator (Gray et al.), ScrambledZipfian by default (FNV-1a hash)")
    Params: ClassVar[type[YcsbZipfParams]] = YcsbZipfParams

    def __init__(self, params: YcsbZipfParams, pages: int, streams: int,
                 seed: np.random.SeedSequence) -> None:
        super().__init__(params, pages, streams, seed)
        self.theta = check_theta(params.theta)
        self.scrambled = bool(params.ycsb_scrambled)
        if self.scrambled:
            zetan = ZETAN if self.theta == ZIPFIAN_CONSTANT else zeta(ITEM_COUNT + 1,
                                                                         self.theta)
            self.generator = ZipfianGenerator(ITEM_COUNT + 1, self.theta, zetan)
        else:
            self.generator = ZipfianGenerator(self.footprint_pages, self.theta)

    def _ranks(self, rng: np.random.Generator, n: int) -> PageArray:
        items = self.generator.draw(rng.random(n))
        if not self.scrambled:
            return items
        return (fnv1a_64(items) % np.uint64(self.footprint_pages)).astype(np.int64)


__all__ = ["FNV_OFFSET_BASIS_64", "FNV_PRIME_64", "ITEM_COUNT", "ZETAN", "ZIPFIAN_CONSTANT",
           "YcsbZipfParams", "YcsbZipfWorkload", "ZipfianGenerator", "fnv1a_64", "zeta"]

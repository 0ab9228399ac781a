"""Benchmark results, the baseline file, and the comparison that gates CI.

Rules (``docs/performance.md`` explains the choice):

- a **deterministic** metric gates: it may move by at most ``tolerance_pct`` percent of its
  baseline value (default 0: integers must be equal; floats equal up to a relative 1e-9, the
  rounding noise of summing in a different order). A string or boolean must be equal. A metric
  that was in the baseline and is gone fails; a new one is reported and passes;
- a **performance** figure is reported with its change and gates only with ``perf_gate``, and
  then only in the slower direction, by more than ``perf_tolerance_pct``;
- **info** (run ids) is shown, never compared;
- a case in the baseline that did not run fails (unless the run was restricted with ``--only``);
  a case without a baseline entry is reported as new.

The baseline is one JSON document (:data:`SCHEMA`), written atomically.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from simulator.bench.metrics import CaseResult, Scalar, higher_is_better
from simulator.output import atomic_write

SCHEMA = "mglru-sim-bench/1"
FLOAT_RTOL = 1e-9
"""Relative slack for float metrics at ``tolerance_pct = 0``: rounding noise, not a change."""
FLOAT_ATOL = 1e-12


class BaselineError(ValueError):
    """A baseline file is missing, unreadable or not a bench result (bad input, exit 2)."""


@dataclass(slots=True)
class Target:
    """A performance goal of suite ``perf``: ``value`` compared with ``limit``."""

    name: str
    value: float | None
    limit: float
    unit: str
    higher_is_better: bool
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value >= self.limit if self.higher_is_better else self.value <= self.limit

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "limit": self.limit, "unit": self.unit,
                "higher_is_better": self.higher_is_better, "met": self.met, "note": self.note}


@dataclass(slots=True)
class BenchResults:
    """One bench run: every case's metrics, where they ran, and (perf) the targets."""

    suite: str
    cases: dict[str, CaseResult]
    environment: dict[str, str] = field(default_factory=dict)
    created_utc: str = ""
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "schema": SCHEMA, "suite": self.suite, "created_utc": self.created_utc,
            "environment": self.environment,
            "cases": {name: c.to_json() for name, c in sorted(self.cases.items())},
        }
        if self.targets:
            doc["targets"] = [t.to_json() for t in self.targets]
        if self.notes:
            doc["notes"] = list(self.notes)
        return doc

    @staticmethod
    def from_json(doc: Mapping[str, Any], source: str = "<baseline>") -> BenchResults:
        if not isinstance(doc, Mapping) or doc.get("schema") != SCHEMA:
            raise BaselineError(f"{source}: not a bench result (expected \"schema\": "
                                f"\"{SCHEMA}\")")
        cases = doc.get("cases")
        if not isinstance(cases, Mapping):
            raise BaselineError(f"{source}: \"cases\" must be a table of cases")
        targets = [Target(name=t["name"], value=t.get("value"), limit=float(t["limit"]),
                          unit=t.get("unit", ""), higher_is_better=bool(t["higher_is_better"]),
                          note=t.get("note", "")) for t in doc.get("targets", [])]
        return BenchResults(
            suite=str(doc.get("suite", "")),
            cases={str(n): CaseResult.from_json(str(n), c) for n, c in cases.items()},
            environment=dict(doc.get("environment", {})),
            created_utc=str(doc.get("created_utc", "")), targets=targets,
            notes=list(doc.get("notes", [])))


def environment() -> dict[str, str]:
    """Where a bench ran: enough to tell two machines (and library versions) apart."""
    import numpy
    import simpy

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"python": platform.python_version(), "numpy": numpy.__version__,
            "simpy": getattr(simpy, "__version__", "?"), "platform": platform.platform(),
            "cpu": cpu, "cores": str(os.cpu_count() or 0)}


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_results(path: str | Path) -> BenchResults:
    """Read a baseline (or a ``--json`` output). Raises :class:`BaselineError`."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"{p}: no such baseline (create it with --update-baseline)") \
            from None
    except (OSError, UnicodeDecodeError) as e:
        raise BaselineError(f"{p}: cannot read: {e}") from None
    except json.JSONDecodeError as e:
        raise BaselineError(f"{p}: not valid JSON: line {e.lineno} column {e.colno}: "
                            f"{e.msg}") from None
    except RecursionError:
        raise BaselineError(f"{p}: not valid JSON: nested too deeply") from None
    try:
        results = BenchResults.from_json(doc, str(p))
        for name, case in results.cases.items():
            for metric, value in case.deterministic.items():
                if not (value is None or isinstance(value, bool | int | float | str)):
                    raise ValueError(f"case {name!r}: metric {metric!r} is not a number or "
                                     "a string")
        return results
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        if isinstance(e, BaselineError):
            raise
        what = f"missing key {e}" if isinstance(e, KeyError) else str(e)
        raise BaselineError(f"{p}: not a bench result ({what})") from None


def write_json_atomic(path: str | Path, doc: Any) -> Path:
    """``doc`` as indented JSON, written atomically (:func:`simulator.output.atomic_write`):
    a reader, or a crash, never sees half a file; the old file stays until then."""
    return atomic_write(path, json.dumps(doc, indent=2) + "\n")


# --- comparison ---------------------------------------------------------------------------
OK, WITHIN, CHANGED, NEW, MISSING, FASTER, SLOWER, INFO = (
    "ok", "within", "CHANGED", "new", "MISSING", "faster", "slower", "info")


@dataclass(frozen=True, slots=True)
class Row:
    """One metric of one case: baseline, now, relative change and verdict."""

    case: str
    metric: str
    kind: str
    """``deterministic``, ``performance`` or ``info``."""
    baseline: Scalar
    now: Scalar
    change: float | None
    """(now - baseline) / |baseline|, when both are numbers and the baseline is not 0."""
    status: str
    fails: bool


@dataclass(slots=True)
class Comparison:
    """Every row, and the ones that fail the gate."""

    rows: list[Row]
    tolerance_pct: float
    perf_gate: bool
    perf_tolerance_pct: float
    missing_cases: list[str] = field(default_factory=list)
    new_cases: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[Row]:
        return [r for r in self.rows if r.fails]

    @property
    def failed(self) -> bool:
        return bool(self.failures or self.missing_cases)


def _is_number(v: Scalar) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def relative_change(base: Scalar, now: Scalar) -> float | None:
    if not (_is_number(base) and _is_number(now)):
        return None
    assert isinstance(base, int | float) and isinstance(now, int | float)
    if base == 0:
        return 0.0 if now == 0 else None
    return (now - base) / abs(base)


def within(base: Scalar, now: Scalar, tolerance_pct: float) -> bool:
    """Whether a deterministic metric is unchanged up to the tolerance (see module doc)."""
    if base is None or now is None or not (_is_number(base) and _is_number(now)):
        return base == now and type(base) is type(now)
    assert isinstance(base, int | float) and isinstance(now, int | float)
    if base == now:
        return True
    slack = abs(base) * tolerance_pct / 100.0
    if isinstance(base, float) or isinstance(now, float):
        slack = max(slack, abs(base) * FLOAT_RTOL, FLOAT_ATOL)
    return abs(now - base) <= slack


def _det_row(case: str, metric: str, base: Scalar, now: Scalar, tol: float,
             present: tuple[bool, bool]) -> Row:
    had, has = present
    if not has:
        return Row(case, metric, "deterministic", base, None, None, MISSING, True)
    if not had:
        return Row(case, metric, "deterministic", None, now, None, NEW, False)
    change = relative_change(base, now)
    if base == now and type(base) is type(now):
        return Row(case, metric, "deterministic", base, now, change, OK, False)
    ok = within(base, now, tol)
    return Row(case, metric, "deterministic", base, now, change, WITHIN if ok else CHANGED,
               not ok)


def _perf_row(case: str, metric: str, base: float | None, now: float | None, gate: bool,
              perf_tol: float) -> Row:
    if base is None or now is None:
        return Row(case, metric, "performance", base, now, None, NEW if base is None else
                   MISSING, False)
    change = relative_change(base, now)
    if change is None:
        return Row(case, metric, "performance", base, now, None, OK, False)
    worse = -change if higher_is_better(metric) else change
    status = SLOWER if worse > 0 else FASTER if worse < 0 else OK
    fails = gate and worse * 100.0 > perf_tol
    return Row(case, metric, "performance", base, now, change, status, fails)


def compare(baseline: BenchResults | None, now: BenchResults, *, tolerance_pct: float = 0.0,
            perf_gate: bool = False, perf_tolerance_pct: float = 25.0,
            only: frozenset[str] | None = None) -> Comparison:
    """Every metric of every case of ``now`` against ``baseline`` (rows in case order)."""
    cmp = Comparison([], tolerance_pct, perf_gate, perf_tolerance_pct)
    base_cases = baseline.cases if baseline is not None else {}
    for name in sorted(set(base_cases) | set(now.cases)):
        cur = now.cases.get(name)
        old = base_cases.get(name)
        if cur is None:
            if only is None or name in only:
                cmp.missing_cases.append(name)
            continue
        if old is None and baseline is not None:
            cmp.new_cases.append(name)
        cmp.rows.extend(_case_rows(name, old, cur, cmp))
    return cmp


def _case_rows(name: str, old: CaseResult | None, cur: CaseResult, cmp: Comparison) -> list[Row]:
    rows: list[Row] = []
    base_det = old.deterministic if old else {}
    for metric in _ordered(base_det, cur.deterministic):
        if old is None:
            rows.append(Row(name, metric, "deterministic", None, cur.deterministic[metric],
                            None, NEW, False))
            continue
        rows.append(_det_row(name, metric, base_det.get(metric), cur.deterministic.get(metric),
                             cmp.tolerance_pct,
                             (metric in base_det, metric in cur.deterministic)))
    base_perf = old.performance if old else {}
    for metric in _ordered(base_perf, cur.performance):
        rows.append(_perf_row(name, metric, base_perf.get(metric), cur.performance.get(metric),
                              cmp.perf_gate, cmp.perf_tolerance_pct))
    base_info = old.info if old else {}
    for metric in _ordered(base_info, cur.info):
        rows.append(Row(name, metric, "info", base_info.get(metric), cur.info.get(metric),
                        None, INFO, False))
    return rows


def _ordered(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Keys of ``b`` in its order, then those only in ``a``."""
    return list(b) + [k for k in a if k not in b]


__all__ = [
    "CHANGED", "FLOAT_RTOL", "MISSING", "NEW", "OK", "SCHEMA", "WITHIN", "BaselineError",
    "BenchResults", "Comparison", "Row", "Target", "compare", "environment", "load_results",
    "now_utc", "relative_change", "within", "write_json_atomic",
]

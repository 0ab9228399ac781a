"""One analysis per review question: the tables behind it, a figure, generated sentences, and
the conclusions the sensitivity pass re-checks.

Each function takes the question's ``sweep.csv`` as a DataFrame and returns a
:class:`Finding`. Every number a sentence quotes is a cell of one of the finding's tables
(the runs table, the effects table of :class:`simulator.questions.claims.Effects`, or a
derived table), never typed by hand. Changes are stated by :func:`simulator.questions.prose.
change`: digits chosen by the 95 % interval over the seeds, "unchanged at X" rather than "from
X to X", and a deterministic configuration said to be deterministic. Every row names its kernel
release and backend, and the keys it sets against its release (a what-if).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simulator.plots.style import backend_colour, new_figure, styled
from simulator.questions.claims import Effects, binary, runs_table
from simulator.questions.estimate import Effect, Estimate, sig
from simulator.questions.prose import printed
from simulator.questions.sensitivity import Conclusion

MS = 1e6


@dataclass(slots=True)
class Finding:
    """The answer to one question."""

    sentences: list[str]
    tables: dict[str, pd.DataFrame]
    figure: Figure
    notes: list[str] = field(default_factory=list)
    conclusions: list[Conclusion] = field(default_factory=list)
    """Checkable claims, re-evaluated by the sensitivity pass (those that hold here are the
    answer's; the others are their alternatives)."""
    unresolved: set[str] = field(default_factory=set)
    """Keys of conclusions whose effect the seeds do not resolve."""
    headline: str = ""
    """The answer in one sentence, for the summary."""


@styled
def _bars(groups: Sequence[str], series: Mapping[str, Sequence[Estimate | None]], ylabel: str,
          title: str, colours: Sequence[str] | None = None) -> Figure:
    """Grouped bars with seed-spread error bars (± one standard deviation)."""
    fig = new_figure((9, 4.8))
    ax = fig.add_subplot()
    x = np.arange(len(groups))
    width = 0.8 / max(len(series), 1)
    for i, (label, values) in enumerate(series.items()):
        means = [v.mean if v else np.nan for v in values]
        sds = [v.sd if v else 0.0 for v in values]
        ax.bar(x + (i - (len(series) - 1) / 2) * width, means, width, yerr=sds, capsize=3,
               label=label, color=colours[i] if colours else None)
    ax.set_xticks(x, groups, rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    return fig


def _arrow(effect: Effect, integer: bool = False) -> str:
    """``"12.10 -> 4.910"`` or ``"1.000 (unchanged)"`` for a headline."""
    a, b, _ = printed(effect, integer)
    return f"{a} (unchanged)" if a == b else f"{a} -> {b}"


def _str(x: object) -> str:
    return str(x).lower() if isinstance(x, bool | np.bool_) else str(x)


# --- Q1 -----------------------------------------------------------------------------------
def q1(df: pd.DataFrame) -> Finding:
    """Split the aging-pass gain into its lockless and bitmap parts."""
    by = ["vm.backend", "vm.aging_lock", "mglru.notifier", "vm.vcpus"]
    metrics = {"aging_pass_mean_ns": ("aging pass (ms)", MS),
               "vcpu_lock_wait_ns": ("vCPU lock wait (ms)", MS),
               "notifier_calls": ("notifier calls", 1.0)}
    tab, est, eras = runs_table(df, by, metrics)
    steps = {"x86_tdp": (("write", "per_page"), ("none", "per_page"), ("none", "bitmap")),
             "arm64": (("write", "per_page"), ("read", "per_page"), ("read", "bitmap"))}
    lock_name = {"x86_tdp": "lockless (RCU) aging", "arm64": "the read lock"}
    vcpus = sorted({int(v) for v in df["vm.vcpus"]})
    top = vcpus[-1] if vcpus else 0
    eff = Effects()
    split_rows, sentences, heads = [], [], []
    conclusions: list[Conclusion] = []
    for backend, configs in steps.items():
        for v in vcpus:
            keys = [(backend, lk, ntf, v) for lk, ntf in configs]
            got = [est.get(k, {}).get("aging_pass_mean_ns") for k in keys]
            a, b, c = got
            if a is None or b is None or c is None:
                continue
            rel = eras[keys[1]][0]
            lock_part, bitmap_part = a.mean - b.mean, b.mean - c.mean
            total = lock_part + bitmap_part
            share = 100.0 * lock_part / total if total else float("nan")
            row = {"release": rel, "backend": backend, "vCPUs": str(v),
                   "before (ms)": printed(Effect(a, b))[0],
                   "after lock change (ms)": printed(Effect(a, b))[1],
                   "after bitmap (ms)": printed(Effect(b, c))[1],
                   "lock share of the gain (%)": sig(share, 3)}
            split_rows.append(row)
            if v != top:
                continue
            where = f"{backend} ({rel}) {v} vCPUs"
            ctx = {"release": rel, "backend": backend, "vCPUs": str(v)}
            lock = eff.say({**ctx, "step": "lock change"}, f"{where}, lock change",
                           "the aging pass", Effect(a, b), "ms")
            bitmap = eff.say({**ctx, "step": "bitmap"}, f"{where}, bitmap",
                             "the aging pass", Effect(b, c), "ms")
            sentences.append(
                f"On {backend} under kernel {rel} at {v} vCPUs, {lock_name[backend]} {lock}; "
                f"the 64-page bitmap then {bitmap}. The lock change is "
                f"{row['lock share of the gain (%)']}% of the gain between the means.")
            conclusions += binary(
                f"{where}: lock share > 50%", share > 50, share,
                f"On {backend} ({rel}) at {v} vCPUs, the lock change is most (>50%) of the "
                "aging-pass gain", f"On {backend} ({rel}) at {v} vCPUs, the bitmap is at least "
                "half of the aging-pass gain")
            heads.append(f"{row['lock share of the gain (%)']}% on {backend}")
    headline = (f"At {top} vCPUs the lock change is " + " and ".join(heads)
                + " of the aging-pass gain; the 64-page bitmap is the rest.") if heads else ""
    return Finding(sentences, {"runs": tab, "effects": eff.table(),
                               "gain split": pd.DataFrame(split_rows)},
                   _q1_figure(est, steps, split_rows), notes=Q1_NOTES,
                   conclusions=conclusions + eff.conclusions, unresolved=eff.unresolved,
                   headline=headline)


Q1_NOTES = ["Every run is kernel 6.15 (x86_tdp lockless, arm64 write-locked); the older "
            "locks (x86 write lock, as in 6.14) and the v3 bitmap notifier are set against it "
            "(column 'set against the release'), so each step changes one thing. The "
            "bitmap's share rests on how the per-page aging cost splits between the notifier "
            "dispatch, which batching saves, and the SPTE walk, which it does not; the x86 "
            "calibration fixes only their sum (docs/calibration.md), so the sensitivity pass "
            "below moves each part over its plausible range.", ""]


def _q1_figure(est: Any, steps: Mapping[str, tuple[tuple[str, str], ...]],
               split_rows: list[dict[str, str]]) -> Figure:
    """The aging pass of each (backend, vCPUs) before, after the lock change and after the
    bitmap."""
    def bar(i: int) -> list[Estimate | None]:
        return [est.get((r["backend"], *steps[r["backend"]][i], int(r["vCPUs"])), {})
                .get("aging_pass_mean_ns") for r in split_rows]

    return _bars([f"{r['backend']} {r['vCPUs']}v" for r in split_rows],
                 {"before": bar(0), "lock changed": bar(1), "lock + bitmap": bar(2)},
                 "aging pass (ms)",
                 "Q1: aging pass, before / after the lock change / after the bitmap")


# --- Q2, Q3, Q5: design comparisons -------------------------------------------------------
ACCURACY = {"young_walk_recall": ("walk young recall", 1.0),
            "young_f1": ("young F1", 1.0),
            "refaults_per_kacc": ("refaults per 1k accesses", 1.0),
            "aging_pass_mean_ns": ("aging pass (ms)", MS),
            "notifier_calls": ("notifier calls", 1.0)}


def with_rates(df: pd.DataFrame) -> pd.DataFrame:
    """Add per-access rates: runs that stall more make fewer accesses, so counts mislead."""
    df = df.copy()
    acc = pd.to_numeric(df["accesses"], errors="coerce").replace(0, float("nan"))
    df["refaults_per_kacc"] = 1000.0 * pd.to_numeric(df["refaults"], errors="coerce") / acc
    return df


def _compare(df: pd.DataFrame, switch: str, left: str, right: str, what: str, short: str,
             title: str) -> Finding:
    """``right`` against ``left`` of ``switch`` on every backend: recall, refaults, pass
    (``what`` names the change in the first sentence, ``short`` in the others)."""
    by = ["vm.backend", switch]
    tab, est, eras = runs_table(with_rates(df), by, ACCURACY)
    eff = Effects()
    sentences: list[str] = []
    heads: list[str] = []
    for b in dict.fromkeys(str(x) for x in df["vm.backend"]):
        x, y = est.get((b, left)), est.get((b, right))
        if not x or not y:
            continue
        rel = eras[(b, right)][0]
        ctx = {"release": rel, "backend": b, "comparison": f"{right} vs {left}"}
        where = f"{b} ({rel}), {right} vs {left}"
        parts = [eff.say(ctx, where, name, Effect(x[col], y[col]), unit)
                 for col, name, unit in (("young_walk_recall", "the walk's young recall", ""),
                                         ("refaults_per_kacc", "refaults per 1k accesses", ""),
                                         ("aging_pass_mean_ns", "the aging pass", "ms"))
                 if col in x and col in y]
        if not parts:
            continue
        sentences.append(f"On {b} under kernel {rel}, {short if sentences else what} "
                         + "; it ".join(parts) + ".")
        if "young_walk_recall" in x and "young_walk_recall" in y:
            heads.append(f"{b} {_arrow(Effect(x['young_walk_recall'], y['young_walk_recall']))}")
    keys = list(est)
    fig = _bars([" ".join(str(k) for k in key) for key in keys],
                {"walk young recall": [est[k].get("young_walk_recall") for k in keys]},
                "young recall of the aging walk", title)
    headline = (f"{what[0].upper()}{what[1:]} moves the walk's young recall: "
                + ", ".join(heads) + ".") if heads else ""
    return Finding(sentences, {"runs": tab, "effects": eff.table()}, fig,
                   conclusions=eff.conclusions, unresolved=eff.unresolved, headline=headline)


def q2(df: pd.DataFrame) -> Finding:
    """Fallback blind vs per_page on backends that return UNRELIABLE."""
    return _compare(df, "mglru.unreliable_fallback", "blind", "per_page",
                    "falling back to per-page calls after UNRELIABLE (instead of treating the "
                    "secondary MMU as not young)", "the per-page fallback",
                    "Q2: UNRELIABLE fallback: blind vs per_page")


def q3(df: pd.DataFrame) -> Finding:
    """Shadow MMU under the bitmap design (v3, UNRELIABLE ignored) vs per_page."""
    f = _compare(df, "mglru.notifier", "bitmap", "per_page",
                 "replacing the v3 bitmap (UNRELIABLE ignored, as v3 did) by per-page calls",
                 "the switch to per-page calls",
                 "Q3: nested (shadow MMU) vs TDP under bitmap and per_page")
    f.notes = ["The v3 bitmap notifier is set against kernel 6.15 (a what-if: v3 was posted "
               "against 6.9, before the 6.15 lockless shadow aging); column 'set against the "
               "release' of the runs table lists it.", ""]
    return f


def q5(df: pd.DataFrame) -> Finding:
    """fast_only vs per_page for every backend (bitmap in the runs table)."""
    return _compare(df, "mglru.notifier", "fast_only", "per_page",
                    "replacing v7's fast_only by per-page calls", "the switch to per-page calls",
                    "Q5: fast_only vs per_page vs bitmap, by backend")


# --- Q4 -----------------------------------------------------------------------------------
def q4(df: pd.DataFrame) -> Finding:
    """TLB flush on aging: recall gained vs time paid, by TLB size and hot-set size."""
    df = df.copy()
    df["vm.tlb_flush_on_age"] = df["vm.tlb_flush_on_age"].map(_str)
    df["aging_and_vcpu_ns"] = (pd.to_numeric(df["aging_cpu_ns"], errors="coerce")
                               + pd.to_numeric(df["vcpu_running_ns"], errors="coerce"))
    by = ["vm.tlb_flush_on_age", "vm.tlb_entries", "workload.hot_fraction"]
    metrics = {"young_walk_recall": ("walk young recall", 1.0),
               "aging_and_vcpu_ns": ("aging + vCPU time (ms)", MS),
               "tlb_flushes": ("TLB flushes", 1.0),
               "tlb_misses": ("TLB misses", 1.0)}
    tab, est, eras = runs_table(df, by, metrics)
    eff = Effects()
    sentences, heads = [], []
    tlbs = sorted({int(t) for t in df["vm.tlb_entries"]})
    hots = sorted({float(h) for h in df["workload.hot_fraction"]})
    for tlb in tlbs:
        for hot in hots:
            on, off = est.get(("true", tlb, hot)), est.get(("false", tlb, hot))
            if not on or not off:
                continue
            rel, backend, _ = eras[("false", tlb, hot)]
            ctx = {"release": rel, "backend": backend, "TLB entries": str(tlb),
                   "hot fraction": f"{hot:g}"}
            where = f"{backend} ({rel}) {tlb}-entry TLB, hot {hot:g}, eliding the flush"
            recall = eff.say(ctx, where, "the walk's young recall",
                             Effect(on["young_walk_recall"], off["young_walk_recall"]))
            time = eff.say(ctx, where, "the aging and vCPU time",
                           Effect(on["aging_and_vcpu_ns"], off["aging_and_vcpu_ns"]), "ms")
            sentences.append(
                f"On {backend} under kernel {rel} with {tlb}-entry TLBs and a hot set of "
                f"{hot:g} of memory, eliding the flush {recall}; it {time}.")
            heads.append(f"{tlb}-entry TLBs, hot {hot:g}: recall "
                         f"{_arrow(Effect(on['young_walk_recall'], off['young_walk_recall']))}")
    keys = [(t, h) for t in tlbs for h in hots]
    fig = _bars([f"{t} TLB, hot {h:g}" for t, h in keys],
                {"flush on age": [est.get(("true", *k), {}).get("young_walk_recall")
                                  for k in keys],
                 "no flush (6.13+)": [est.get(("false", *k), {}).get("young_walk_recall")
                                      for k in keys]},
                "young recall of the aging walk", "Q4: eliding the TLB flush when aging")
    notes = ["Kernel 6.15 elides the flush on x86 (since 6.13); the flushing rows set "
             "vm.tlb_flush_on_age = true against it (the 6.12 behaviour, a what-if on 6.15).",
             ""]
    headline = ("Eliding the flush when aging (6.13+) changes the walk's young recall: "
                + "; ".join(heads) + ".") if heads else ""
    return Finding(sentences, {"runs": tab, "effects": eff.table()}, fig, notes=notes,
                   conclusions=eff.conclusions, unresolved=eff.unresolved, headline=headline)


# --- Q6 -----------------------------------------------------------------------------------
def q6(df: pd.DataFrame) -> Finding:
    """Host task + VM under pressure: blind vs per_page."""
    by = ["mglru.notifier"]
    df = df.copy()
    for who, acc in (("vm", "accesses"), ("task", "host_task_accesses")):
        if f"{who}_refaults" in df and acc in df:
            n = pd.to_numeric(df[acc], errors="coerce").replace(0, float("nan"))
            df[f"{who}_refaults_per_kacc"] = 1000.0 * df[f"{who}_refaults"] / n
    metrics = {"young_walk_recall": ("walk young recall", 1.0),
               "vm_refaults_per_kacc": ("VM refaults per 1k accesses", 1.0),
               "task_refaults_per_kacc": ("host task refaults per 1k accesses", 1.0),
               "fault_latency_p50_ns": ("vCPU fault latency p50 (us)", 1e3),
               "fault_latency_p99_ns": ("vCPU fault latency p99 (us)", 1e3)}
    present = {k: v for k, v in metrics.items() if k in df}
    tab, est, eras = runs_table(df, by, present)
    blind, fixed = est.get(("blind",), {}), est.get(("per_page",), {})
    eff = Effects()
    sentences, headline = [], ""
    if blind and fixed:
        rel, backend, _ = eras[("per_page",)]
        ctx = {"release": rel, "backend": backend, "comparison": "per_page vs blind"}
        where = f"{backend} ({rel}), per_page vs blind"
        parts = [eff.say(ctx, where, name, Effect(blind[col], fixed[col]), unit)
                 for col, name, unit in (
                     ("young_walk_recall", "the walk's young recall", ""),
                     ("vm_refaults_per_kacc", "the VM's refaults per 1k accesses", ""),
                     ("task_refaults_per_kacc", "the host task's refaults per 1k accesses", ""),
                     ("fault_latency_p99_ns", "the vCPUs' fault latency p99", "us"))
                 if col in blind and col in fixed]
        sentences.append(f"With a host task and a VM in one memcg on {backend} under kernel "
                         f"{rel}, replacing blind aging by per-page calls (the fix) "
                         + "; it ".join(parts) + ".")
        if "task_refaults_per_kacc" in blind and "task_refaults_per_kacc" in fixed:
            e = Effect(blind["task_refaults_per_kacc"], fixed["task_refaults_per_kacc"])
            headline = (f"Blind aging (before 6.11.7) makes the host task refault "
                        f"{_arrow(Effect(e.after, e.before))} times per 1k accesses against "
                        "per-page calls.")
    cols = [k for k in ("vm_refaults_per_kacc", "task_refaults_per_kacc") if k in present]
    fig = _bars(cols, {"blind": [blind.get(k) for k in cols],
                       "per_page": [fixed.get(k) for k in cols]},
                "refaults per 1k accesses", "Q6: ChromeOS regression: blind vs per_page",
                colours=[backend_colour("x86_shadow"), backend_colour("x86_tdp")])
    notes = ["The blind rows set mglru.notifier = blind against kernel 6.15 (the walk as it "
             "was before 6.11.7, a what-if on 6.15's KVM).", ""]
    return Finding(sentences, {"runs": tab, "effects": eff.table()}, fig, notes=notes,
                   conclusions=eff.conclusions, unresolved=eff.unresolved, headline=headline)


__all__ = ["MS", "Finding", "q1", "q2", "q3", "q4", "q5", "q6", "with_rates"]


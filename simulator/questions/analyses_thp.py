"""Q7: what THP backing does to Q1's and Q5's answers, and what the posted v3 code would cost.

One sweep (``scenarios/questions/q7_thp_and_posted_v3.toml``): each configuration, named by
its kernel release, with ``vm.thp`` = never and always, three seeds. Two derived tables:

- **THP effect**: per configuration, the aging pass, the notifier calls per pass, the walk's
  young recall and the overall young precision without and with THP, and whether each change
  is beyond seed noise;
- **posted v3**: v3's bitmap as intended against the 7/7 code as posted, with and without THP:
  overall and walk precision, and refaults per 1k accesses.

Every number a sentence quotes is a cell of one of these tables or of the runs table
(``simulator.questions.stats.fmt``), as for every question.
"""

from __future__ import annotations

import pandas as pd

from simulator.questions.analyses import MS, Finding, _bars, _real, with_rates
from simulator.questions.stats import Spread, fmt, table

BY = ["kernel.release", "vm.backend", "mglru.bitmap_variant", "vm.thp"]
METRICS = {"aging_pass_mean_ns": ("aging pass (ms)", MS),
           "notifier_calls_per_pass": ("notifier calls per pass", 1.0),
           "young_walk_recall": ("walk young recall", 1.0),
           "young_walk_precision": ("walk young precision", 1.0),
           "young_precision": ("young precision", 1.0),
           "refaults_per_kacc": ("refaults per 1k accesses", 1.0)}
SPREADS = dict[tuple[object, ...], dict[str, Spread]]


def _rates(df: pd.DataFrame) -> pd.DataFrame:
    df = with_rates(df)
    passes = pd.to_numeric(df["aging_passes"], errors="coerce").replace(0, float("nan"))
    df["notifier_calls_per_pass"] = pd.to_numeric(df["notifier_calls"], errors="coerce") / passes
    for col in ("kernel.release", "mglru.bitmap_variant", "vm.thp", "vm.backend"):
        df[col] = df[col].astype(str)
    return df


def _label(release: object, backend: object, variant: object) -> str:
    extra = ", as posted" if variant == "posted_v3" else ""
    return f"{backend} ({release}{extra})"


def _pair(row: dict[str, str], left: dict[str, Spread], right: dict[str, Spread],
          cols: dict[str, str], names: tuple[str, str]) -> dict[str, str]:
    """Add each metric of two configurations to ``row``: both means and whether they differ
    beyond seed noise (``names``: how the two are called in the column headers)."""
    for col, name in cols.items():
        a, b = left.get(col), right.get(col)
        row[f"{name}, {names[0]}"] = fmt(a.mean) if a else "-"
        row[f"{name}, {names[1]}"] = fmt(b.mean) if b else "-"
        row[f"{name} change real?"] = _real(a, b)
    return row


def _thp_rows(sp: SPREADS) -> list[dict[str, str]]:
    cols = {"aging_pass_mean_ns": "aging pass (ms)", "notifier_calls_per_pass": "calls per pass",
            "young_walk_recall": "walk recall", "young_precision": "precision"}
    rows = []
    for rel, backend, variant in dict.fromkeys(k[:3] for k in sp):
        small, huge = sp.get((rel, backend, variant, "never")), sp.get((rel, backend, variant,
                                                                         "always"))
        if small and huge:
            rows.append(_pair({"release": str(rel), "backend": str(backend),
                               "bitmap variant": str(variant)}, small, huge, cols,
                              ("no THP", "THP")))
    return rows


def _posted_rows(sp: SPREADS) -> list[dict[str, str]]:
    cols = {"young_precision": "precision", "young_walk_precision": "walk precision",
            "refaults_per_kacc": "refaults per 1k accesses"}
    rows = []
    for thp in ("never", "always"):
        intended = sp.get(("v3", "x86_tdp", "intended", thp))
        posted = sp.get(("v3", "x86_tdp", "posted_v3", thp))
        if intended and posted:
            rows.append(_pair({"vm.thp": thp}, intended, posted, cols,
                              ("intended", "as posted")))
    return rows


def _thp_sentences(rows: list[dict[str, str]]) -> list[str]:
    out = []
    for r in rows:
        if r["bitmap variant"] == "posted_v3":
            continue
        name = _label(r["release"], r["backend"], r["bitmap variant"])
        out.append(
            f"On {name}, THP backing takes the aging pass from {r['aging pass (ms), no THP']} "
            f"to {r['aging pass (ms), THP']} ms (a change beyond seed noise: "
            f"{r['aging pass (ms) change real?']}) and the notifier calls per pass from "
            f"{r['calls per pass, no THP']} to {r['calls per pass, THP']}; the walk's young "
            f"recall is {r['walk recall, no THP']} without THP and {r['walk recall, THP']} with "
            f"it, young precision {r['precision, no THP']} and {r['precision, THP']}.")
    return out


def _posted_sentences(rows: list[dict[str, str]]) -> list[str]:
    out = []
    for r in rows:
        memory = "Without THP" if r["vm.thp"] == "never" else "With THP"
        out.append(
            f"{memory}, the v3 bitmap code as posted lowers young precision from "
            f"{r['precision, intended']} to {r['precision, as posted']} (walk: "
            f"{r['walk precision, intended']} to {r['walk precision, as posted']}; beyond "
            f"seed noise: {r['precision change real?']}) and moves refaults from "
            f"{r['refaults per 1k accesses, intended']} to "
            f"{r['refaults per 1k accesses, as posted']} per 1k accesses.")
    return out


def q7(df: pd.DataFrame) -> Finding:
    """THP's effect on every configuration, and v3 as posted against v3 as intended."""
    tab, sp = table(_rates(df), BY, METRICS)
    thp_rows, posted_rows = _thp_rows(sp), _posted_rows(sp)
    sentences = _thp_sentences(thp_rows) + _posted_sentences(posted_rows)
    configs = list(dict.fromkeys(k[:3] for k in sp))
    fig = _bars([_label(*c) for c in configs],
                {f"vm.thp = {t}": [(sp.get((*c, t)) or {}).get("young_precision")
                                   for c in configs] for t in ("never", "always")},
                "young precision", "Q7: young precision by configuration, with and without THP")
    notes = ["Each row's kernel release sets the notifier design and KVM's aging lock "
             "(docs/kernels.md); 'as posted' is mglru.bitmap_variant = posted_v3. With THP, "
             "PMD-mapped memory is aged by one pmdp_clear_young_notify per THP and never "
             "through the bitmap, so the posted defect only reaches the guest's 4 KiB "
             "remainder (pages refaulted after a THP was swapped out). KVM's cost of a "
             "2 MiB aging call is whatever charge_aging_calls charges for the range's pages.",
             ""]
    return Finding(sentences, {"runs": tab, "THP effect": pd.DataFrame(thp_rows),
                               "posted v3": pd.DataFrame(posted_rows)}, fig, notes=notes)


__all__ = ["q7"]

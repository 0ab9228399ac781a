"""Every question's analysis, by the question's name (``scenarios/questions/<name>.toml``)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from simulator.questions.analyses import Finding, q1, q2, q3, q4, q5, q6
from simulator.questions.analyses_policies import q8
from simulator.questions.analyses_thp import q7

ANALYSES: dict[str, Callable[[pd.DataFrame], Finding]] = {
    "q1_batching_or_lockless": q1, "q2_unreliable_fallback": q2, "q3_nested_blindness": q3,
    "q4_tlb_flush": q4, "q5_fast_only": q5, "q6_chromeos": q6, "q7_thp_and_posted_v3": q7,
    "q8_policies": q8,
}



def analyse(name: str, df: pd.DataFrame) -> Finding:
    """``ANALYSES[name](df)``, or a finding that says every run failed (an analysis needs at
    least one completed run to know the metric columns)."""
    if "status" in df and not (df["status"] == "ok").any():
        from simulator.plots.style import new_figure

        return Finding(["(every run failed: see the sweep's sweep_errors.txt)"], {},
                       new_figure((4, 3)))
    return ANALYSES[name](df)


__all__ = ["ANALYSES", "analyse"]

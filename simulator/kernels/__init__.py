"""Kernel release profiles: ``[kernel] release = "6.15"`` resolves every switch that changed.

:data:`PROFILES` maps each modelled release (``history.RELEASES``) and never-merged series
(``history.VARIANTS``: ``v3``, ``v5``-``v7``) to its :class:`KernelProfile`, built by applying
``history.CHANGES`` in order to ``history.BASE``. :func:`markdown` renders the table of
``docs/kernels.md`` and :func:`describe_kernels` the lines of ``mglru-sim list kernels``; both
come from the same history, so the docs cannot drift from the model.
"""

from __future__ import annotations

from simulator.kernels.history import (
    BASE,
    CHANGES,
    RELEASES,
    VARIANTS,
    Change,
    Variant,
    release_key,
)
from simulator.kernels.profile import (
    AUTO,
    BACKEND_NAMES,
    DEFAULT_RELEASE,
    KernelProfile,
    switch_choices,
    switch_doc,
    switch_names,
)


def _fold(release: str) -> KernelProfile:
    values = {c.switch: c.value for c in CHANGES
              if c.modelled and release_key(c.release) <= release_key(release)}
    return BASE.with_values(release=release, **values)


def _build() -> dict[str, KernelProfile]:
    out = {r: _fold(r) for r in RELEASES}
    for v in VARIANTS:
        out[v.name] = out[v.base].with_values(release=v.name, **dict(v.values))
    return out


PROFILES: dict[str, KernelProfile] = _build()
"""Release or series name → profile."""


def profile(name: str) -> KernelProfile:
    """The profile of ``name``. Raises ValueError naming the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown kernel release {name!r} "
                         f"(known: {', '.join(PROFILES)})") from None


def describe_kernels() -> list[tuple[str, str]]:
    """One line per profile: its notifier design and what sets it apart."""
    rows = []
    bases = {v.name: v.base for v in VARIANTS}
    for name, p in PROFILES.items():
        locks = ", ".join(f"{b} {p.aging_lock(b)}" for b in BACKEND_NAMES)
        flush = "x86 flushes" if p.young_flush("x86_tdp") else "x86 no flush"
        base = f"on {bases[name]}; " if name in bases else ""
        rows.append((name, f"{base}{p.notifier}; {p.promotion}-sighting promotion; "
                           f"{flush} on young clear_flush_young; aging locks: {locks}"))
    return rows


def resolve(chosen: KernelProfile) -> KernelProfile:
    """The concrete profile of a ``[kernel]`` table: its release's values, with every switch
    set explicitly (not ``auto``) taking its place. Raises ValueError for an unknown release."""
    base = profile(chosen.release)
    explicit = {sw: getattr(chosen, sw) for sw in switch_names() if getattr(chosen, sw) != AUTO}
    return base.with_values(**explicit)


def deviations(resolved: KernelProfile) -> dict[str, str]:
    """The switches whose value differs from the release's (explicit what-ifs)."""
    base = profile(resolved.release)
    return {sw: getattr(resolved, sw) for sw in switch_names()
            if getattr(resolved, sw) != getattr(base, sw)}


def _cell(value: str) -> str:
    return value.replace("|", "\\|")


def markdown() -> str:
    """The release table and the change list of ``docs/kernels.md``."""
    names = list(PROFILES)
    lines = ["| switch | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for sw in switch_names():
        lines.append(f"| `{sw}` | " + " | ".join(getattr(PROFILES[n], sw) for n in names) + " |")
    lines += ["", "| release | behaviour | commit or mail | switch = value | note |",
              "|---|---|---|---|---|"]
    for c in CHANGES:
        setting = f"`{c.switch} = {c.value}`" if c.modelled else "not modelled"
        lines.append(f"| {c.release} | {_cell(c.behaviour)} | {_cell(c.source)} | {setting} | "
                     f"{_cell(c.note)} |")
    lines += ["", "| series | base | posted | what it changes | source |", "|---|---|---|---|---|"]
    for v in VARIANTS:
        values = ", ".join(f"`{k} = {val}`" for k, val in v.values)
        lines.append(f"| {v.name} ({_cell(v.title)}) | {v.base} | {_cell(v.posted)} | "
                     f"{values} | {_cell(v.source)} |")
    lines += ["", "| switch | choices | meaning |", "|---|---|---|"]
    for sw in switch_names():
        lines.append(f"| `{sw}` | {', '.join(switch_choices(sw))} | {_cell(switch_doc(sw))} |")
    return "\n".join(lines) + "\n"


__all__ = ["AUTO", "BACKEND_NAMES", "CHANGES", "DEFAULT_RELEASE", "PROFILES", "RELEASES",
           "VARIANTS", "Change", "KernelProfile", "Variant", "describe_kernels", "deviations",
           "markdown", "profile", "resolve",
           "switch_choices", "switch_doc", "switch_names"]

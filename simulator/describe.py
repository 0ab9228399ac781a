"""One sentence that says what a run simulated, made from its effective configuration.

A scenario's ``description`` is written by hand for the file as it stands; ``--set`` overrides
and sweep values make it wrong (``--set vm.memory=256MiB`` on "A 1 GiB ... VM"). The report
header and the top of ``config.toml`` use :func:`describe_config` instead, which reads the
effective configuration (the nested dict of ``config.toml`` or
:func:`simulator.config.to_dict`; sizes in bytes or with units) and so always matches the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from simulator.humanize import duration, size
from simulator.units import parse_size

SKEWED = ("zipf", "ycsb_zipf")


def _bytes(value: Any) -> int:
    try:
        return parse_size(value)
    except ValueError:
        return 0


def _table(doc: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = doc.get(name, {})
    return value if isinstance(value, Mapping) else {}


def workload_text(wl: Mapping[str, Any]) -> str:
    """``zipf(0.99)``, ``uniform``, ``trace cloudPhysics.bin``."""
    kind = str(wl.get("kind", "?"))
    if kind in SKEWED and "theta" in wl:
        return f"{kind}({wl['theta']:g})" if isinstance(wl["theta"], float) else \
            f"{kind}({wl['theta']})"
    if kind == "trace" and wl.get("trace"):
        return f"trace {PurePath(str(wl['trace'])).name}"
    return kind


def _vm_text(vm: Mapping[str, Any], wl: Mapping[str, Any]) -> str:
    vcpus = vm.get("vcpus", "?")
    return (f"a {size(_bytes(vm.get('memory', 0)))}, {vcpus}-vCPU {vm.get('backend', '?')} VM "
            f"({workload_text(wl)} guest, aging lock {vm.get('aging_lock', '?')})")


def guests_text(doc: Mapping[str, Any]) -> list[str]:
    """One phrase per VM (the main one, then ``[vms.NAME]``) and for the host task."""
    vm = _table(doc, "vm")
    parts = []
    if vm.get("enabled", True):
        parts.append(_vm_text(vm, _table(doc, "workload")))
    for name, extra in _table(doc, "vms").items():
        if isinstance(extra, Mapping):
            parts.append(f"VM {name}: " + _vm_text(extra, _table(extra, "workload")))
    task = _table(doc, "task")
    if _bytes(task.get("memory", 0)):
        parts.append(f"a {size(_bytes(task['memory']))} host task "
                     f"({workload_text(_table(task, 'workload'))})")
    return parts


def describe_config(doc: Mapping[str, Any]) -> str:
    """``A 256 MiB, 4-vCPU x86_tdp VM (zipf(0.99) guest, aging lock none) in a 768 MiB memcg
    (zram swap, mglru); per_page notifier; Linux 6.15; 2 s simulated, seed 1.``"""
    host, sim = _table(doc, "host"), _table(doc, "sim")
    who = " and ".join(guests_text(doc)) or "nothing"
    policy = str(host.get("policy", "mglru"))
    text = (f"{who} in a {size(_bytes(host.get('memory', 0)))} memcg "
            f"({host.get('swap', '?')} swap, {policy})")
    vm_on = _table(doc, "vm").get("enabled", True) or _table(doc, "vms")
    notifier = _table(doc, "mglru").get("notifier")
    if vm_on and notifier and policy == "mglru":
        text += f"; {notifier} notifier"
    release = _table(doc, "kernel").get("release")
    if release:
        text += f"; Linux {release}" if str(release)[0].isdigit() else f"; the {release} series"
    if "duration_ms" in sim:
        text += f"; {duration(float(sim['duration_ms']) * 1e6)} simulated"
        text += f", seed {sim['seed']}" if "seed" in sim else ""
    return text[0].upper() + text[1:] + "."


__all__ = ["describe_config", "guests_text", "workload_text"]

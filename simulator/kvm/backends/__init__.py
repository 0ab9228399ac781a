"""KVM MMU backends, registered by name (``mglru-sim list backends``)."""

from __future__ import annotations

from simulator.costs import CostConfig
from simulator.kvm.backends.base import KvmBackend
from simulator.kvm.backends.x86_tdp import X86Tdp

BACKENDS: dict[str, type[X86Tdp]] = {X86Tdp.name: X86Tdp}


def make_backend(name: str, guest_pages: int, aging_lock: str, costs: CostConfig) -> KvmBackend:
    """Build backend ``name``; ``aging_lock = "auto"`` resolves to upstream 6.15 behaviour.

    Raises ValueError for an unknown backend or a lock mode the backend cannot use.
    """
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r} (known: {', '.join(BACKENDS)})")
    cls = BACKENDS[name]
    lock = cls.upstream_aging_lock if aging_lock == "auto" else aging_lock
    if lock not in cls.aging_locks:
        raise ValueError(f"backend {name} cannot age with aging_lock={lock!r} "
                         f"(possible: {', '.join(cls.aging_locks)})")
    return cls(guest_pages, lock, costs)


def describe_backends() -> list[tuple[str, str]]:
    return [(name, cls.description) for name, cls in BACKENDS.items()]


__all__ = ["BACKENDS", "KvmBackend", "describe_backends", "make_backend"]

"""KVM MMU backends, one per file, registered by name (``mglru-sim list backends``)."""

from __future__ import annotations

from simulator.costs import CostConfig
from simulator.kernels.profile import KernelProfile
from simulator.kvm.backends.arm64 import Arm64
from simulator.kvm.backends.base import FAST_LOCKS, SHARED_COSTS, BackendBase, KvmBackend
from simulator.kvm.backends.generic import Generic
from simulator.kvm.backends.x86_shadow import X86Shadow
from simulator.kvm.backends.x86_tdp import X86Tdp
from simulator.kvm.backends.x86_tdp_noad import X86TdpNoAd

BACKENDS: dict[str, type[BackendBase]] = {
    cls.name: cls for cls in (X86Tdp, X86TdpNoAd, X86Shadow, Arm64, Generic)
}


def make_backend(name: str, guest_pages: int, aging_lock: str, costs: CostConfig,
                 hw_af: bool = True, kernel: KernelProfile | None = None) -> KvmBackend:
    """Build backend ``name`` as kernel release ``kernel`` has it (default: the default
    release); ``aging_lock = "auto"`` takes the release's lock for this backend. Raises
    ValueError for an unknown name or a lock mode the backend cannot take."""
    from simulator.kernels import DEFAULT_RELEASE, PROFILES

    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r} (known: {', '.join(BACKENDS)})")
    cls = BACKENDS[name]
    kernel = kernel if kernel is not None else PROFILES[DEFAULT_RELEASE]
    lock = kernel.aging_lock(name) if aging_lock == "auto" else aging_lock
    if lock not in cls.aging_locks:
        raise ValueError(f"backend {name} cannot age with aging_lock={lock!r} "
                         f"(possible: {', '.join(cls.aging_locks)})")
    return cls(guest_pages, lock, costs, hw_af, kernel)


def describe_backends() -> list[tuple[str, str]]:
    return [(name, cls.description) for name, cls in BACKENDS.items()]


__all__ = ["BACKENDS", "FAST_LOCKS", "SHARED_COSTS", "KvmBackend", "describe_backends",
           "make_backend"]

"""Replacement policies behind one Protocol, registered by name (``[host] policy``).

- ``mglru`` (:mod:`.mglru`): the multi-gen LRU, the kernel's default since 6.1 on the hosts the
  project models;
- ``classic`` (:mod:`.classic`): the active/inactive LRU the kernel runs with lru_gen disabled;
- ``lru`` (:mod:`.lru`): exact LRU over every access, the yardstick.

:mod:`.base` holds the Protocol (:class:`~simulator.policies.base.ReplacementPolicy`), the
access path the kernel policies share and the driver of sans-I/O reclaim loops. To add a policy:
write one module with a class that implements the Protocol, and add it to :data:`POLICIES`;
``tests/test_policies.py`` runs the contract suite over every registered policy.
"""

from __future__ import annotations

from simulator.policies.base import (
    AccessOutcome,
    AccessPath,
    PolicyHost,
    ReplacementPolicy,
    Touch,
    drive,
    hardware_accesses,
)
from simulator.policies.classic import ClassicPolicy
from simulator.policies.lru import ExactLruPolicy
from simulator.policies.mglru import MglruPolicy

POLICIES: dict[str, type[MglruPolicy] | type[ClassicPolicy] | type[ExactLruPolicy]] = {
    cls.name: cls for cls in (MglruPolicy, ClassicPolicy, ExactLruPolicy)
}
"""Registry: ``[host] policy`` → implementing class (constructed as ``cls(host)``)."""


def make_policy(name: str, host: PolicyHost) -> ReplacementPolicy:
    """Build policy ``name`` over ``host``. Raises ValueError for an unknown name."""
    try:
        cls = POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown policy {name!r} (known: {', '.join(POLICIES)})") from None
    return cls(host)


def describe_policies() -> list[tuple[str, str]]:
    return [(name, cls.description) for name, cls in POLICIES.items()]


__all__ = ["POLICIES", "AccessOutcome", "AccessPath", "ClassicPolicy", "ExactLruPolicy",
           "MglruPolicy", "PolicyHost", "ReplacementPolicy", "Touch", "describe_policies", "drive",
           "hardware_accesses", "make_policy"]

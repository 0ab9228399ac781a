"""``[workload]``: a kind and its parameters, whose keys come from the workload registry.

The table stays flat, as scenario files have it (``kind = "zipf"``, ``theta = 0.99``, ``trace =
"..."``): its keys are ``kind`` and the union of every registered kind's parameters
(:data:`workloads.WORKLOADS`, each kind's ``Params``), in registration order. Every key has its
default whatever the kind, so a file may set keys its kind does not read (a sweep over kinds
does), and the effective configuration, hence the run id, keeps them all. A workload reads its
own parameters, typed, through :meth:`WorkloadConfig.params_as`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from simulator.params import Key, build, keys_of, merge_keys, param
from workloads import WORKLOADS

T = TypeVar("T")

DEFAULT_KIND = "zipf"


def _documented(keys: Mapping[str, Key]) -> dict[str, Key]:
    """The keys with the kinds that read them in front of their doc (``trace: ...``) when
    fewer than half of the kinds do; ``attr`` is the key itself (how values are stored)."""
    out: dict[str, Key] = {}
    for name, key in keys.items():
        readers = [kind for kind, cls in WORKLOADS.items() if name in keys_of(cls.Params)]
        doc = f"{'/'.join(readers)}: {key.doc}" if 2 * len(readers) < len(WORKLOADS) \
            else key.doc
        out[name] = dataclasses.replace(key, attr=name, meta={**key.meta, "doc": doc})
    return out


PARAM_KEYS: Mapping[str, Key] = _documented(
    merge_keys((name, cls.Params) for name, cls in WORKLOADS.items()))
"""Every kind's parameters: scenario key → :class:`~simulator.params.Key`, in order."""


@dataclass(frozen=True, slots=True, init=False)
class WorkloadConfig:
    """``[workload]``: what the vCPUs (or the host task) touch.

    ``WorkloadConfig(kind="trace", trace="t.bin")``: any registered key by name; the others
    keep their defaults. An unknown key is a TypeError (files are checked, with a ConfigError
    naming the key, before they get here).
    """

    kind: str = param(DEFAULT_KIND, choices=tuple(WORKLOADS),
                      doc="access generator (mglru-sim list workloads)")
    values: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """Every parameter key's value, in :data:`PARAM_KEYS` order."""

    def __init__(self, kind: str = DEFAULT_KIND, values: Mapping[str, Any] | None = None,
                 **changes: Any) -> None:
        given = {**(values or {}), **changes}
        unknown = [k for k in given if k not in PARAM_KEYS]
        if unknown:
            raise TypeError(f"WorkloadConfig has no key {unknown[0]!r}")
        merged = {name: given.get(name, key.default) for name, key in PARAM_KEYS.items()}
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "values", merged)

    @staticmethod
    def scenario_keys() -> dict[str, Key]:
        """The table's keys: ``kind``, then every parameter key."""
        kind = dataclasses.fields(WorkloadConfig)[0]
        return {"kind": Key("kind", "kind", str, kind.default, kind.metadata), **PARAM_KEYS}

    def value(self, key: str) -> Any:
        """The value of one key of the table."""
        return self.kind if key == "kind" else self.values[key]

    def params_as(self, cls: type[T]) -> T:
        """The parameters ``cls`` (a kind's ``Params``) declares, with this table's values."""
        return build(cls, self.values)

    if not TYPE_CHECKING:
        def __getattr__(self, name: str) -> Any:
            """``cfg.theta``: any key read as an attribute, for scripts and tests. Typed code
            reads its kind's parameters with :meth:`params_as` (invisible to mypy on purpose,
            so a misspelt attribute there is still an error)."""
            if name == "values":  # not set yet (unpickling): no recursion
                raise AttributeError(name)
            try:
                return self.values[name]
            except KeyError:
                raise AttributeError(name) from None

    @property
    def think_ns(self) -> int:
        """Compute time between two touches of one stream: every kind has it, and the
        simulator, not the generator, applies it."""
        return int(self.values["think_ns"])


__all__ = ["DEFAULT_KIND", "PARAM_KEYS", "WorkloadConfig"]

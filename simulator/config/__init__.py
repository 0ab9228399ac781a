"""Scenario files: TOML -> frozen dataclasses, with every default declared once.

- :mod:`.sections`: the sections (``[sim]``, ``[host]``, ``[vm]``, …) and :class:`Scenario`;
- :mod:`.workload`: ``[workload]``, whose keys come from the workload registry;
- :mod:`.tables`: the keys of each table, for everything below that walks them;
- :mod:`.parse`: reading, checking and building (:func:`load_scenario`), :class:`ConfigError`;
- :mod:`.overrides`: ``--set key=value`` and changing parsed documents;
- :mod:`.toml`: the effective configuration as TOML, and the run id it hashes to;
- :mod:`.keys`: every key, default and doc (``mglru-sim list keys``).

A scenario is parsed, validated and built once, at the boundary; the model only ever sees the
frozen section objects. Sizes accept units (``"4GiB"``, ``"256M"``, ``"512KiB"``, or a plain
integer of bytes); the ``K/M/G/T`` suffixes are binary, as in the kernel selftests'
``parse_size()``.
"""

from __future__ import annotations

from simulator.config.keys import describe_keys
from simulator.config.overrides import (
    apply_overrides,
    copy_document,
    key_at,
    parse_override,
    set_dotted,
    split_lists,
)
from simulator.config.parse import (
    describe_scenarios,
    load_scenario,
    read_toml,
    scenario_from_dict,
)
from simulator.config.sections import (
    ExtraVmConfig,
    HostConfig,
    MglruConfig,
    Scenario,
    SimConfig,
    TaskConfig,
    VmConfig,
)
from simulator.config.toml import run_id_of, to_dict, to_toml, toml_string
from simulator.config.workload import WorkloadConfig
from simulator.costs import CostConfig
from simulator.params import ConfigError
from simulator.units import PAGE_SIZE, parse_size

__all__ = [
    "PAGE_SIZE", "ConfigError", "CostConfig", "ExtraVmConfig", "HostConfig", "MglruConfig",
    "Scenario", "SimConfig", "TaskConfig", "VmConfig", "WorkloadConfig", "apply_overrides",
    "copy_document", "describe_keys", "describe_scenarios", "key_at", "load_scenario",
    "parse_override", "parse_size", "read_toml", "run_id_of", "scenario_from_dict",
    "set_dotted", "split_lists", "to_dict", "to_toml", "toml_string",
]

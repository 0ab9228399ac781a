"""Every name the user types exists in one place and is documented where users look.

A workload kind, KVM backend, notifier design, trace format, replacement policy or command that
is registered but missing from README (or named in README but not registered) fails here, in
both directions: the registries are the one source, the docs must follow them.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from simulator.cli import build_parser
from simulator.config import HostConfig
from simulator.kvm.backends import BACKENDS
from simulator.kvm.notifier import DESIGNS, NOTIFIER_DESIGNS
from simulator.params import keys_of
from simulator.traces import FORMATS, READERS
from workloads import WORKLOADS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
IDENT = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")


def key_row(key: str) -> str:
    """The README key-table row of ``key``, up to its meaning column."""
    for line in README.splitlines():
        if line.startswith(f"| `{key}` |"):
            return line
    raise AssertionError(f"README has no row for {key}")


def names_in(row: str, *, after: str = "") -> set[str]:
    """The identifiers in backticks in a README row's last column (after ``after``), outside
    parentheses (which explain a name with other names)."""
    meaning = row.rstrip(" |").rsplit(" | ", 1)[-1]
    meaning = meaning.split(after, 1)[-1] if after else meaning
    return set(IDENT.findall(re.sub(r"\([^()]*\)", "", meaning)))


def commands() -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


@pytest.mark.parametrize(("key", "registered"), [
    ("workload.kind", set(WORKLOADS)),
    ("vm.backend", set(BACKENDS)),
    ("mglru.notifier", {"auto", *NOTIFIER_DESIGNS}),  # auto: what kernel.release does
    ("host.policy", set(keys_of(HostConfig)["policy"].meta["choices"])),
])
def test_readme_key_table_names_exactly_the_registered_choices(key: str,
                                                               registered: set[str]) -> None:
    assert names_in(key_row(key)) == registered


def test_readme_names_exactly_the_trace_formats() -> None:
    assert set(READERS) == set(FORMATS)
    assert names_in(key_row("workload.trace_format"), after="trace:") == set(FORMATS)
    trace_row = next(line for line in README.splitlines()
                     if line.startswith("| `mglru-sim trace "))
    for fmt in FORMATS:
        assert fmt in trace_row, fmt


def test_readme_command_table_lists_exactly_the_commands() -> None:
    documented = set(re.findall(r"^\| `mglru-sim ([a-z]+)", README, re.MULTILINE))
    assert documented == commands()


def test_every_registry_entry_is_its_own_name() -> None:
    for registry in (WORKLOADS, BACKENDS, DESIGNS):
        for name, cls in registry.items():
            assert cls.name == name
    for name, entry in NOTIFIER_DESIGNS.items():
        assert entry.cls.name == name


def test_docs_describe_every_backend_and_design() -> None:
    backends_md = (ROOT / "docs" / "backends.md").read_text()
    for name in [*BACKENDS, *NOTIFIER_DESIGNS]:
        assert f"`{name}`" in backends_md or f"| {name} |" in backends_md, name


"""The import graph of the simulator has no cycle, and the layers point one way.

Every ``import`` and ``from ... import`` statement of ``simulator/`` and ``workloads/`` is an
edge, wherever it stands (module level, inside a function, or under ``if TYPE_CHECKING:``): a
cycle that only type checking closes still ties the modules together for a reader. Importing
``a.b`` is an edge to ``a.b`` (not to the package ``a``: re-exporting submodules from a
package's ``__init__`` is the registries' pattern).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("simulator", "workloads")


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _edges(modules: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                # ``from a import b``: an edge to the module a.b if b is one, else to a
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                           for a in node.names]
            for t in targets:
                if t in modules and t != name:
                    graph[name].add(t)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_import_graph_has_no_cycle() -> None:
    assert _cycles(_edges(_modules())) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_the_model_never_imports_the_harness() -> None:
    """``simulator.mm`` and ``simulator.kvm`` (the kernel model) and the policies import
    nothing that runs, writes or plots: no cli, runner, output, sweep, plots, report, bench."""
    graph = _edges(_modules())
    harness = ("simulator.cli", "simulator.runner", "simulator.output", "simulator.sweep",
               "simulator.plots", "simulator.report", "simulator.bench", "simulator.questions",
               "simulator.machine", "simulator.host")
    for name, deps in graph.items():
        if name.startswith(("simulator.mm", "simulator.kvm", "simulator.policies")):
            bad = sorted(d for d in deps if d.startswith(harness))
            assert not bad, f"{name} imports {bad}"

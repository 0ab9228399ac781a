"""The scenarios shipped with the package, found by name from any directory.

The repository's ``scenarios/`` folder is package data: ``simulator/scenarios`` links to it in
a checkout (an editable install reads it in place) and a wheel carries a copy. A scenario
argument is a file path if such a file exists; otherwise it names a bundled scenario by its
path below ``scenarios/`` without ``.toml`` (``default``, ``questions/q6_chromeos``), a leading
``scenarios/`` and a trailing ``.toml`` allowed, or by a unique prefix of that name
(``questions/q1``). ``mglru-sim list scenarios`` lists them.
"""

from __future__ import annotations

from pathlib import Path

from simulator.params import ConfigError

BUNDLED_DIR = Path(__file__).resolve().parents[1] / "scenarios"
"""``simulator/scenarios``: the bundled scenario files."""


def bundled_dir(sub: str = "") -> Path:
    """The bundled scenarios' folder, or its subfolder ``sub`` (``ci``, ``questions``)."""
    return BUNDLED_DIR / sub if sub else BUNDLED_DIR


def bundled_scenarios() -> dict[str, Path]:
    """Every bundled scenario: its name (``questions/q6_chromeos``) and file, sorted."""
    if not BUNDLED_DIR.is_dir():
        return {}
    return {p.relative_to(BUNDLED_DIR).with_suffix("").as_posix(): p
            for p in sorted(BUNDLED_DIR.rglob("*.toml"))}


def resolve_scenario(text: str | Path) -> Path:
    """The scenario file ``text`` names: an existing path, else a bundled scenario.

    Raises ConfigError (naming ``text``) when neither exists or a prefix fits several.
    """
    path = Path(text)
    if path.exists():  # a folder, a FIFO, a device: read_toml says why it cannot be read
        return path
    name = path.as_posix().removesuffix(".toml").removeprefix("./").removeprefix("scenarios/")
    known = bundled_scenarios()
    if name in known:
        return known[name]
    matches = [n for n in known if n.startswith(name)] if name else []
    if len(matches) == 1:
        return known[matches[0]]
    if matches:
        raise ConfigError(str(text), "", f"names several bundled scenarios ({', '.join(matches)})")
    raise ConfigError(str(text), "", "no such file, nor a bundled scenario of that name "
                      "(mglru-sim list scenarios)")


__all__ = ["BUNDLED_DIR", "bundled_dir", "bundled_scenarios", "resolve_scenario"]

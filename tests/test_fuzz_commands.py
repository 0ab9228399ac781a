"""The fuzz harness of issue 19: every command, whatever it is fed, either exits 0 with complete
outputs, or exits 1 or 2 with one line on stderr and nothing left behind.

Hypothesis draws hostile inputs of four kinds and feeds them to the commands, in this process
(``simulator.cli.main``), each in a fresh sandbox folder that is also the working directory:

- scenario documents over the real key space (every key of ``describe_keys``, misspelt and
  unknown keys), with NaN, infinities, huge and negative numbers, unicode and control
  characters, lists, inline tables and deep nesting; written as TOML (key clashes and bad
  nesting included) for ``validate``, ``run`` and ``sweep --dry-run``;
- ``--set`` strings (keys real or not, a missing ``=``, lists, NUL, unicode, huge numbers) for
  ``validate``, ``sweep --dry-run`` and ``run``;
- trace bytes (valid traces corrupted, or random bytes) under every trace file name, for
  ``trace info``, ``trace convert``, ``mrc`` and a ``run`` replaying them;
- output locations (a file, a NUL, ``/proc``, a symlink where the run's folder goes, a
  name too long for the file system, a dangling link) for ``run``, ``selftest``, ``mrc``,
  ``trace convert`` and ``sweep``.

After each command: exit 0, and the outputs it names are complete (a run folder's
``.complete`` lists files that are all there, no temporaries anywhere); or exit 1 or 2, one
line on stderr starting ``mglru-sim``, no traceback, and the sandbox exactly as it was. Any
other exit code or an exception is a failure.

``make test`` runs a bounded version (about 30 s, derandomized so it is reproducible);
``MGLRU_SIM_FUZZ=10`` runs ten times as many examples, randomly.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from simulator.cli import main
from simulator.config import describe_keys
from simulator.config.toml import toml_string
from simulator.output.run_folder import COMPLETE_MARKER, manifest
from simulator.output.stale import is_temporary

ROOT = Path(__file__).resolve().parents[1]
SCALE = int(os.environ.get("MGLRU_SIM_FUZZ", "1") or "1")
"""Examples are multiplied by this; above 1 they are also drawn at random."""


def fuzz_settings(examples: int) -> settings:
    """Bounded and reproducible in ``make test``; ``MGLRU_SIM_FUZZ`` scales it up."""
    return settings(max_examples=examples * SCALE, deadline=None, database=None,
                    derandomize=SCALE == 1, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture,
                                           HealthCheck.filter_too_much])


TINY = ["--max-memory", "2GiB"]
"""Every command that allocates gets a limit: a fuzzed size is refused, not attempted."""
SHORT_RUN = ["--set", "sim.duration_ms=1", "--set", "vm.memory=4MiB", "--set",
             "host.memory=4MiB"]
"""A run of about a second at most (fuzzed ``--set`` come after and override these)."""


# --- running a command and checking the promise -------------------------------------------
def _snapshot(root: Path) -> dict[str, str]:
    """Every entry below ``root`` (without following links): its kind and, for files, size."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = f"file:{p.stat().st_size}"
    return out


@contextlib.contextmanager
def sandbox() -> Iterator[Path]:
    """A fresh folder, the working directory while the block runs."""
    old = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="fuzz-") as d:
        os.chdir(d)
        try:
            yield Path(d)
        finally:
            os.chdir(old)


def run_cli(box: Path, argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)`` in ``box``, checked against the promise; returns (rc, stdout, stderr).

    Exit 0 may add files (checked by the caller and :func:`_no_temporaries`); exit 1 or 2
    must leave ``box`` exactly as it was, with one line on stderr.
    """
    before = _snapshot(box)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    stdout, stderr = out.getvalue(), err.getvalue()
    what = f"mglru-sim {' '.join(map(repr, argv))}: exit {rc}, stderr {stderr!r}"
    assert "Traceback" not in stderr, what
    assert rc in (0, 1, 2), what
    _no_temporaries(box, what)
    event(f"{' '.join(argv[:2]) if argv[0] == 'trace' else argv[0]}: exit {rc}")
    if rc != 0:
        assert stderr.count("\n") == 1 and stderr.startswith("mglru-sim"), what
        assert _snapshot(box) == before, f"{what}: left {set(_snapshot(box)) - set(before)}"
    return rc, stdout, stderr


def _no_temporaries(box: Path, what: str) -> None:
    left = [p for p in box.rglob("*") if is_temporary(p.name) or p.name.endswith(".tmp")]
    assert not left, f"{what}: temporaries left: {left}"


def check_run_folder(box: Path, stdout: str) -> None:
    """A run that exited 0 named its run folder: complete, every listed file there."""
    m = re.search(r"^run folder: (.+)$", stdout, re.M)
    assert m, stdout
    folder = box / m.group(1) if not Path(m.group(1)).is_absolute() else Path(m.group(1))
    assert folder.resolve().is_relative_to(box.resolve()), folder
    assert (folder / COMPLETE_MARKER).is_file(), folder
    listed = manifest(folder)
    assert listed, folder
    assert all((folder / name).is_file() for name in listed), (folder, listed)


# --- scenario documents --------------------------------------------------------------------
KEYS = [k.replace("<name>", "b") for k, _, _ in describe_keys()]
JUNK_KEYS = ["vm.vcpu", "sim.sed", "zzz", "vms.b.nope", "vms.vm0.vcpus", "vms.task.memory",
             "", "a..b", "ünïcødé", "sim.duration_ms.x", "sweep.vm.vcpus", "sweep.zip",
             "sweep.sim.seed", "name", "description"]
HOSTILE_NUMBERS = st.sampled_from([
    float("nan"), float("inf"), float("-inf"), -1.0, 0.0, 1e-300, 1e308, -0.0, 0.5, 2.0,
    -1, 0, 1, 2, 3, 128, 129, 2**31, 2**63 - 1, 2**63, -2**63, 10**30])
SIZES = st.sampled_from(["2MiB", "4MiB", "8MiB", "64KiB", "1TiB", "8EiB", "-1", "0", "12QB",
                         "1e3", "4 GiB", "nan", "", "2MiB "])
NAMES = st.sampled_from(["x", "../escape", "/etc/mglru", "a\x00b", "a" * 300, ".hidden",
                         "-dash", "ok.name", "sp ace", "ünï", "con", "a/b", "\n"])
SCALARS = st.one_of(HOSTILE_NUMBERS, SIZES, NAMES, st.booleans(),
                    st.text(max_size=12), st.integers(-10, 10),
                    st.sampled_from(["zipf", "uniform", "trace", "mglru", "lru", "classic",
                                     "x86_tdp", "arm64", "per_page", "bitmap", "back_to_back",
                                     "interval", "reclaim", "6.12", "fast", "fine"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["a", "memory", "vcpus"]),
                                                 inner, max_size=2)), max_leaves=6)


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if v != v else ("inf" if v == float("inf") else
                                     "-inf" if v == float("-inf") else repr(v))
    if isinstance(v, str):
        return toml_string(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{toml_string(k)} = {toml_value(x)}" for k, x in v.items()) + "}"


def toml_key(dotted: str) -> str:
    return ".".join(toml_string(part) for part in dotted.split("."))


@st.composite
def scenario_texts(draw: st.DrawFn) -> bytes:
    """A scenario file: dotted keys with hostile values, sometimes deep nesting or junk."""
    lines = ['name = "fuzz"'] if draw(st.booleans()) else []
    for key in draw(st.lists(st.sampled_from(KEYS + JUNK_KEYS), max_size=6)):
        lines.append(f"{toml_key(key)} = {toml_value(draw(VALUES))}")
    extra = draw(st.sampled_from(["", "", "", "deep list", "deep table", "syntax", "binary",
                                  "bom"]))
    depth = draw(st.integers(2, 40))
    if extra == "deep list":
        lines.append("vm.vcpus = " + "[" * depth + "1" + "]" * depth)
    elif extra == "deep table":
        lines.append("[" + ".".join(f"t{i}" for i in range(depth)) + "]\nx = 1")
    elif extra == "syntax":
        lines.append(draw(st.sampled_from(["[vm", "x = ", "= 1", "a = 'b", "[[vm]]"])))
    data = ("\n".join(lines) + "\n").encode("utf-8")
    if extra == "binary":  # not UTF-8
        data += b"x = \"\xff\xfe\"\n"
    return b"\xef\xbb\xbf" + data if extra == "bom" else data


@fuzz_settings(25)
@given(text=scenario_texts())
def test_scenario_files(text: bytes) -> None:
    with sandbox() as box:
        (box / "s.toml").write_bytes(text)
        run_cli(box, ["validate", "s.toml"])
        run_cli(box, ["sweep", "s.toml", "--dry-run", "--out", "out", *TINY])
        rc, stdout, _ = run_cli(box, ["run", "s.toml", "--no-report", "--out", "out", *TINY,
                                      *SHORT_RUN])
        if rc == 0:
            check_run_folder(box, stdout)


# --- --set strings -------------------------------------------------------------------------
SET_VALUES = st.one_of(
    st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1e999", "99999999999999999999999",
                     "[1,2", "[]", "[1,2]", "{}", "{a=1}", "true", "4GiB", "1TiB", "2MiB",
                     "a\x00b", "../x", "", " ", "'quoted'", '"dq"', "ünï", "1", "3"]),
    st.text(max_size=10))


@st.composite
def set_strings(draw: st.DrawFn) -> list[str]:
    out = []
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(KEYS + JUNK_KEYS) | st.text(max_size=8))
        sep = draw(st.sampled_from(["=", "=", "=", "", "==", " = "]))
        out.append(f"{key}{sep}{draw(SET_VALUES)}")
    return out


@fuzz_settings(25)
@given(sets=set_strings())
def test_set_strings(sets: list[str]) -> None:
    args = [a for s in sets for a in ("--set", s)]
    with sandbox() as box:
        run_cli(box, ["validate", str(ROOT / "scenarios/default.toml"), *args])
        run_cli(box, ["sweep", str(ROOT / "scenarios/sweep_example.toml"), "--dry-run",
                      "--out", "out", *TINY, *args])
        rc, stdout, _ = run_cli(box, ["run", str(ROOT / "scenarios/default.toml"),
                                      "--no-report", "--out", "out", *TINY, *SHORT_RUN, *args])
        if rc == 0:
            check_run_folder(box, stdout)


# --- trace bytes ---------------------------------------------------------------------------
REC = np.dtype([("ts", "<u4"), ("id", "<u8"), ("sz", "<u4"), ("nv", "<i8")])


def _valid_trace(suffix: str) -> bytes:
    ids = np.arange(60, dtype=np.uint64) * 7 % 23
    if suffix == ".bin":
        rec = np.zeros(len(ids), dtype=REC)
        rec["id"] = ids
        return rec.tobytes()
    if suffix in (".csv", ".txt", ""):
        return ("page,rw\n" + "".join(f"{i},{'W' if i % 2 else 'R'}\n" for i in ids)).encode()
    if suffix == ".lackey":
        return "".join(f" {'L' if i % 2 else 'S'} {int(i) * 4096 + 0x400000:08x},8\n"
                       for i in ids).encode()
    buf = io.BytesIO()
    if suffix == ".npz":
        np.savez(buf, pages=ids.astype(np.int64))
    else:
        np.save(buf, ids.astype(np.int64))
    return buf.getvalue()


@st.composite
def trace_files(draw: st.DrawFn) -> tuple[str, bytes]:
    suffix = draw(st.sampled_from([".bin", ".csv", ".npy", ".npz", ".lackey", ".txt",
                                   ".csv.zst", ".npy.zst", ""]))
    if draw(st.integers(0, 4)) == 0:
        return suffix, draw(st.binary(max_size=200))
    base = suffix.removesuffix(".zst")
    data = bytearray(_valid_trace(base))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete", "huge id", "nul"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 16))]
        elif op == "huge id" and base in (".csv", ".txt", ""):
            data += b"18446744073709551616,R\n-5,W\n1e30,R\n"
        elif op == "nul":
            data[pos:pos] = b"\x00"
    if suffix.endswith(".zst") and draw(st.booleans()):
        import zstandard

        return suffix, zstandard.ZstdCompressor().compress(bytes(data))
    return suffix, bytes(data)


@fuzz_settings(25)
@given(trace=trace_files(), target=st.sampled_from(["t.npy", "t.csv"]))
def test_trace_bytes(trace: tuple[str, bytes], target: str) -> None:
    suffix, data = trace
    with sandbox() as box:
        path = box / f"trace{suffix}"
        path.write_bytes(data)
        run_cli(box, ["trace", "info", path.name, *TINY])
        rc, _, _ = run_cli(box, ["trace", "convert", path.name, f"out/{target}", *TINY])
        if rc == 0:
            assert (box / "out" / target).is_file()
        rc, _, _ = run_cli(box, ["mrc", path.name, "--sizes", "0.5,3", "--no-mglru", "--out",
                                 "out/mrc", *TINY])
        if rc == 0:
            assert all((box / "out/mrc" / n).is_file() for n in ("mrc.csv", "mrc.png",
                                                                  "mrc.svg"))
        rc, stdout, _ = run_cli(box, [
            "run", "--no-report", "--out", "out", *TINY, "--set", "sim.duration_ms=1",
            "--set", "vm.enabled=false", "--set", "task.memory=1MiB", "--set",
            "host.memory=1MiB", "--set", "task.workload.kind=trace", "--set",
            f"task.workload.trace={path.name}"])
        if rc == 0:
            check_run_folder(box, stdout)


# --- output locations ----------------------------------------------------------------------
LOCATIONS = ["fresh", "existing", "nested", "file", "nul", "proc", "long", "dangling link",
             "linked out", "symlinked name", "file at name", "dotdot"]


def make_location(box: Path, kind: str, name: str) -> tuple[str, Path | None]:
    """``--out`` of ``kind`` in ``box``, and a folder that must stay empty (or None)."""
    elsewhere = box / "elsewhere"
    elsewhere.mkdir()
    if kind == "existing":
        (box / "out").mkdir()
    elif kind == "file":
        (box / "out").write_text("a file\n")
    elif kind == "dangling link":
        (box / "out").symlink_to(box / "missing")
    elif kind == "linked out":  # OUT itself may be a link (results on another disk)
        (box / "out").symlink_to(elsewhere)
        return "out", None
    elif kind == "symlinked name":  # a link where OUT/<name> goes: refused
        (box / "out").mkdir()
        (box / "out" / name).symlink_to(elsewhere)
    elif kind == "file at name":
        (box / "out").mkdir()
        (box / "out" / name).write_text("not a folder\n")
    return {"nested": "out/a/b/c", "nul": "out\x00x", "proc": "/proc/mglru-sim-fuzz",
            "long": "out/" + "x" * 300, "dotdot": "out/../out2"}.get(kind, "out"), elsewhere


@fuzz_settings(24)  # of the 60 (location, command) pairs; make fuzz runs them all
@given(kind=st.sampled_from(LOCATIONS),
       command=st.sampled_from(["run", "selftest", "mrc", "convert", "sweep"]))
def test_output_locations(kind: str, command: str) -> None:
    name = {"run": "default", "selftest": "access_tracking", "sweep": "fuzz_sweep",
            "mrc": "a", "convert": "a"}[command]
    with sandbox() as box:
        trace = box / "t.npy"
        trace.write_bytes(_valid_trace(".npy"))
        out, elsewhere = make_location(box, kind, name)
        if command == "run":
            argv = ["run", str(ROOT / "scenarios/default.toml"), "--no-report", "--out", out,
                    *TINY, *SHORT_RUN]
        elif command == "selftest":
            argv = ["selftest", "access-tracking", "-v", "1", "-b", "2M", "-w", "--out", out, *TINY]
        elif command == "sweep":
            (box / "sw.toml").write_text('name = "fuzz_sweep"\n[sim]\nduration_ms = 1\n'
                                         '[vm]\nmemory = "4MiB"\n[host]\nmemory = "4MiB"\n'
                                         "[sweep]\nsim.seed = [1, 2]\n")
            argv = ["sweep", "sw.toml", "--jobs", "1", "--out", out, *TINY]
        elif command == "mrc":
            argv = ["mrc", trace.name, "--sizes", "0.5", "--no-mglru", "--out", f"{out}/a",
                    *TINY]
        else:
            argv = ["trace", "convert", trace.name, f"{out}/a/t.csv", *TINY]
        rc, stdout, _ = run_cli(box, argv)
        # mrc and trace convert write where --out (or OUT) says, a link or not: no name of
        # theirs is appended to it
        if elsewhere is not None and command in ("run", "selftest", "sweep"):
            assert not any(elsewhere.iterdir()), f"{argv}: wrote through a link"
        if rc == 0 and command in ("run", "selftest"):
            check_run_folder(box, stdout)
        if rc == 0 and command == "sweep":
            folder = Path(out) / "fuzz_sweep"
            assert (box / folder / "sweep.csv").is_file()
            assert len((box / folder / "sweep.csv").read_text().splitlines()) == 3

"""The output layer: every file is written whole or not at all, and no temporary is left."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from simulator.output import atomic_folder, atomic_write


def test_bytes_text_and_writer_forms(tmp_path: Path) -> None:
    assert atomic_write(tmp_path / "a.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    assert atomic_write(tmp_path / "b.txt", "é\n").read_text(encoding="utf-8") == "é\n"
    written = atomic_write(tmp_path / "sub" / "c.csv", lambda p: p.write_text("x,y\n"))
    assert written.read_text() == "x,y\n"  # missing folders are created
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "b.txt", "sub"]


def test_the_data_is_synced_before_the_rename(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace",
                        lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    atomic_write(tmp_path / "f", lambda p: p.write_bytes(b"1"))
    # the file, then (after the rename) its directory
    assert events == ["fsync", "replace", "fsync"]


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_an_error_leaves_the_old_file_and_no_temporary(tmp_path: Path,
                                                       error: BaseException) -> None:
    path = atomic_write(tmp_path / "f.txt", "old\n")

    def failing(p: Path) -> None:
        p.write_text("half")
        raise error

    with pytest.raises(type(error)):
        atomic_write(path, failing)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_a_failed_rename_leaves_no_temporary(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def no_rename(src: object, dst: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "f", b"data")
    assert list(tmp_path.iterdir()) == []


def test_a_rewritten_file_keeps_its_mode_and_a_new_one_follows_the_umask(
        tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        fresh = atomic_write(tmp_path / "new", "x")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
        kept = atomic_write(tmp_path / "kept", "x")
        kept.chmod(0o600)
        atomic_write(kept, lambda p: p.write_text("y"))
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_a_folder_appears_whole_and_replaces_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "run"
    with atomic_folder(target) as staging:
        atomic_write(staging / "a", "1")
        assert not target.exists()
    assert (target / "a").read_text() == "1"
    with atomic_folder(target) as staging:
        atomic_write(staging / "b", "2")
    assert sorted(p.name for p in target.iterdir()) == ["b"]


def test_an_interrupted_folder_leaves_the_old_one_and_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "run"
    with atomic_folder(target) as staging:
        atomic_write(staging / "a", "1")
    with pytest.raises(KeyboardInterrupt), atomic_folder(target) as staging:
        atomic_write(staging / "b", "2")
        raise KeyboardInterrupt
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert sorted(p.name for p in target.iterdir()) == ["a"]

"""Local disks: staged bytes reach stable storage before a rename can make them the file's, and
only then (an unchanged or refused save is never forced to disk)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.storage import FsspecStorage


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


@pytest.fixture
def storage(tmp_path: Path) -> FsspecStorage:
    root = tmp_path / "root"
    root.mkdir()
    (root / "doc.docx").write_bytes(b"old bytes")
    return FsspecStorage("file", str(root), egress=None)


@pytest.fixture
def disk_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """("fsync", inode) and ("replace", inode of the source), in the order they happen."""
    calls: list[tuple[str, int]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append(("fsync", os.fstat(fd).st_ino))
        real_fsync(fd)

    def replace(source: str, target: str, *, src_dir_fd: int | None = None, dst_dir_fd: int | None = None) -> None:
        calls.append(("replace", os.stat(source, dir_fd=src_dir_fd).st_ino))
        real_replace(source, target, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return calls


async def test_published_bytes_are_synced_before_the_rename(storage: FsspecStorage,
                                                            disk_calls: list[tuple[str, int]]) -> None:
    staged = await storage.stage("doc.docx", _body(b"new bytes"), limit=1 << 20)
    await staged.publish("doc.docx")

    published = os.stat(os.path.join(storage.root, "doc.docx")).st_ino
    assert disk_calls == [("fsync", published), ("replace", published)]
    assert Path(storage.root, "doc.docx").read_bytes() == b"new bytes"


async def test_bytes_never_published_are_never_synced(storage: FsspecStorage,
                                                      disk_calls: list[tuple[str, int]]) -> None:
    staged = await storage.stage("doc.docx", _body(b"old bytes"), limit=1 << 20)
    await staged.discard()

    assert disk_calls == []
    assert Path(storage.root, "doc.docx").read_bytes() == b"old bytes"

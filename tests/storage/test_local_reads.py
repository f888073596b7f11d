"""What reading a local folder must survive beyond the conformance suite: things someone else
leaves in the folder or does to a file while wopi-proxy reads it."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

import pytest

from shared.errors import FileNotFound, PathOutsideRoot
from shared.storage import FsspecStorage
from shared.storage import fsspec_storage


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    folder.mkdir()
    return folder


async def test_a_fifo_in_the_folder_is_file_not_found_without_blocking(root: Path) -> None:
    os.mkfifo(root / "pipe.docx")  # open() of a FIFO waits for a writer that never comes
    storage = FsspecStorage("file", str(root))

    try:
        with pytest.raises(FileNotFound):
            await asyncio.wait_for(storage.open_read("pipe.docx"), 30)
    finally:  # a reader stuck in open() is let go, so that a failure does not hang the run
        with contextlib.suppress(OSError):
            os.close(os.open(root / "pipe.docx", os.O_WRONLY | os.O_NONBLOCK))


async def test_a_symlinked_folder_out_of_the_root_is_refused_for_reads(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.docx").write_bytes(b"secret")
    (root / "escape").symlink_to(outside)
    storage = FsspecStorage("file", str(root))

    for attempt in (storage.open_read("escape/secret.docx"), storage.stat("escape/secret.docx")):
        with pytest.raises(PathOutsideRoot):
            await attempt


async def test_a_small_file_overwritten_in_place_mid_read_is_never_answered_as_a_mix(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone with access to the folder (not wopi-proxy, whose saves replace files) overwrites
    the file in place between two reads of it: the answer is the old bytes or the new, whole."""
    path = root / "doc.txt"
    path.write_bytes(b"A" * 10)
    os.utime(path, (1_000_000_000, 1_000_000_000))  # the overwrite's time differs, however coarse the clock
    real_pread = os.pread
    calls: list[int] = []

    def short_read_then_overwrite(fd: int, size: int, offset: int) -> bytes:
        calls.append(offset)
        if len(calls) == 1:  # a short read, as the kernel may give; then the overwrite
            piece = real_pread(fd, 4, offset)
            with open(path, "r+b") as out:
                out.write(b"B" * 10)
            return piece
        return real_pread(fd, size, offset)

    monkeypatch.setattr(fsspec_storage.os, "pread", short_read_then_overwrite)
    opened = await FsspecStorage("file", str(root)).open_read("doc.txt")

    assert opened.whole in (b"A" * 10, b"B" * 10)
    assert opened.stat.size == 10


async def test_a_small_file_that_keeps_changing_is_streamed_not_read_whole(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = root / "doc.txt"
    path.write_bytes(b"x")
    real_pread = os.pread

    def pread_while_appending(fd: int, size: int, offset: int) -> bytes:
        with open(path, "ab") as out:
            out.write(b"x")
        return real_pread(fd, size, offset)

    monkeypatch.setattr(fsspec_storage.os, "pread", pread_while_appending)
    opened = await FsspecStorage("file", str(root)).open_read("doc.txt")
    monkeypatch.undo()

    assert opened.whole is None
    streamed = b"".join([chunk async for chunk in opened.chunks])
    assert streamed == path.read_bytes()

"""What reading a local folder must survive beyond the conformance suite: things someone else
leaves in the folder or does to a file while wopi-proxy reads it."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import threading
from pathlib import Path

import pytest

from shared.errors import FileNotFound, PathOutsideRoot
from shared.storage import FsspecStorage
from shared.storage import local_files


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    folder.mkdir()
    return folder


async def test_a_fifo_in_the_folder_is_file_not_found_without_blocking(root: Path) -> None:
    os.mkfifo(root / "pipe.docx")  # open() of a FIFO waits for a writer that never comes
    storage = FsspecStorage("file", str(root), egress=None)

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
    storage = FsspecStorage("file", str(root), egress=None)

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

    monkeypatch.setattr(local_files.os, "pread", short_read_then_overwrite)
    opened = await FsspecStorage("file", str(root), egress=None).open_read("doc.txt")

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

    monkeypatch.setattr(local_files.os, "pread", pread_while_appending)
    opened = await FsspecStorage("file", str(root), egress=None).open_read("doc.txt")
    monkeypatch.undo()

    assert opened.whole is None
    streamed = b"".join([chunk async for chunk in opened.chunks])
    assert streamed == path.read_bytes()


def _open_descriptors() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


async def test_chunks_not_in_the_page_cache_are_read_in_a_worker_thread(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The event loop's read must never wait for a disk: when the kernel says the bytes are not
    cached (EAGAIN for RWF_NOWAIT), a worker thread reads them, and the bytes are the same."""
    data = os.urandom(3 * 64 * 1024 + 5)
    (root / "big.bin").write_bytes(data)
    real_preadv = os.preadv
    on_loop: list[int] = []

    def uncached(fd: int, buffers: list[bytearray], offset: int, flags: int = 0) -> int:
        if flags:
            on_loop.append(offset)
            raise BlockingIOError(errno.EAGAIN, "not cached")
        return real_preadv(fd, buffers, offset)

    monkeypatch.setattr(local_files.os, "preadv", uncached)
    opened = await FsspecStorage("file", str(root), egress=None).open_read("big.bin", chunk_size=64 * 1024)

    assert b"".join([chunk async for chunk in opened.chunks]) == data
    assert on_loop == [0, 65536, 131072, 196608, 196613]  # every chunk asked the cache first


async def test_a_file_system_without_nowait_reads_is_read_in_worker_threads(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = os.urandom(3 * 64 * 1024)
    (root / "big.bin").write_bytes(data)
    real_preadv = os.preadv
    on_loop: list[int] = []

    def unsupported(fd: int, buffers: list[bytearray], offset: int, flags: int = 0) -> int:
        if flags:
            on_loop.append(offset)
            raise OSError(errno.EOPNOTSUPP, "not supported")
        return real_preadv(fd, buffers, offset)

    monkeypatch.setattr(local_files.os, "preadv", unsupported)
    opened = await FsspecStorage("file", str(root), egress=None).open_read("big.bin", chunk_size=64 * 1024)

    assert b"".join([chunk async for chunk in opened.chunks]) == data
    assert on_loop == [0]  # asked once, then never again for this download


async def test_a_download_read_to_the_end_leaves_no_descriptor_open(root: Path) -> None:
    (root / "big.bin").write_bytes(os.urandom(200 * 1024))
    before = _open_descriptors()
    opened = await FsspecStorage("file", str(root), egress=None).open_read("big.bin", chunk_size=64 * 1024)
    assert len(_open_descriptors() - before) == 1

    assert len(b"".join([chunk async for chunk in opened.chunks])) == 200 * 1024
    assert _open_descriptors() - before == set()


async def test_a_download_cancelled_during_a_disk_read_closes_the_file_once_the_read_ends(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The client goes away while a worker thread reads into the download's buffer: the file
    is closed, but only after that read ended (never under it)."""
    (root / "big.bin").write_bytes(os.urandom(200 * 1024))
    real_read = local_files._read_from_disk
    release = threading.Event()
    started = threading.Event()

    closed_under_the_read: list[OSError] = []

    def slow_disk(fd: int, buffer: bytearray, offset: int) -> int:
        started.set()
        release.wait(30)
        try:
            os.fstat(fd)
        except OSError as exc:  # EBADF: the file was closed while this read was running
            closed_under_the_read.append(exc)
        return real_read(fd, buffer, offset)

    monkeypatch.setattr(local_files, "_read_from_disk", slow_disk)
    monkeypatch.setattr(local_files, "_NOWAIT", None)
    before = _open_descriptors()
    opened = await FsspecStorage("file", str(root), egress=None).open_read("big.bin", chunk_size=64 * 1024)
    download = asyncio.ensure_future(opened.chunks.__anext__())
    assert await asyncio.to_thread(started.wait, 30)

    download.cancel()
    await asyncio.sleep(0.1)  # the window in which a wrong aclose() would close the file
    assert len(_open_descriptors() - before) == 1  # the read still runs: the file stays open
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await download
    assert closed_under_the_read == []
    deadline = asyncio.get_running_loop().time() + 30
    while _open_descriptors() - before and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    assert _open_descriptors() - before == set()

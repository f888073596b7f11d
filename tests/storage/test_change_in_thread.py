"""A step that changes storage finishes before its cancelled caller goes on
(shared.storage.fsspec_storage.change_in_thread): the write protocol's next step, which decides
from what storage holds, never looks while storage is changing."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from shared.storage import FsspecStorage
from shared.storage.fsspec_storage import change_in_thread

WAIT_S = 30.0


async def test_a_cancelled_caller_waits_for_the_step_and_then_hears_the_cancellation() -> None:
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def step() -> str:
        started.set()
        assert release.wait(WAIT_S)
        finished.set()
        return "done"

    caller = asyncio.ensure_future(change_in_thread(step))
    assert await asyncio.to_thread(started.wait, WAIT_S)
    caller.cancel()
    await asyncio.sleep(0)  # let the cancellation reach the caller
    assert not caller.done()  # still waiting for the thread
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert finished.is_set()


async def test_an_uncancelled_step_returns_its_result_or_raises_its_error() -> None:
    assert await change_in_thread(lambda: 42) == 42

    def failing() -> None:
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        await change_in_thread(failing)


async def test_a_publish_cancelled_midway_has_replaced_the_file_when_the_caller_goes_on(tmp_path: Path) -> None:
    (tmp_path / "doc.txt").write_bytes(b"old")
    storage = FsspecStorage("file", str(tmp_path), egress=None)

    async def body() -> object:
        yield b"new"

    staged = await storage.stage("doc.txt", body(), limit=1 << 20)
    publishing = asyncio.ensure_future(staged.publish("doc.txt"))
    await asyncio.sleep(0)  # the publish is in its thread
    publishing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await publishing
    assert (tmp_path / "doc.txt").read_bytes() == b"new"

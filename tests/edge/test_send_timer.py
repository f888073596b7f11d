"""When a reply's write needs the send timer (edge.server): only when its drain could wait.

On a real socket pair whose far end reads nothing: the timer may be left out only while a write
can neither wait for a paused protocol nor pause it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from hypercorn.events import Closed, RawData

from edge import server
from edge.server import _transport_cannot_wait as _cannot_wait

LOW, HIGH = 16 * 1024, 64 * 1024


@asynccontextmanager
async def _writer_to_a_silent_peer() -> AsyncIterator[asyncio.StreamWriter]:
    ours, theirs = socket.socketpair()
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    _, writer = await asyncio.open_connection(sock=ours)
    writer.transport.set_write_buffer_limits(high=HIGH, low=LOW)
    try:
        yield writer
    finally:
        writer.transport.abort()
        theirs.close()


def _run(check: Callable[[asyncio.StreamWriter], Awaitable[None]]) -> None:
    async def scenario() -> None:
        async with _writer_to_a_silent_peer() as writer:
            await check(writer)
    asyncio.run(scenario())


def test_a_small_write_to_an_empty_buffer_needs_no_timer() -> None:
    async def check(writer: asyncio.StreamWriter) -> None:
        assert _cannot_wait(writer.transport, 1024)
        assert _cannot_wait(writer.transport, HIGH)
    _run(check)


def test_a_write_that_would_pass_the_high_water_mark_keeps_the_timer() -> None:
    async def check(writer: asyncio.StreamWriter) -> None:
        assert not _cannot_wait(writer.transport, HIGH + 1)
    _run(check)


def test_a_buffer_over_the_low_water_mark_keeps_the_timer_even_for_a_byte() -> None:
    async def check(writer: asyncio.StreamWriter) -> None:
        # Between the marks: the protocol may still be paused from a fuller buffer, so even a
        # write that fits under the high-water mark may wait.
        writer.write(b"x" * 56 * 1024)  # the peer reads nothing: most of it stays buffered
        assert LOW < writer.transport.get_write_buffer_size() < HIGH - 1024
        assert not _cannot_wait(writer.transport, 1)
    _run(check)


def test_a_closing_transport_keeps_the_timer() -> None:
    async def check(writer: asyncio.StreamWriter) -> None:
        writer.close()
        assert not _cannot_wait(writer.transport, 1)
    _run(check)


def test_writes_queued_behind_another_send_are_cut_off_when_the_client_reads_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTP/2 sends from several tasks on one connection: a write that waits for the send lock is
    checked against a buffer that is not yet its own, so it keeps the timer. Without that, the
    second of two small writes queued behind a held lock passes the high-water mark together with
    the first and waits for ever."""
    monkeypatch.setattr(server, "_send_idle_timeout_s", 0.5)

    async def scenario() -> None:
        ours, theirs = socket.socketpair()
        theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        ours.setblocking(False)
        try:
            while True:  # the kernel's buffers full: the peer reads nothing
                ours.send(b"k" * 4096)
        except BlockingIOError:
            pass
        _, writer = await asyncio.open_connection(sock=ours)
        writer.transport.set_write_buffer_limits(high=HIGH, low=LOW)
        closed: list[Any] = []

        async def handle(event: Any) -> None:
            closed.append(event)

        connection: Any = SimpleNamespace(writer=writer, send_lock=asyncio.Lock(),
                                          protocol=SimpleNamespace(handle=handle))
        try:
            await connection.send_lock.acquire()  # another send holds the connection
            sends = [asyncio.create_task(server._protocol_send_within_timeout(connection, RawData(data)))
                     for data in (b"a" * 1000, b"b" * (HIGH - 100))]
            await asyncio.sleep(0.05)
            connection.send_lock.release()
            _, waiting = await asyncio.wait(sends, timeout=20)
            assert not waiting, "a write is still waiting for a client that reads nothing"
            assert closed and all(isinstance(event, Closed) for event in closed)
        finally:
            writer.transport.abort()
            theirs.close()
    asyncio.run(scenario())

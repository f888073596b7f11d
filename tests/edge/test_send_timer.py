"""When a reply's write needs the send timer (edge.server): only when its drain could wait.

On a real socket pair whose far end reads nothing: the timer may be left out only while a write
can neither wait for a paused protocol nor pause it."""

from __future__ import annotations

import asyncio
import socket

from edge.server import _cannot_wait


async def _writer_to_a_silent_peer() -> tuple[asyncio.StreamWriter, socket.socket]:
    ours, theirs = socket.socketpair()
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    _, writer = await asyncio.open_connection(sock=ours)
    writer.transport.set_write_buffer_limits(high=64 * 1024, low=16 * 1024)
    return writer, theirs


def test_a_small_write_to_an_empty_buffer_needs_no_timer() -> None:
    async def scenario() -> None:
        writer, peer = await _writer_to_a_silent_peer()
        try:
            assert _cannot_wait(writer.transport, 1024)
            assert _cannot_wait(writer.transport, 64 * 1024)
        finally:
            writer.close()
            peer.close()
    asyncio.run(scenario())


def test_a_write_that_would_pass_the_high_water_mark_keeps_the_timer() -> None:
    async def scenario() -> None:
        writer, peer = await _writer_to_a_silent_peer()
        try:
            assert not _cannot_wait(writer.transport, 64 * 1024 + 1)
        finally:
            writer.close()
            peer.close()
    asyncio.run(scenario())


def test_a_buffer_over_the_low_water_mark_keeps_the_timer_even_for_a_byte() -> None:
    async def scenario() -> None:
        writer, peer = await _writer_to_a_silent_peer()
        try:
            # Between the marks: the protocol may still be paused from a fuller buffer, so even
            # a write that fits under the high-water mark may wait.
            writer.write(b"x" * 56 * 1024)  # the peer reads nothing: most of it stays buffered
            assert 16 * 1024 < writer.transport.get_write_buffer_size() < 63 * 1024
            assert not _cannot_wait(writer.transport, 1)
        finally:
            writer.transport.abort()
            peer.close()
    asyncio.run(scenario())


def test_a_closing_transport_keeps_the_timer() -> None:
    async def scenario() -> None:
        writer, peer = await _writer_to_a_silent_peer()
        try:
            writer.close()
            assert not _cannot_wait(writer.transport, 1)
        finally:
            peer.close()
    asyncio.run(scenario())

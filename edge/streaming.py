"""Bounded request bodies (Quart reads a whole upload into memory as fast as it arrives).

BoundedBody pauses the ASGI receive loop once HIGH_WATER bytes wait unread, so Hypercorn
stops reading the socket: an upload costs the edge this buffer plus the block that storage
writes at once (shared.storage.fsspec_storage.STAGE_BLOCK_SIZE), whatever its size.
An answer given before the body was read (401, 413, ...) says `Connection: close`
(shared.http_framing): the rest of the body is never read nor buffered.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from quart.asgi import ASGIHTTPConnection
from quart.wrappers.request import Body, Request

from edge.request_headers import make_quiet
from shared.errors import PayloadTooLarge, UploadStalled

HIGH_WATER = 512 * 1024


class BoundedBody(Body):
    def __init__(self, expected_content_length: int | None, max_content_length: int | None) -> None:
        super().__init__(expected_content_length, max_content_length)
        self._room = asyncio.Event()
        self._room.set()

    def append(self, data: bytes) -> None:
        super().append(data)
        if len(self._data) >= HIGH_WATER:
            self._room.clear()

    async def __anext__(self) -> bytes:
        try:
            return await super().__anext__()
        finally:
            self._room.set()

    async def wait_for_room(self) -> None:
        await self._room.wait()


class BoundedRequest(Request):
    body_class = BoundedBody

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        make_quiet(self.headers)


class BoundedHTTPConnection(ASGIHTTPConnection):
    async def handle_messages(self, request: Request, receive: Any) -> None:
        body = request.body
        while True:
            message = await receive()
            if message["type"] == "http.request":
                body.append(message.get("body", b""))
                if not message.get("more_body", False):
                    body.set_complete()
                elif isinstance(body, BoundedBody):
                    await body.wait_for_room()
            elif message["type"] == "http.disconnect":
                return


async def body_chunks(body: Body, *, idle_timeout_s: float) -> AsyncIterator[bytes]:
    """The request body chunk by chunk; a client that goes silent raises UploadStalled."""
    iterator = body.__aiter__()
    while True:
        try:
            # asyncio.timeout, not wait_for: no task of its own for each chunk.
            async with asyncio.timeout(idle_timeout_s):
                chunk = await iterator.__anext__()
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise UploadStalled(idle_timeout_s) from None
        if chunk:
            yield chunk


async def read_bounded(body: Body, *, content_length: int | None, limit: int, idle_timeout_s: float) -> bytes:
    """The whole body, for a handler that needs it in memory: PayloadTooLarge before a byte is read
    when Content-Length says it is over `limit`, or as soon as a chunked body passes it (BoundedBody
    has then stopped the socket: nothing past the bound is read, and the 413 closes the connection)."""
    if content_length is not None and content_length > limit:
        raise PayloadTooLarge(limit)
    parts: list[bytes] = []
    size = 0
    async for chunk in body_chunks(body, idle_timeout_s=idle_timeout_s):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(limit)
        parts.append(chunk)
    return b"".join(parts)

"""The early-reply rule of shared.http_framing at the ASGI level. HTTP/2 forbids the header (an early
reply there ends only its stream). Over the network: tests/gateway/test_errors.py and
tests/faults/test_lifecycle.py."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

from shared.http_framing import close_after_early_reply

Message = MutableMapping[str, Any]



def _serve(http_version: str, *, read_body: bool, headers: list[tuple[bytes, bytes]]) -> list[Message]:
    """Runs one request through the rule around an app that answers 404, after reading the body or not."""
    sent: list[Message] = []
    incoming = [{"type": "http.request", "body": b"{}", "more_body": False}]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if read_body:
            await receive()
        await send({"type": "http.response.start", "status": 404, "headers": [(b"connection", b"keep-alive")]})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "http_version": http_version, "method": "POST", "path": "/x", "headers": headers}
    asyncio.run(close_after_early_reply(app)(scope, receive, send))
    return sent


def _connection_headers(sent: list[Message]) -> list[bytes]:
    return [value for name, value in sent[0]["headers"] if name.lower() == b"connection"]


def test_an_http1_reply_before_the_body_says_close_once() -> None:
    sent = _serve("1.1", read_body=False, headers=[(b"content-length", b"2")])
    assert _connection_headers(sent) == [b"close"]


def test_a_chunked_body_counts_as_a_body() -> None:
    sent = _serve("1.1", read_body=False, headers=[(b"transfer-encoding", b"chunked")])
    assert _connection_headers(sent) == [b"close"]


def test_a_reply_after_the_whole_body_keeps_the_connection() -> None:
    sent = _serve("1.1", read_body=True, headers=[(b"content-length", b"2")])
    assert _connection_headers(sent) == [b"keep-alive"]


def test_a_request_without_a_body_keeps_the_connection() -> None:
    sent = _serve("1.1", read_body=False, headers=[(b"content-length", b"0")])
    assert _connection_headers(sent) == [b"keep-alive"]


def test_an_http2_reply_is_left_as_the_app_made_it() -> None:
    sent = _serve("2", read_body=False, headers=[(b"content-length", b"2")])
    assert _connection_headers(sent) == [b"keep-alive"]

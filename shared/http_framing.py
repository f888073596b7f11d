"""Refuses HTTP/1.1 requests whose body length is ambiguous (request smuggling, RFC 9112 6.1 and 6.3).

A request with both Content-Length and Transfer-Encoding is read one way by one server and the
other way by another: a proxy in front that trusts Content-Length forwards what we read as two
requests, the second one smuggled past it. RFC 9112 lets a server go by Transfer-Encoding and
drop the connection afterwards; h11 (under Hypercorn) does the first but keeps the connection,
so the request is refused here, before the app, and the connection closed. Conflicting
Content-Length headers h11 refuses itself (400).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_BODY = b'{"error": "a request may not carry both Content-Length and Transfer-Encoding"}'


def ambiguous_framing(headers: list[tuple[bytes, bytes]]) -> bool:
    names = {name.lower() for name, _ in headers}
    return b"content-length" in names and b"transfer-encoding" in names


def refuse_ambiguous_framing(app: AsgiApp) -> AsgiApp:
    """`app` behind the check: an ambiguous request gets 400 with Connection: close, never the app."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not ambiguous_framing(scope.get("headers", [])):
            await app(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 400, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(_BODY)).encode()),
            (b"connection", b"close"),
        ]})
        await send({"type": "http.response.body", "body": _BODY, "more_body": False})

    return guarded


__all__ = ["ambiguous_framing", "refuse_ambiguous_framing"]

"""HTTP/1.1 framing rules every server of ours applies in front of its app (`guard_http`).

Ambiguous body length (request smuggling, RFC 9112 6.1 and 6.3). A request with both Content-Length and Transfer-Encoding is read one way by one server and the
other way by another: a proxy in front that trusts Content-Length forwards what we read as two
requests, the second one smuggled past it. RFC 9112 lets a server go by Transfer-Encoding and
drop the connection afterwards; h11 (under Hypercorn) does the first but keeps the connection,
so the request is refused here, before the app, and the connection closed. Conflicting
Content-Length headers h11 refuses itself (400).

An answer given before the request's body was read (401, 404, 413, ...). Hypercorn then drops the
connection once the answer is sent, since the unread body would be taken for the next request,
but without saying so: a client that reuses the connection for its next request races the close
and gets "server disconnected" instead of an answer. So such an answer says `Connection: close`.
The body is never drained: a hostile client could send gigabytes, or nothing, after its headers.
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


def _has_body(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"transfer-encoding" or (lowered == b"content-length" and value.strip() not in (b"", b"0")):
            return True
    return False


def close_after_early_reply(app: AsgiApp) -> AsgiApp:
    """`app` whose answers say `Connection: close` when they start before the whole body reached it."""

    async def closing(scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope.get("http_version") not in ("1.0", "1.1")  # HTTP/2 forbids the header
                or not _has_body(scope.get("headers", []))):
            await app(scope, receive, send)
            return
        body_received = False

        async def tracking_receive() -> MutableMapping[str, Any]:
            nonlocal body_received
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                body_received = True
            return message

        async def closing_send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start" and not body_received:
                headers = [(n, v) for n, v in message.get("headers", []) if n.lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await app(scope, tracking_receive, closing_send)

    return closing


def guard_http(app: AsgiApp) -> AsgiApp:
    """`app` behind both rules of this module: what every Hypercorn server of ours serves."""
    return refuse_ambiguous_framing(close_after_early_reply(app))


__all__ = ["ambiguous_framing", "close_after_early_reply", "guard_http", "refuse_ambiguous_framing"]

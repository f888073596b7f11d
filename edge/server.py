"""Serving the edge app with Hypercorn on a socket bound by us (so port 0 reports its port)."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from typing import Any

from hypercorn.asyncio import serve, tcp_server
from hypercorn.protocol import h11 as h11_protocol
from hypercorn.config import Config
from hypercorn.events import Closed, RawData
from quart import Quart

from shared.grpc_channel import describe_bind_error
from shared.http_framing import guard_http

log = logging.getLogger(__name__)

# Hypercorn reads a connection at most 64 KiB at a time (tcp_server.MAX_RECV, no setting for it),
# and each read makes its trip through h11, the ASGI queue and the request body: most of an
# upload's cost on the event loop. A read takes what the connection's stream has buffered
# instead; asyncio's StreamReader still bounds that (it stops reading the socket past 2 × its
# 64 KiB limit, plus one recv of at most 256 KiB), so a connection holds no more than before.
tcp_server.MAX_RECV = 1 << 20

# A client that stops reading a reply (a GetFile it never reads) held the reply's bytes in the
# connection's buffer, the app's read buffer and the file's descriptor for ever: Hypercorn waits
# for the socket to drain with no timeout (Quart's RESPONSE_TIMEOUT is off for downloads, since it
# would cut long ones short). Each write of a reply must now drain within SEND_IDLE_TIMEOUT_S (a
# chunk of up to 1 MiB: a client reading under ~8 KiB/s is taken for gone); past it the connection
# is reset, as if the client had dropped it, which frees all three (and the kernel's buffer).
DEFAULT_SEND_IDLE_TIMEOUT_S = 120.0
_send_idle_timeout_s = DEFAULT_SEND_IDLE_TIMEOUT_S
_protocol_send = tcp_server.TCPServer.protocol_send


async def _protocol_send_within_timeout(self: tcp_server.TCPServer, event: Any) -> None:
    if not isinstance(event, RawData) or _cannot_wait(self, len(event.data)):
        await _protocol_send(self, event)
        return
    try:
        async with asyncio.timeout(_send_idle_timeout_s):
            await _protocol_send(self, event)
    except TimeoutError:
        peer = self.writer.get_extra_info("peername")
        log.info("closed the connection of %s: its client read nothing of the reply for %g s", peer,
                 _send_idle_timeout_s)
        raw = self.writer.get_extra_info("socket")
        if raw is not None:  # reset, not closed: the kernel drops what it still holds for the client too
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()
        await self.protocol.handle(Closed())


def _cannot_wait(server: tcp_server.TCPServer, size: int) -> bool:
    """True when the drain after writing `size` bytes returns at once, so it needs no timer (most
    replies: a timer per write was ~1 % of a CheckFileInfo's CPU). Only for a write that goes out
    now: no other send holds the connection's lock (HTTP/2 sends from several tasks, and a write
    queued behind another would be checked against a buffer that is not yet its own), and over
    plain TCP (TLS counts its encrypted bytes, more than were written, and pauses at the mark).
    Then: the protocol is not paused (a buffer at or under the low-water mark has resumed it), and
    the write does not pause it (the buffer stays at or under the high-water mark)."""
    return _transport_cannot_wait(server.writer.transport, size) and not server.send_lock.locked() \
        and server.writer.get_extra_info("ssl_object") is None


def _transport_cannot_wait(transport: Any, size: int) -> bool:
    try:
        if transport.is_closing():
            return False
        buffered = transport.get_write_buffer_size()
        low, high = transport.get_write_buffer_limits()
    except (AttributeError, NotImplementedError):  # a transport without them: keep the timer
        return False
    return bool(buffered <= low and buffered + size <= high)


tcp_server.TCPServer.protocol_send = _protocol_send_within_timeout  # type: ignore[method-assign]


# HTTP/1.1 only. Hypercorn switches a plain connection to HTTP/2 on an `Upgrade: h2c` request or
# the HTTP/2 preface, and has no setting against it. HTTP/2's flow control then holds a reply for
# a client that never opens its window, with no timer (the send timer above cuts off a client
# that stops reading over HTTP/1.1 only), and sends from several tasks per connection. WOPI
# clients and the proxies in front of an edge speak HTTP/1.1 to it: the upgrade is ignored (a
# server may), and the preface is answered as the HTTP/1.1 request it parses as, refused.
async def _http11_only(self: h11_protocol.H11Protocol, event: Any) -> None:
    return None


h11_protocol.H11Protocol._check_protocol = _http11_only  # type: ignore[method-assign]


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket; OSError naming the address when it is taken. SO_REUSEADDR only lets us
    rebind over connections of a previous run in TIME_WAIT, never over a live listener."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {describe_bind_error(exc)}") from None
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def hypercorn_config(sock: socket.socket) -> Config:
    """Hands the socket over to Hypercorn, which owns (and finally closes) its descriptor."""
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]
    config.accesslog = None  # our own access log leaves the query string (the token) out
    config.errorlog = logging.getLogger("hypercorn.error")
    config.keep_alive_timeout = 75  # longer than typical editor / load balancer idle times
    config.graceful_timeout = 10
    config.alpn_protocols = ["http/1.1"]  # HTTP/1.1 only (see _http11_only), over TLS too
    return config


async def serve_http(app: Quart, sock: socket.socket, shutdown: asyncio.Event, *,
                     send_idle_timeout_s: float = DEFAULT_SEND_IDLE_TIMEOUT_S) -> None:
    global _send_idle_timeout_s
    _send_idle_timeout_s = send_idle_timeout_s  # one edge per process
    await serve_asgi(app, sock, shutdown, what="edge")


async def serve_asgi(app: Any, sock: socket.socket, shutdown: asyncio.Event, *, what: str) -> None:
    """Any ASGI app (the edge, the metrics listener) until `shutdown` is set."""
    host, port = sock.getsockname()[:2]
    config = hypercorn_config(sock)
    log.info("%s listening on http://%s:%d", what, host, port)
    await serve(guard_http(app), config, shutdown_trigger=shutdown.wait)  # type: ignore[arg-type]

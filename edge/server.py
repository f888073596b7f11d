"""Serving the edge app with Hypercorn on a socket bound by us (so port 0 reports its port)."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from hypercorn.asyncio import serve, tcp_server
from hypercorn.config import Config
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
    return config


async def serve_http(app: Quart, sock: socket.socket, shutdown: asyncio.Event) -> None:
    await serve_asgi(app, sock, shutdown, what="edge")


async def serve_asgi(app: Any, sock: socket.socket, shutdown: asyncio.Event, *, what: str) -> None:
    """Any ASGI app (the edge, the metrics listener) until `shutdown` is set."""
    host, port = sock.getsockname()[:2]
    config = hypercorn_config(sock)
    log.info("%s listening on http://%s:%d", what, host, port)
    await serve(guard_http(app), config, shutdown_trigger=shutdown.wait)  # type: ignore[arg-type]

"""Serving a Quart app with Hypercorn on 127.0.0.1, port 0, in a background thread (its own loop)."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart

from shared.http_framing import guard_http

START_TIMEOUT_S = 10.0


@dataclass
class ThreadServer:
    url: str
    _thread: threading.Thread
    _loop: asyncio.AbstractEventLoop
    _shutdown: asyncio.Event

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._shutdown.set)
        self._thread.join(timeout=15)
        if self._thread.is_alive():
            raise RuntimeError(f"the server at {self.url} did not stop")


def serve_in_thread(app: Quart) -> ThreadServer:
    """Starts `app` behind the framing rules of every server of ours and returns once it has run before_serving (so its gRPC channel is open)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    port = sock.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]
    config.accesslog = None
    config.graceful_timeout = 1

    started = threading.Event()
    holder: dict[str, object] = {}

    @app.before_serving
    async def _started() -> None:
        started.set()

    def run() -> None:
        loop = asyncio.new_event_loop()
        shutdown = asyncio.Event()
        holder.update(loop=loop, shutdown=shutdown)
        try:
            loop.run_until_complete(serve(guard_http(app), config, shutdown_trigger=shutdown.wait))  # type: ignore[arg-type]
        finally:
            loop.close()

    thread = threading.Thread(target=run, name=f"hypercorn-{port}", daemon=True)
    thread.start()
    if not started.wait(START_TIMEOUT_S):
        raise RuntimeError("the app did not start serving")
    return ThreadServer(url=f"http://127.0.0.1:{port}", _thread=thread,
                        _loop=holder["loop"], _shutdown=holder["shutdown"])  # type: ignore[arg-type]

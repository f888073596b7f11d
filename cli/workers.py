"""`wopi-proxy edge --workers N`: N edge processes serving one port.

The parent binds the listening socket and starts N worker processes (spawned, not forked: a
fresh interpreter each, so no gRPC or event-loop state crosses the fork) that inherit it; the
kernel spreads connections over the workers, and each has its own control-plane channel. The
parent reports the port in --ready-file once every worker serves. SIGTERM/SIGINT to the parent
stops all workers cleanly; a worker that dies on its own takes the whole group down (exit 1), so
the supervisor sees the failure and restarts the edge instead of it serving on fewer workers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import multiprocessing
import multiprocessing.connection
import queue
import signal
import socket
import time
from typing import Any

from edge.bridge.worker import worker_name
from edge.server import bind_socket
from edge.settings import EdgeSettings

log = logging.getLogger("wopi_proxy")

MAX_WORKERS = 64
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


def _worker(settings: EdgeSettings, sock: socket.socket, ready: Any, rest_gateway: bool,
            log_level: str, log_format: str) -> None:
    """A worker process's main: one edge on the inherited socket until SIGTERM."""
    from cli import run
    from shared.logs import configure

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us with SIGTERM
    configure(log_level, log_format)
    asyncio.run(run.edge_only(settings, None, rest_gateway=rest_gateway, sock=sock,
                              on_ready=lambda port: ready.put(port)))


def _numbered(settings: EdgeSettings, port: int, index: int) -> EdgeSettings:
    """Worker `index`'s settings: its bridge worker's name is the same when the group starts again."""
    return dataclasses.replace(settings, bridge_worker_name=worker_name(settings.host, port, index))


def _stop_all(workers: list[Any]) -> None:
    for worker in workers:
        if worker.is_alive():
            worker.terminate()  # SIGTERM: the worker finishes its requests and closes its channel
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
        if worker.is_alive():
            log.error("edge worker %d ignored SIGTERM; killing it", worker.pid)
            worker.kill()
            worker.join()


def run_workers(settings: EdgeSettings, count: int, ready_file: str | None, *, rest_gateway: bool,
                log_level: str, log_format: str) -> int:
    """Runs `count` edge workers on one socket until SIGTERM/SIGINT; returns the exit code."""
    from cli.run import _write_ready_file

    if not 1 <= count <= MAX_WORKERS:
        raise OSError(f"--workers must be from 1 to {MAX_WORKERS}")
    stopping = False

    def _request_stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    sock = bind_socket(settings.host, settings.port)
    port = int(sock.getsockname()[1])
    context = multiprocessing.get_context("spawn")
    ready = context.Queue()
    workers = [context.Process(target=_worker, name=f"edge-worker-{i}", daemon=False,
                               args=(_numbered(settings, port, i), sock, ready, rest_gateway, log_level, log_format))
               for i in range(count)]
    try:
        for worker in workers:
            worker.start()  # the socket travels to the child as an inherited descriptor
    finally:
        sock.close()  # the workers hold it now; once they are gone the port is free
    started, deadline, reported = 0, time.monotonic() + START_TIMEOUT_S, False
    code = 0
    while not stopping:
        try:
            ready.get(timeout=0.2)
            started += 1
        except queue.Empty:
            pass
        if started == count and not reported:
            _write_ready_file(ready_file, http_port=port, workers=count)
            log.info("edge serving on http://%s:%d with %d workers", settings.host, port, count)
            reported = True
        dead = [w for w in workers if not w.is_alive()]
        if dead:
            log.error("edge worker %d ended (exit %s); stopping the other workers", dead[0].pid, dead[0].exitcode)
            code = 1
            break
        if not reported and time.monotonic() > deadline:
            log.error("edge workers did not start within %.0f s", START_TIMEOUT_S)
            code = 1
            break
    log.info("stopping %d edge workers", count)
    _stop_all(workers)
    return code

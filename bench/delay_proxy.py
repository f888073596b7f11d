"""A TCP proxy that holds every chunk for a fixed time in each direction: PostgreSQL across a network.

On this machine PostgreSQL is on loopback, where a round trip costs tens of microseconds when a core
is free. Deployed, the database is usually on another host, and every round trip then costs the
network's round-trip time (~0.1-0.5 ms inside one data centre, 1-2 ms across zones). The proxy puts
that cost back, so that a change in round trips per request shows (`compare.py --db-delay-ms`).

    .venv/bin/python bench/delay_proxy.py LISTEN_PORT TARGET_PORT DELAY_MS

One thread per direction and connection, so the delay is a precise sleep (an event loop's timers
round up to whole milliseconds); chunks of one direction are held one after the other, as on a
link of that latency. Prints "ready" once listening.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path


def _pipe(source: socket.socket, target: socket.socket, delay_s: float) -> None:
    try:
        while data := source.recv(1 << 16):
            time.sleep(delay_s)
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(listen_port: int, target_port: int, delay_ms: float) -> None:
    listener = socket.create_server(("127.0.0.1", listen_port))
    print("ready", flush=True)
    while True:
        client, _ = listener.accept()
        upstream = socket.create_connection(("127.0.0.1", target_port))
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for source, target in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pipe, args=(source, target, delay_ms / 1000), daemon=True).start()


def start(target_port: int, delay_ms: float) -> tuple[int, subprocess.Popen[bytes]]:
    """The proxy in a process of its own (its threads must not share a GIL with a server measured);
    returns its port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, str(Path(__file__)), str(port), str(target_port), str(delay_ms)],
                               stdout=subprocess.PIPE)
    assert process.stdout is not None
    if process.stdout.readline().strip() != b"ready":
        process.kill()
        raise RuntimeError("the delay proxy did not start")
    return port, process


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))

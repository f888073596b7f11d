"""Ports for servers a test must name before they start (the edge's URL that the control plane
writes into WOPISrc, a rig's fixed ports across restarts, PostgreSQL, SeaweedFS, Etherpad).

Asking the kernel for port 0 and closing the socket hands out a port from its ephemeral range,
which every outgoing connection and every `bind(0)` on the machine draws from as well: under a
parallel suite another process took such a port before our server bound it ("address in use").
So ports come from below the ephemeral range, where the kernel never assigns one on its own, and
each pytest-xdist worker draws from its own slice, so two workers never hand out the same port.
A port something already listens on is skipped.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

_LOWEST = 10000
_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _ephemeral_low() -> int:
    try:
        return int(_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _worker_slice() -> range:
    """This worker's share of [_LOWEST, ephemeral low): gw0 the first, gw1 the next, ..."""
    top = max(_ephemeral_low(), _LOWEST + 2000)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    count = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    index = int(worker) % count if worker.isdigit() else 0
    width = (top - _LOWEST) // count
    return range(_LOWEST + index * width, _LOWEST + (index + 1) * width)


def _cycle(ports: range) -> Iterator[int]:
    """Round the slice from a point that differs per process, so a rerun does not retrace the last."""
    start = os.getpid() % len(ports)
    return itertools.cycle([*ports[start:], *ports[:start]])


_candidates = _cycle(_worker_slice())
_guard = threading.Lock()


def _bindable(port: int) -> bool:
    """Without SO_REUSEADDR, so a port that is listened on or still in TIME_WAIT counts as taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def unused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on and that this worker has not handed out lately."""
    with _guard:
        for _ in range(4096):
            port = next(_candidates)
            if _bindable(port):
                return port
    raise RuntimeError(f"no free port in this worker's slice {_worker_slice()}")


def unused_ports(count: int) -> list[int]:
    return [unused_port() for _ in range(count)]

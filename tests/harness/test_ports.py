"""The ports tests name before their servers start: never from the kernel's ephemeral range (which
any process's bind(0) or outgoing connection may take meanwhile), never one that is listened on,
and never the same in two xdist workers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from tests.support import ports


def _ports_in_worker(worker: str, count: int, how_many: int) -> set[int]:
    """`how_many` ports as a fresh process that is xdist worker `worker` of `count` would hand out."""
    env = {**os.environ, "PYTEST_XDIST_WORKER": worker, "PYTEST_XDIST_WORKER_COUNT": str(count)}
    code = f"from tests.support.ports import unused_ports; print(*unused_ports({how_many}))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    return {int(port) for port in out.stdout.split()}


def test_ports_come_from_below_the_kernels_ephemeral_range() -> None:
    low = ports._ephemeral_low()
    assert all(port < low for port in ports.unused_ports(50))


def test_a_port_that_is_listened_on_is_skipped() -> None:
    first = ports.unused_port()
    following = ports.unused_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", following + 1))
        listener.listen()
        handed_out = ports.unused_ports(3)
    assert following + 1 not in handed_out
    assert first not in handed_out


@pytest.mark.parametrize("count", [2, 3])
def test_two_workers_never_hand_out_the_same_port(count: int) -> None:
    seen = [_ports_in_worker(f"gw{index}", count, 200) for index in range(count)]
    for lower, higher in zip(seen, seen[1:], strict=False):
        assert max(lower) < min(higher), "each worker draws from its own slice, gw0 the lowest"

"""Fault injection against real processes: a control plane killed or frozen, storage moved,
full or read-only, connections abandoned, signals mid-request. Each test checks that what the
editor was told and what storage holds agree."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.api import ControlApi, OpenFile, new_tenant, open_file
from tests.support.deployment import Deployment, start_deployment

DEADLINE_S = 30.0


def poll(condition: Callable[[], object], *, timeout: float = DEADLINE_S, what: str = "condition",
         log: Callable[[], str] = lambda: "") -> object:
    """Waits until `condition()` is truthy; fails with `what` and the processes' log."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{log()}")
        time.sleep(0.1)


def signal_process(deployment: Deployment, name: str, sig: int) -> None:
    proc = next(p for p in deployment.processes if p.args[0] == name)
    assert proc.process is not None
    os.kill(proc.process.pid, sig)


@pytest.fixture
def split(tmp_path: Path) -> Iterator[Deployment]:
    """Separate control and edge processes (the control plane is killed or frozen by tests);
    the edge's deadline is short so that a frozen control plane is noticed quickly."""
    deployment = start_deployment("split", tmp_path / "deploy", edge_args=("--control-read-timeout", "2", "--control-write-timeout", "2"),
                                  control_args=("--health-check-interval", "0.5"))
    yield deployment
    for proc in deployment.processes:
        if proc.process is not None and proc.process.poll() is None:
            proc.process.send_signal(signal.SIGCONT)
    deployment.stop()


@pytest.fixture
def opened(split: Deployment, tmp_path: Path) -> OpenFile:
    api: ControlApi = split.api()
    tenant_id, folder = new_tenant(api, tmp_path / "storage")
    return open_file(api, tenant_id, folder, "report.docx", b"before")


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client

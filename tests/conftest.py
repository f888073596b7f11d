"""Fixtures shared by every test: the real wopi-proxy running on ephemeral ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.api import ControlApi, new_tenant
from tests.support.processes import WopiProxyProcess, serve


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WopiProxyProcess]:
    """`wopi-proxy serve` on embedded defaults (SQLite file, local folders), one per test module."""
    proc = serve(tmp_path_factory.mktemp("serve"))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def admin_key(server: WopiProxyProcess) -> str:
    return (server.workdir / "data" / "admin.key").read_text().strip()


@pytest.fixture(scope="module")
def api(server: WopiProxyProcess, admin_key: str) -> Iterator[ControlApi]:
    client = ControlApi(server.grpc_address, admin_key)
    yield client
    client.close()


@pytest.fixture
def tenant(api: ControlApi, tmp_path: Path) -> tuple[str, Path]:
    """A fresh tenant with a local storage 'docs'; returns (tenant id, storage folder)."""
    return new_tenant(api, tmp_path / "storage")


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client

"""Fixtures of the gateway tests: a real `wopi-proxy control` process, and the gateway app served by
Hypercorn on an ephemeral port in front of it (one of each for the whole package)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway import create_gateway_app
from tests.gateway.servers import ThreadServer, serve_in_thread
from tests.support.api import ControlApi
from tests.support.processes import WopiProxyProcess


@pytest.fixture(scope="package")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WopiProxyProcess]:
    workdir = tmp_path_factory.mktemp("control")
    proc = WopiProxyProcess(args=["control", "--grpc-port", "0", "--data-dir", str(workdir / "data")],
                            workdir=workdir).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="package")
def admin_key(control_plane: WopiProxyProcess) -> str:
    return (control_plane.workdir / "data" / "admin.key").read_text().strip()


@pytest.fixture(scope="package")
def grpc_api(control_plane: WopiProxyProcess, admin_key: str) -> Iterator[ControlApi]:
    api = ControlApi(control_plane.grpc_address, admin_key)
    yield api
    api.close()


@pytest.fixture(scope="package")
def gateway(control_plane: WopiProxyProcess) -> Iterator[ThreadServer]:
    server = serve_in_thread(create_gateway_app(control_plane.grpc_address))
    yield server
    server.stop()


@pytest.fixture
def rest(gateway: ThreadServer, admin_key: str) -> Iterator[httpx.Client]:
    """An HTTP client of the gateway that sends the admin key."""
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=15) as client:
        yield client


@pytest.fixture
def anonymous(gateway: ThreadServer) -> Iterator[httpx.Client]:
    """An HTTP client of the gateway without credentials."""
    with httpx.Client(base_url=gateway.url, timeout=15) as client:
        yield client


@pytest.fixture
def tenant_id(rest: httpx.Client) -> str:
    """A fresh tenant, created through the gateway."""
    tenant = "t-" + secrets.token_hex(4)
    reply = rest.post("/tenants/create", json={"id": tenant, "name": f"Tenant {tenant}"})
    assert reply.status_code == 200, reply.text
    return tenant


@pytest.fixture
def storage_folder(rest: httpx.Client, tenant_id: str, tmp_path: Path) -> Path:
    """A local storage 'docs' of the tenant, created through the gateway."""
    folder = tmp_path / "docs"
    folder.mkdir()
    reply = rest.post("/storages/create", json={"tenant_id": tenant_id, "name": "docs", "root": str(folder)})
    assert reply.status_code == 200, reply.text
    return folder

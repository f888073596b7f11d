"""Fixtures shared by every test: the real wopi-proxy running on ephemeral ports."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.api import ControlApi, new_tenant
# The PostgreSQL cluster is shared by the store tests (tests/control) and the end-to-end ones.
from tests.support.postgres import PostgresCluster, postgres_cluster  # noqa: F401
from tests.support.deployment import SHAPES, Deployment, start_deployment
from tests.support.processes import WopiProxyProcess, serve
from tests.support.run_order import long_files_first


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items[:] = long_files_first(items)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WopiProxyProcess]:
    """`wopi-proxy serve` on embedded defaults (SQLite file, local folders), one per test module;
    tenant keys may root local storages in <workdir>/tenants/<tenant_id>."""
    workdir = tmp_path_factory.mktemp("serve")
    proc = serve(workdir, "--tenant-file-base", str(workdir / "tenants"))
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


@pytest.fixture
def postgres_database_url(postgres_cluster: PostgresCluster) -> Iterator[str]:  # noqa: F811
    """A fresh, empty database on the shared cluster, for a process under test to create its schema in."""
    name = "e2e_" + secrets.token_hex(6)
    with postgres_cluster.admin_connection() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_cluster.url(name)
    with postgres_cluster.admin_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# Both deployment shapes (`serve`, and `control` + `edge`): the security and observability suites.
@pytest.fixture(params=SHAPES)
def shape(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def deploy(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    """deploy(shape, control_args=(...), edge_args=(...), env={...}) -> a running Deployment, stopped after."""
    started: list[Deployment] = []

    def start(shape: str, **kwargs: Any) -> Deployment:
        deployment = start_deployment(shape, tmp_path / f"{shape}-{len(started)}", **kwargs)
        started.append(deployment)
        return deployment

    yield start
    for deployment in started:
        deployment.stop()

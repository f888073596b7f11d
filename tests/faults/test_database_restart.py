"""PostgreSQL restarted or stopped under a running control plane (its own cluster, so that no other
test loses its database): the first WOPI requests after a restart succeed (the pooled connections
died while idle, and no request may pay for that), editors hear 503 with Retry-After while the
database is away (never 500, never a hang), no save is lost or half-recorded, and the audit chain
still verifies afterwards."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from wopiproxy.control.v1 import audit_service_pb2 as audit_pb
from wopiproxy.control.v1 import audit_service_pb2_grpc as audit_grpc

from tests.faults.conftest import poll
from tests.support.api import LOCK, OpenFile, lock, new_tenant, open_file, put
from tests.support.deployment import Deployment, start_deployment
from tests.support.postgres import PostgresServer, postgres_server

pytestmark = pytest.mark.postgres


@pytest.fixture
def server() -> Iterator[PostgresServer]:
    with postgres_server() as started:
        with started.cluster().admin_connection() as admin:
            admin.execute('CREATE DATABASE "wopi"')
        yield started


@pytest.fixture
def deployment(server: PostgresServer, tmp_path: Path) -> Iterator[Deployment]:
    started = start_deployment("split", tmp_path / "deploy",
                               control_args=("--database-url", server.cluster().url("wopi"),
                                             "--health-check-interval", "0.5"),
                               edge_args=("--control-read-timeout", "5", "--control-write-timeout", "5"))
    yield started
    started.stop()


@pytest.fixture
def opened(deployment: Deployment, tmp_path: Path) -> OpenFile:
    api = deployment.api()
    tenant_id, folder = new_tenant(api, tmp_path / "storage")
    return open_file(api, tenant_id, folder, "report.docx", b"before")


def unlock(http: httpx.Client, opened: OpenFile) -> httpx.Response:
    return http.post(opened.url(), headers={"X-WOPI-Override": "UNLOCK", "X-WOPI-Lock": LOCK})


def chain_verifies(deployment: Deployment, tenant_id: str) -> bool:
    api = deployment.api()
    reply = api.call(audit_grpc.AuditServiceStub(api.channel).VerifyAuditChain,
                     audit_pb.VerifyAuditChainRequest(tenant_id=tenant_id))
    return bool(reply.ok and reply.checked > 0)


def test_the_first_wopi_requests_after_a_postgresql_restart_succeed(
        server: PostgresServer, deployment: Deployment, opened: OpenFile, http: httpx.Client) -> None:
    assert http.get(opened.url()).status_code == 200
    lock(http, opened)

    server.stop("fast")  # every pooled connection of the control plane is closed by the server
    server.start()

    # No wait, no retry by the test: each of these is an editor's request.
    info = http.get(opened.url())
    saved = put(http, opened, b"after the restart")
    unlocked = unlock(http, opened)
    assert (info.status_code, saved.status_code, unlocked.status_code) == (200, 200, 200), deployment.log()
    assert opened.local_path.read_bytes() == b"after the restart"
    assert chain_verifies(deployment, opened.tenant_id)
    assert "Traceback" not in deployment.log(), deployment.log()


def test_while_postgresql_is_down_editors_hear_503_and_no_save_is_lost(
        server: PostgresServer, deployment: Deployment, opened: OpenFile, http: httpx.Client) -> None:
    lock(http, opened)
    server.stop("fast")

    started = time.monotonic()
    info = http.get(opened.url())
    saved = put(http, opened, b"while the database is away")
    elapsed = time.monotonic() - started

    assert (info.status_code, saved.status_code) == (503, 503), (info.text, saved.text, deployment.log())
    assert info.headers["Retry-After"].isdigit() and saved.headers["Retry-After"].isdigit()
    assert elapsed < 20, f"two refusals took {elapsed:.1f} s"
    assert opened.local_path.read_bytes() == b"before"
    log = deployment.log()
    assert "the database cannot be reached" in log, log
    assert "Traceback" not in log and "incident" not in log and "refused the edge" not in log, log

    server.start()
    poll(lambda: http.get(opened.url()).status_code == 200, what="CheckFileInfo once PostgreSQL is back",
         log=deployment.log)
    assert put(http, opened, b"once it is back").status_code == 200, deployment.log()
    assert opened.local_path.read_bytes() == b"once it is back"
    assert unlock(http, opened).status_code == 200
    assert chain_verifies(deployment, opened.tenant_id)

"""The edge key: it calls the internal EdgeService and nothing else, and nothing else calls that
service (it hands out a tenant's storage credentials for any valid access token)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from tests.security.principals import Stubs, new_key, refused_as, stubs
from tests.support.api import OpenFile, new_tenant, open_file
from tests.support.deployment import Deployment
from wopiproxy.control.v1 import audit_service_pb2 as audit_pb
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb
from wopiproxy.control.v1 import editor_service_pb2 as editor_pb
from wopiproxy.control.v1 import file_service_pb2 as file_pb
from wopiproxy.control.v1 import key_service_pb2 as key_pb
from wopiproxy.control.v1 import session_service_pb2 as session_pb
from wopiproxy.control.v1 import storage_service_pb2 as storage_pb
from wopiproxy.control.v1 import tenant_service_pb2 as tenant_pb

DENIED = (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")


@pytest.fixture
def channels() -> Iterator[list[grpc.Channel]]:
    opened: list[grpc.Channel] = []
    yield opened
    for channel in opened:
        channel.close()


def _edge_calls(key: Stubs, f: OpenFile) -> dict[str, Callable[[], object]]:
    """EdgeService calls with a valid access token: only the key can make them fail."""
    return {
        "AuthorizeWopiRequest": lambda: key.call(key.edge.AuthorizeWopiRequest, edge_pb.AuthorizeWopiRequestRequest(
            call=edge_pb.WopiCall(access_token=f.token, file_id=f.file_id, operation=edge_pb.WOPI_OPERATION_GET_FILE))),
        "AuthorizeWopiRequests": lambda: key.call(key.edge.AuthorizeWopiRequests, edge_pb.AuthorizeWopiRequestsRequest(
            requests=[edge_pb.AuthorizeWopiRequestRequest(call=edge_pb.WopiCall(
                access_token=f.token, file_id=f.file_id, operation=edge_pb.WOPI_OPERATION_GET_FILE))])),
        "BeginWrite": lambda: key.call(key.edge.BeginWrite, edge_pb.BeginWriteRequest(
            call=edge_pb.WopiCall(access_token=f.token, file_id=f.file_id, operation=edge_pb.WOPI_OPERATION_PUT_FILE))),
        "RedeemLaunchCode": lambda: key.call(key.edge.RedeemLaunchCode,
                                             edge_pb.RedeemLaunchCodeRequest(launch_code="x")),
    }


def _opened(deployment: Deployment) -> OpenFile:
    api = deployment.api()
    return open_file(api, *new_tenant(api, deployment.workdir / "storage"), "e.docx", b"edge")


def test_an_edge_key_cannot_call_the_operator_or_tenant_services(
        shape: str, deploy: Callable[..., Deployment], channels: list[grpc.Channel]) -> None:
    """Attack: whoever holds an edge's key (on every edge host, so the easiest key to steal) uses
    it to list tenants, mint keys, add storages, read sessions or the audit trail."""
    deployment = deploy(shape)
    f = _opened(deployment)
    edge = stubs(deployment, deployment.edge_key, channels)
    calls = {
        "ListTenants": lambda: edge.call(edge.tenants.ListTenants, tenant_pb.ListTenantsRequest()),
        "CreateApiKey": lambda: edge.call(edge.keys.CreateApiKey, key_pb.CreateApiKeyRequest()),
        "CreateStorage": lambda: edge.call(edge.storages.CreateStorage, storage_pb.CreateStorageRequest(
            tenant_id=f.tenant_id, name="stolen", root="/")),
        "ListSessions": lambda: edge.call(edge.sessions.ListSessions, session_pb.ListSessionsRequest()),
        "GetFile": lambda: edge.call(edge.files.GetFile, file_pb.GetFileRequest(tenant_id=f.tenant_id,
                                                                               file_id=f.file_id)),
        "ListEditors": lambda: edge.call(edge.editors.ListEditors, editor_pb.ListEditorsRequest()),
        "ListAuditEvents": lambda: edge.call(edge.audit.ListAuditEvents, audit_pb.ListAuditEventsRequest()),
        "WatchSessionEvents": lambda: list(edge.channel.unary_stream(
            "/wopiproxy.control.v1.SessionService/WatchSessionEvents",
            request_serializer=session_pb.WatchSessionEventsRequest.SerializeToString,
            response_deserializer=session_pb.SessionEvent.FromString)(
            session_pb.WatchSessionEventsRequest(tenant_id=f.tenant_id),
            metadata=(("authorization", f"Bearer {edge.key}"),), timeout=15)),
    }
    assert {name: refused_as(call) for name, call in calls.items()} == {name: DENIED for name in calls}, \
        deployment.log()
    # The same key does what an edge needs.
    assert edge.call(edge.edge.AuthorizeWopiRequest, edge_pb.AuthorizeWopiRequestRequest(
        call=edge_pb.WopiCall(access_token=f.token, file_id=f.file_id, operation=edge_pb.WOPI_OPERATION_GET_FILE))).tenant_id == f.tenant_id


def test_admin_and_tenant_keys_cannot_call_the_edge_service(
        shape: str, deploy: Callable[..., Deployment], channels: list[grpc.Channel]) -> None:
    """Attack: a tenant that learned another tenant's access token asks the EdgeService for the
    storage credentials behind it; or an admin key is used where only edges belong."""
    deployment = deploy(shape)
    f = _opened(deployment)
    admin = stubs(deployment, deployment.admin_key, channels)
    tenant = stubs(deployment, new_key(admin, tenant_id=f.tenant_id), channels)
    for key in (admin, tenant):
        calls = _edge_calls(key, f)
        assert {name: refused_as(call) for name, call in calls.items()} == {name: DENIED for name in calls}, \
            deployment.log()


def test_the_edge_key_file_is_private_and_only_its_hash_is_stored(deploy: Callable[..., Deployment]) -> None:
    """Attack: a local user reads the edge key from the data folder, or from a database dump."""
    deployment = deploy("serve")
    path = deployment.data_dir / "edge.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    key = deployment.edge_key
    assert key.startswith("wpk_") and key != deployment.admin_key
    database = b"".join(p.read_bytes() for p in deployment.data_dir.glob("*.db*"))
    assert database and key.encode() not in database


def test_keys_create_role_edge_makes_a_key_that_reaches_only_the_edge_service(
        deploy: Callable[..., Deployment], channels: list[grpc.Channel]) -> None:
    """Attack: an operator mints a key for a new edge and expects it to be as narrow as edge.key;
    and a tenant id smuggled into an edge key does not widen (or confuse) it."""
    deployment = deploy("serve")
    f = _opened(deployment)
    created = subprocess.run(
        [sys.executable, "-m", "cli.main", "--control", deployment.grpc_address, "--api-key", deployment.admin_key,
         "keys", "create", "--role", "edge", "--json"], capture_output=True, text=True, timeout=60,
        cwd=Path(__file__).resolve().parents[2])
    assert created.returncode == 0, created.stderr
    reply = json.loads(created.stdout)
    assert reply["role"] == "KEY_ROLE_EDGE" and not reply.get("tenant_id")
    edge = stubs(deployment, reply["api_key"], channels)
    granted = edge.call(edge.edge.AuthorizeWopiRequest, edge_pb.AuthorizeWopiRequestRequest(
        call=edge_pb.WopiCall(access_token=f.token, file_id=f.file_id, operation=edge_pb.WOPI_OPERATION_GET_FILE)))
    assert granted.session_id == f.session_id
    assert refused_as(lambda: edge.call(edge.tenants.ListTenants, tenant_pb.ListTenantsRequest())) == DENIED
    admin = stubs(deployment, deployment.admin_key, channels)
    assert refused_as(lambda: new_key(admin, tenant_id=f.tenant_id, role=key_pb.KEY_ROLE_EDGE))[0] == \
        grpc.StatusCode.INVALID_ARGUMENT
    assert refused_as(lambda: new_key(admin, role=key_pb.KEY_ROLE_TENANT))[0] == grpc.StatusCode.INVALID_ARGUMENT

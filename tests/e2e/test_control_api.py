"""The gRPC control plane: authentication, health, reflection, validation with error details."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.support.api import ControlApi, error_reason, open_file, session_pb, storage_pb, tenant_pb
from tests.support.processes import WopiProxyProcess


def test_admin_key_file_is_private_and_only_its_hash_is_stored(server: WopiProxyProcess, admin_key: str) -> None:
    key_file = server.workdir / "data" / "admin.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    database = (server.workdir / "data" / "wopi-proxy.db").read_bytes()
    for wal in (server.workdir / "data").glob("wopi-proxy.db-wal"):
        database += wal.read_bytes()
    assert admin_key.encode() not in database


def test_call_without_api_key_is_unauthenticated(server: WopiProxyProcess) -> None:
    anonymous = ControlApi(server.grpc_address, None)
    with pytest.raises(grpc.RpcError) as caught:
        anonymous.call(anonymous.tenants.ListTenants, tenant_pb.ListTenantsRequest())
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    anonymous.close()


def test_call_with_wrong_api_key_is_unauthenticated(server: WopiProxyProcess) -> None:
    wrong = ControlApi(server.grpc_address, "wpk_not-a-real-key")
    with pytest.raises(grpc.RpcError) as caught:
        wrong.call(wrong.sessions.ListSessions, session_pb.ListSessionsRequest())
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_reason(caught.value) == "API_KEY_INVALID"
    wrong.close()


def test_health_service_answers_without_a_key(server: WopiProxyProcess) -> None:
    with grpc.insecure_channel(server.grpc_address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_public_services(server: WopiProxyProcess) -> None:
    with grpc.insecure_channel(server.grpc_address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = {s.name for reply in replies for s in reply.list_services_response.service}
    assert {"wopiproxy.control.v1.TenantService", "wopiproxy.control.v1.StorageService",
            "wopiproxy.control.v1.SessionService", "grpc.health.v1.Health"} <= names


def test_bad_tenant_id_is_invalid_argument_naming_the_field(api: ControlApi) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        api.call(api.tenants.CreateTenant, tenant_pb.CreateTenantRequest(id="Bad Id!", name="x"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "id" in caught.value.details()


def test_duplicate_tenant_is_already_exists(api: ControlApi, tenant) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        api.call(api.tenants.CreateTenant, tenant_pb.CreateTenantRequest(id=tenant[0], name="again"))
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS


def test_storage_with_missing_root_is_refused_with_the_reason(api: ControlApi, tenant, tmp_path: Path) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        api.call(api.storages.CreateStorage, storage_pb.CreateStorageRequest(
            tenant_id=tenant[0], name="nowhere", protocol="file", root=str(tmp_path / "missing")))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "does not exist" in caught.value.details()


def test_session_on_missing_file_is_not_found(api: ControlApi, tenant) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        open_file(api, *tenant, "missing.docx", content=None)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_reason(caught.value) == "FILE_NOT_FOUND"


@pytest.mark.parametrize("path", ["../outside.docx", "a/../../outside.docx", "/etc/passwd", "C:/x.docx"])
def test_session_path_escaping_the_root_is_refused(api: ControlApi, tenant, path: str) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        api.call(api.sessions.CreateSession, session_pb.CreateSessionRequest(
            tenant_id=tenant[0], storage="docs", path=path, user_id="u1"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(caught.value) == "PATH_OUTSIDE_ROOT"


def test_session_through_a_symlink_out_of_the_root_is_refused(api: ControlApi, tenant, tmp_path: Path) -> None:
    tenant_id, folder = tenant
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.docx").write_bytes(b"secret")
    (folder / "link").symlink_to(outside)
    (folder / "file-link.docx").symlink_to(outside / "secret.docx")
    for path in ("link/secret.docx", "file-link.docx"):
        with pytest.raises(grpc.RpcError) as caught:
            api.call(api.sessions.CreateSession, session_pb.CreateSessionRequest(
                tenant_id=tenant_id, storage="docs", path=path, user_id="u1"))
        assert error_reason(caught.value) == "PATH_OUTSIDE_ROOT", path


def test_session_reply_carries_absolute_token_expiry_in_ms(api: ControlApi, tenant) -> None:
    tenant_id, folder = tenant
    (folder / "t.docx").write_bytes(b"x")
    reply = api.call(api.sessions.CreateSession, session_pb.CreateSessionRequest(
        tenant_id=tenant_id, storage="docs", path="t.docx", user_id="u1", ttl_seconds=3600))
    created_ms = reply.session.create_time.ToMilliseconds()
    assert reply.access_token_ttl == reply.session.expire_time.ToMilliseconds() == created_ms + 3600 * 1000


def test_ttl_out_of_range_is_invalid_argument(api: ControlApi, tenant) -> None:
    tenant_id, folder = tenant
    (folder / "t.docx").write_bytes(b"x")
    with pytest.raises(grpc.RpcError) as caught:
        api.call(api.sessions.CreateSession, session_pb.CreateSessionRequest(
            tenant_id=tenant_id, storage="docs", path="t.docx", user_id="u1", ttl_seconds=5))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_list_sessions_pages_through_everything(api: ControlApi, tenant) -> None:
    tenant_id, folder = tenant
    opened = {open_file(api, tenant_id, folder, f"p{i}.docx").session_id for i in range(5)}
    seen, token = [], ""
    while True:
        reply = api.call(api.sessions.ListSessions, session_pb.ListSessionsRequest(
            tenant_id=tenant_id, page_size=2, page_token=token))
        assert len(reply.sessions) <= 2
        seen += [s.id for s in reply.sessions]
        token = reply.next_page_token
        if not token:
            break
    assert sorted(seen) == sorted(opened)


def test_internal_edge_service_refuses_unknown_tokens(server: WopiProxyProcess) -> None:
    edge_key = (server.workdir / "data" / "edge.key").read_text().strip()
    from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb
    from wopiproxy.internal.v1 import edge_service_pb2_grpc as edge_grpc

    with grpc.insecure_channel(server.grpc_address) as channel:
        stub = edge_grpc.EdgeServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.AuthorizeWopiRequest(edge_pb.AuthorizeWopiRequestRequest(call=edge_pb.WopiCall(
                access_token="x", file_id="y", operation=edge_pb.WOPI_OPERATION_GET_FILE)),
                                      metadata=(("authorization", f"Bearer {edge_key}"),), timeout=10)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_reason(caught.value) == "ACCESS_TOKEN_INVALID"

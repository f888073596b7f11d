"""Tenant keys follow their tenant: a disabled tenant's key is refused everywhere at once, a deleted
tenant's key is unknown, and a tenant created again under a deleted id inherits nothing (while the
operator can still check the old tenant's audit trail)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from google.protobuf import field_mask_pb2

from tests.security.principals import Stubs, add_editor, discovery_stub, new_key, refused_as, stubs
from tests.support.api import new_tenant, open_file
from tests.support.deployment import Deployment
from wopiproxy.control.v1 import audit_service_pb2 as audit_pb
from wopiproxy.control.v1 import editor_service_pb2 as editor_pb
from wopiproxy.control.v1 import file_service_pb2 as file_pb
from wopiproxy.control.v1 import key_service_pb2 as key_pb
from wopiproxy.control.v1 import session_service_pb2 as session_pb
from wopiproxy.control.v1 import storage_service_pb2 as storage_pb
from wopiproxy.control.v1 import tenant_service_pb2 as tenant_pb


@pytest.fixture
def channels() -> Iterator[list[grpc.Channel]]:
    opened: list[grpc.Channel] = []
    yield opened
    for channel in opened:
        channel.close()


def _set_enabled(admin: Stubs, tenant_id: str, enabled: bool) -> None:
    admin.call(admin.tenants.UpdateTenant, tenant_pb.UpdateTenantRequest(
        tenant=tenant_pb.Tenant(id=tenant_id, enabled=enabled), update_mask=field_mask_pb2.FieldMask(paths=["enabled"])))


def _tenant_calls(key: Stubs, tenant_id: str) -> dict[str, Callable[[], object]]:
    """One call of each service a tenant key may use."""
    return {
        "StorageService": lambda: key.call(key.storages.ListStorages, storage_pb.ListStoragesRequest(tenant_id=tenant_id)),
        "SessionService": lambda: key.call(key.sessions.ListSessions, session_pb.ListSessionsRequest(tenant_id=tenant_id)),
        "AuditService": lambda: key.call(key.audit.ListAuditEvents, audit_pb.ListAuditEventsRequest()),
        "EditorService": lambda: key.call(key.editors.ListEditors, editor_pb.ListEditorsRequest(tenant_id=tenant_id)),
        "FileService": lambda: key.call(key.files.ListFileVersions,
                                        file_pb.ListFileVersionsRequest(tenant_id=tenant_id, file_id="f-missing")),
    }


def test_a_disabled_tenants_key_is_refused_on_every_service(
        shape: str, deploy: Callable[..., Deployment], channels: list[grpc.Channel]) -> None:
    """Attack: a tenant the operator disabled (unpaid, compromised) keeps using its API key to read
    its sessions and audit trail or open new sessions. Every service refuses it at once."""
    deployment = deploy(shape)
    admin = stubs(deployment, deployment.admin_key, channels)
    tenant_id, _ = new_tenant(deployment.api(), deployment.workdir / "storage")
    key = stubs(deployment, new_key(admin, tenant_id=tenant_id), channels)
    calls = _tenant_calls(key, tenant_id)
    key.call(key.storages.ListStorages, storage_pb.ListStoragesRequest(tenant_id=tenant_id))  # cached as valid

    _set_enabled(admin, tenant_id, False)
    refused = {name: refused_as(call) for name, call in calls.items()}
    assert refused == {name: (grpc.StatusCode.PERMISSION_DENIED, "TENANT_DISABLED") for name in calls}, deployment.log()

    _set_enabled(admin, tenant_id, True)
    key.call(key.storages.ListStorages, storage_pb.ListStoragesRequest(tenant_id=tenant_id))


def test_a_disabled_tenants_key_is_refused_by_the_rest_gateway(
        shape: str, deploy: Callable[..., Deployment], channels: list[grpc.Channel]) -> None:
    """Attack: the same disabled tenant goes through the REST gateway instead of gRPC."""
    deployment = deploy(shape, edge_args=("--rest-gateway",) if shape == "split" else ())
    admin = stubs(deployment, deployment.admin_key, channels)
    tenant_id, _ = new_tenant(deployment.api(), deployment.workdir / "storage")
    headers = {"Authorization": f"Bearer {new_key(admin, tenant_id=tenant_id)}"}
    with httpx.Client(base_url=deployment.http_url, headers=headers, timeout=15) as rest:
        assert rest.get("/storages/list", params={"tenant_id": tenant_id}).status_code == 200, deployment.log()
        _set_enabled(admin, tenant_id, False)
        for path, params in (("/storages/list", {"tenant_id": tenant_id}), ("/sessions/list", {"tenant_id": tenant_id}),
                             ("/audit/list", {})):
            reply = rest.get(path, params=params)
            assert reply.status_code == 403 and "TENANT_DISABLED" in reply.text, (path, reply.text, deployment.log())


def test_a_deleted_tenants_key_is_unknown_at_once(
        shape: str, deploy: Callable[..., Deployment], channels: list[grpc.Channel]) -> None:
    """Attack: an application of a deleted tenant keeps calling with its key (cached a moment ago)."""
    deployment = deploy(shape)
    admin = stubs(deployment, deployment.admin_key, channels)
    tenant_id, _ = new_tenant(deployment.api(), deployment.workdir / "storage")
    key = stubs(deployment, new_key(admin, tenant_id=tenant_id), channels)
    key.call(key.storages.ListStorages, storage_pb.ListStoragesRequest(tenant_id=tenant_id))
    admin.call(admin.tenants.DeleteTenant, tenant_pb.DeleteTenantRequest(id=tenant_id, force=True))
    refused = {name: refused_as(call) for name, call in _tenant_calls(key, tenant_id).items()}
    assert set(refused.values()) == {(grpc.StatusCode.UNAUTHENTICATED, "API_KEY_INVALID")}, deployment.log()


def test_a_tenant_created_again_under_a_deleted_id_inherits_nothing(
        deploy: Callable[..., Deployment], channels: list[grpc.Channel]) -> None:
    """Attack: the operator deletes tenant X and later gives the id X to another organisation; the
    newcomer reads X's audit trail, sessions, storages, editors or session events. It sees none,
    and its own audit chain verifies."""
    deployment = deploy("serve")
    admin = stubs(deployment, deployment.admin_key, channels)
    api = deployment.api()
    tenant_id, folder = new_tenant(api, deployment.workdir / "storage")
    old = open_file(api, tenant_id, folder, "secret.docx", b"old tenant's")
    discovery = discovery_stub()
    try:
        add_editor(admin, tenant_id, "own-editor", discovery)
    finally:
        discovery.stop()
    admin.call(admin.tenants.DeleteTenant, tenant_pb.DeleteTenantRequest(id=tenant_id, force=True))
    admin.call(admin.tenants.CreateTenant, tenant_pb.CreateTenantRequest(id=tenant_id, name="Newcomer"))
    new = stubs(deployment, new_key(admin, tenant_id=tenant_id), channels)

    events = new.call(new.audit.ListAuditEvents, audit_pb.ListAuditEventsRequest(page_size=1000)).events
    assert events and {e.operation for e in events} <= {"CreateTenant", "CreateApiKey"}, events
    assert not [e for e in events if old.session_id in (e.session_id, e.detail)]
    assert not new.call(new.sessions.ListSessions, session_pb.ListSessionsRequest(tenant_id=tenant_id)).sessions
    assert not new.call(new.storages.ListStorages, storage_pb.ListStoragesRequest(tenant_id=tenant_id)).storages
    editors = new.call(new.editors.ListEditors, editor_pb.ListEditorsRequest(tenant_id=tenant_id)).editors
    assert not [e for e in editors if e.tenant_id == tenant_id]
    assert refused_as(lambda: new.call(new.sessions.GetSession, session_pb.GetSessionRequest(id=old.session_id))) == (
        grpc.StatusCode.NOT_FOUND, "SESSION_NOT_FOUND")
    assert refused_as(lambda: new.call(new.files.GetFile, file_pb.GetFileRequest(
        tenant_id=tenant_id, file_id=old.file_id)))[0] == grpc.StatusCode.NOT_FOUND
    streamed = new.first_of_stream(new.sessions.WatchSessionEvents,
                                   session_pb.WatchSessionEventsRequest(tenant_id=tenant_id, cursor="0"))
    assert not streamed, streamed
    verified = new.call(new.audit.VerifyAuditChain, audit_pb.VerifyAuditChainRequest())
    assert verified.ok and verified.checked == len(events), verified


def test_the_deleted_tenants_audit_trail_stays_verifiable_by_the_operator(
        deploy: Callable[..., Deployment], channels: list[grpc.Channel]) -> None:
    """Attack (on the trail itself): deleting and re-creating a tenant to make its past unverifiable.
    The operator finds the archived chain, reads it, and it verifies, as does every chain."""
    deployment = deploy("serve")
    admin = stubs(deployment, deployment.admin_key, channels)
    api = deployment.api()
    tenant_id, folder = new_tenant(api, deployment.workdir / "storage")
    old = open_file(api, tenant_id, folder, "kept.docx", b"audited")
    admin.call(admin.tenants.DeleteTenant, tenant_pb.DeleteTenantRequest(id=tenant_id, force=True))
    admin.call(admin.tenants.CreateTenant, tenant_pb.CreateTenantRequest(id=tenant_id, name="Newcomer"))

    deployment_chain = admin.call(admin.audit.ListAuditEvents, audit_pb.ListAuditEventsRequest(
        operation="DeleteTenant", page_size=1000)).events
    notes = [e.detail for e in deployment_chain if not e.tenant_id and f"tenant={tenant_id} " in e.detail]
    assert len(notes) == 1, deployment_chain
    archive = notes[0].split("archived_chain=")[1]
    assert archive.startswith(f"{tenant_id}~")
    archived = admin.call(admin.audit.ListAuditEvents, audit_pb.ListAuditEventsRequest(
        tenant_id=archive, page_size=1000)).events
    assert {"CreateTenant", "CreateStorage", "CreateSession", "DeleteTenant"} <= {e.operation for e in archived}
    assert old.session_id in {e.session_id for e in archived}
    one = admin.call(admin.audit.VerifyAuditChain, audit_pb.VerifyAuditChainRequest(tenant_id=archive))
    assert one.ok and one.checked == len(archived), one
    every = admin.call(admin.audit.VerifyAuditChain, audit_pb.VerifyAuditChainRequest())
    assert every.ok, every


def _session_of_key(key: Stubs, tenant_id: str, folder: Path, path: str) -> session_pb.CreateSessionResponse:
    (folder / path).write_bytes(b"payroll")
    return key.call(key.sessions.CreateSession, session_pb.CreateSessionRequest(
        tenant_id=tenant_id, storage="docs", path=path, user_id="mallory", ttl_seconds=7 * 24 * 3600,
        permission=session_pb.PERMISSION_EDIT))


def test_a_key_revoked_with_close_sessions_takes_its_sessions_tokens_with_it(
        shape: str, deploy: Callable[..., Deployment], channels: list[grpc.Channel]) -> None:
    """Attack (security review F5): an employee about to leave mints week-long sessions with the
    tenant's key; the operator revokes the key with close_sessions, and the edge refuses those
    sessions' tokens at once, while a session another key opened keeps working."""
    deployment = deploy(shape)
    admin = stubs(deployment, deployment.admin_key, channels)
    tenant_id, folder = new_tenant(deployment.api(), deployment.workdir / "storage")
    created = admin.call(admin.keys.CreateApiKey, key_pb.CreateApiKeyRequest(tenant_id=tenant_id, description="leaver"))
    leaver = stubs(deployment, created.api_key, channels)
    minted = _session_of_key(leaver, tenant_id, folder, "payroll.docx")
    other = _session_of_key(stubs(deployment, new_key(admin, tenant_id=tenant_id), channels), tenant_id, folder,
                            "minutes.docx")
    with httpx.Client(timeout=15) as http:
        def status(reply: session_pb.CreateSessionResponse) -> int:
            url = f"{reply.session.wopi_src}/contents?access_token={reply.access_token}"
            return http.get(url).status_code

        assert (status(minted), status(other)) == (200, 200), deployment.log()
        admin.call(admin.keys.RevokeApiKey, key_pb.RevokeApiKeyRequest(id=created.key_id, close_sessions=True))
        assert (status(minted), status(other)) == (401, 200), deployment.log()

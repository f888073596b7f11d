"""Isolation in the data layer: another tenant's ids answer exactly as missing ids do (same code,
reason and message shape), so a tenant key learns nothing, not even that the id exists."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import httpx
import pytest

from tests.security.principals import Stubs, new_key, refusal, stubs
from tests.support.api import error_reason, new_tenant, open_file
from tests.support.deployment import Deployment
from wopiproxy.control.v1 import audit_service_pb2 as audit_pb
from wopiproxy.control.v1 import editor_service_pb2 as editor_pb
from wopiproxy.control.v1 import file_service_pb2 as file_pb
from wopiproxy.control.v1 import session_service_pb2 as session_pb
from wopiproxy.control.v1 import storage_service_pb2 as storage_pb

MISSING_SESSION = "ses_doesNotExist0000000"
MISSING_FILE = "fileDoesNotExist0000000"
MISSING_TENANT = "t-missing-tenant"


@pytest.fixture
def channels() -> Iterator[list[grpc.Channel]]:
    opened: list[grpc.Channel] = []
    yield opened
    for channel in opened:
        channel.close()


def _shape_of(call: Callable[[], object], id_value: str) -> tuple[grpc.StatusCode, str, str]:
    error = refusal(call)
    return error.code(), error_reason(error), (error.details() or "").replace(id_value, "<id>")


def test_another_tenants_ids_answer_like_missing_ones(
        shape: str, deploy: Callable[..., Deployment], channels: list[grpc.Channel]) -> None:
    """Attack: tenant B's key asks for tenant A's session, file, versions, storage, editor, events
    and audit chain by id (ids leak: in URLs, logs, support tickets). Each answer is the one a
    missing id gets, so B can neither read A's data nor tell that the id exists."""
    deployment = deploy(shape)
    api = deployment.api()
    admin = stubs(deployment, deployment.admin_key, channels)
    a_id, a_folder = new_tenant(api, deployment.workdir / "storage")
    b_id, _ = new_tenant(api, deployment.workdir / "storage")
    a = open_file(api, a_id, a_folder, "a.docx", b"tenant A's")
    api.call(api.storages.CreateStorage, storage_pb.CreateStorageRequest(
        tenant_id=a_id, name="a-only", protocol="file", root=str(a_folder)))
    b = stubs(deployment, new_key(admin, tenant_id=b_id), channels)

    # (what B asks with A's id, the same with a missing id, the id to blank in the message)
    pairs: dict[str, tuple[Callable[[], object], Callable[[], object], str, str]] = {
        "GetSession": (lambda: b.call(b.sessions.GetSession, session_pb.GetSessionRequest(id=a.session_id)),
                       lambda: b.call(b.sessions.GetSession, session_pb.GetSessionRequest(id=MISSING_SESSION)),
                       a.session_id, MISSING_SESSION),
        "CloseSession": (lambda: b.call(b.sessions.CloseSession, session_pb.CloseSessionRequest(id=a.session_id)),
                         lambda: b.call(b.sessions.CloseSession, session_pb.CloseSessionRequest(id=MISSING_SESSION)),
                         a.session_id, MISSING_SESSION),
        "GetFile in own tenant": (
            lambda: b.call(b.files.GetFile, file_pb.GetFileRequest(tenant_id=b_id, file_id=a.file_id)),
            lambda: b.call(b.files.GetFile, file_pb.GetFileRequest(tenant_id=b_id, file_id=MISSING_FILE)),
            a.file_id, MISSING_FILE),
        "ListFileVersions in own tenant": (
            lambda: b.call(b.files.ListFileVersions, file_pb.ListFileVersionsRequest(tenant_id=b_id, file_id=a.file_id)),
            lambda: b.call(b.files.ListFileVersions, file_pb.ListFileVersionsRequest(tenant_id=b_id,
                                                                                     file_id=MISSING_FILE)),
            a.file_id, MISSING_FILE),
        "RestoreFileVersion in own tenant": (
            lambda: b.call(b.files.RestoreFileVersion, file_pb.RestoreFileVersionRequest(
                tenant_id=b_id, file_id=a.file_id, version=1)),
            lambda: b.call(b.files.RestoreFileVersion, file_pb.RestoreFileVersionRequest(
                tenant_id=b_id, file_id=MISSING_FILE, version=1)),
            a.file_id, MISSING_FILE),
        "GetFile naming tenant A": (
            lambda: b.call(b.files.GetFile, file_pb.GetFileRequest(tenant_id=a_id, file_id=a.file_id)),
            lambda: b.call(b.files.GetFile, file_pb.GetFileRequest(tenant_id=MISSING_TENANT, file_id=a.file_id)),
            a_id, MISSING_TENANT),
        "GetStorage in own tenant": (
            lambda: b.call(b.storages.GetStorage, storage_pb.GetStorageRequest(tenant_id=b_id, name="a-only")),
            lambda: b.call(b.storages.GetStorage, storage_pb.GetStorageRequest(tenant_id=b_id, name="nothing")),
            "a-only", "nothing"),
        "GetStorage naming tenant A": (
            lambda: b.call(b.storages.GetStorage, storage_pb.GetStorageRequest(tenant_id=a_id, name="a-only")),
            lambda: b.call(b.storages.GetStorage, storage_pb.GetStorageRequest(tenant_id=MISSING_TENANT,
                                                                               name="a-only")),
            a_id, MISSING_TENANT),
        "ListSessions naming tenant A": (
            lambda: b.call(b.sessions.ListSessions, session_pb.ListSessionsRequest(tenant_id=a_id)),
            lambda: b.call(b.sessions.ListSessions, session_pb.ListSessionsRequest(tenant_id=MISSING_TENANT)),
            a_id, MISSING_TENANT),
        "GetEditor naming tenant A": (
            lambda: b.call(b.editors.GetEditor, editor_pb.GetEditorRequest(tenant_id=a_id, name="any")),
            lambda: b.call(b.editors.GetEditor, editor_pb.GetEditorRequest(tenant_id=MISSING_TENANT, name="any")),
            a_id, MISSING_TENANT),
        "ListAuditEvents naming tenant A": (
            lambda: b.call(b.audit.ListAuditEvents, audit_pb.ListAuditEventsRequest(tenant_id=a_id)),
            lambda: b.call(b.audit.ListAuditEvents, audit_pb.ListAuditEventsRequest(tenant_id=MISSING_TENANT)),
            a_id, MISSING_TENANT),
        "VerifyAuditChain naming tenant A": (
            lambda: b.call(b.audit.VerifyAuditChain, audit_pb.VerifyAuditChainRequest(tenant_id=a_id)),
            lambda: b.call(b.audit.VerifyAuditChain, audit_pb.VerifyAuditChainRequest(tenant_id=MISSING_TENANT)),
            a_id, MISSING_TENANT),
        "WatchSessionEvents naming tenant A": (
            lambda: b.first_of_stream(b.sessions.WatchSessionEvents,
                                      session_pb.WatchSessionEventsRequest(tenant_id=a_id, cursor="0")),
            lambda: b.first_of_stream(b.sessions.WatchSessionEvents,
                                      session_pb.WatchSessionEventsRequest(tenant_id=MISSING_TENANT, cursor="0")),
            a_id, MISSING_TENANT),
    }
    for name, (foreign, missing, foreign_id, missing_id) in pairs.items():
        seen, expected = _shape_of(foreign, foreign_id), _shape_of(missing, missing_id)
        assert seen == expected, (name, seen, expected, deployment.log())
        assert seen[0] == grpc.StatusCode.NOT_FOUND, (name, seen)


def test_a_wopi_token_finds_another_tenants_file_id_as_missing(
        shape: str, deploy: Callable[..., Deployment], http: httpx.Client) -> None:
    """Attack: tenant B's editor token is sent with tenant A's file id (a WOPISrc leaks in a log or
    a referrer) to the WOPI endpoints. Each answer is the one an id of no file gets, so the token
    tells nothing about A, not even that the id is a file."""
    deployment = deploy(shape)
    api = deployment.api()
    a_id, a_folder = new_tenant(api, deployment.workdir / "storage")
    b_id, b_folder = new_tenant(api, deployment.workdir / "storage")
    a = open_file(api, a_id, a_folder, "a.docx", b"tenant A's")
    b = open_file(api, b_id, b_folder, "b.docx", b"tenant B's")
    missing_id = "A" * len(a.file_id)
    endpoint = b.wopi_src.rsplit("/", 1)[0]

    def probe(file_id: str, suffix: str, override: str) -> tuple[int, str]:
        headers = {"X-WOPI-Override": override, "X-WOPI-Lock": "L"} if override else {}
        reply = http.request("POST" if override else "GET", f"{endpoint}/{file_id}{suffix}",
                             params={"access_token": b.token}, headers=headers, content=b"x" if override else None)
        return reply.status_code, reply.text.replace(file_id, "<id>")

    for suffix, override in (("", ""), ("/contents", ""), ("", "LOCK"), ("/contents", "PUT")):
        seen, expected = probe(a.file_id, suffix, override), probe(missing_id, suffix, override)
        assert seen == expected, (suffix, override, seen, expected)
        assert seen[0] == 404, (suffix, override, seen)
    assert (a_folder / "a.docx").read_bytes() == b"tenant A's"


def test_another_tenants_ids_filter_nothing_out_of_own_lists(
        shape: str, deploy: Callable[..., Deployment], channels: list[grpc.Channel]) -> None:
    """Attack: tenant B filters its own lists (audit, sessions) by tenant A's session and file ids,
    hoping a query joins across tenants. The answers are empty, as for ids that do not exist."""
    deployment = deploy(shape)
    api = deployment.api()
    admin = stubs(deployment, deployment.admin_key, channels)
    a_id, a_folder = new_tenant(api, deployment.workdir / "storage")
    b_id, _ = new_tenant(api, deployment.workdir / "storage")
    a = open_file(api, a_id, a_folder, "a.docx", b"tenant A's")
    b: Stubs = stubs(deployment, new_key(admin, tenant_id=b_id), channels)
    assert admin.call(admin.audit.ListAuditEvents, audit_pb.ListAuditEventsRequest(session_id=a.session_id)).events
    assert not b.call(b.audit.ListAuditEvents, audit_pb.ListAuditEventsRequest(session_id=a.session_id)).events
    assert not b.call(b.audit.ListAuditEvents, audit_pb.ListAuditEventsRequest(file_id=a.file_id)).events
    assert not b.call(b.sessions.ListSessions, session_pb.ListSessionsRequest(file_id=a.file_id)).sessions

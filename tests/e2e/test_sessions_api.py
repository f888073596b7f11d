"""SessionService over the real control plane and edge: the original product's CreateSession shape,
GetSession/ListSessions (filters, pages), create-on-open with templates, default TTLs and cleanup.

Expiry cannot be reached here: `serve` has no clock hook and the shortest TTL is 60 s, so the
expired half of CleanupSessions and of the EXPIRED filter lives in tests/control/test_session_cleanup.py,
on the services with an injected clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import field_mask_pb2
from wopiproxy.control.v1 import key_service_pb2 as key_pb
from wopiproxy.control.v1 import key_service_pb2_grpc as key_grpc

from tests.support.api import ControlApi, error_reason, new_tenant, open_file, session_pb, tenant_pb
from tests.support.processes import WopiProxyProcess

TEN_HOURS_S = 10 * 3600


def refusal(call: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def lifetime_s(session: session_pb.Session) -> float:
    return (session.expire_time.ToMilliseconds() - session.create_time.ToMilliseconds()) / 1000


def wopi_get(reply: session_pb.CreateSessionResponse, suffix: str = "") -> httpx.Response:
    return httpx.get(f"{reply.wopi_src}{suffix}", params={"access_token": reply.access_token}, timeout=30)


@pytest.fixture
def backend(server: WopiProxyProcess, api: ControlApi, tenant: tuple[str, Path]) -> Iterator[ControlApi]:
    """The tenant's application: a client holding a tenant key of the `tenant` fixture."""
    reply = api.call(key_grpc.KeyServiceStub(api.channel).CreateApiKey,
                     key_pb.CreateApiKeyRequest(tenant_id=tenant[0], description="erp"))
    client = ControlApi(server.grpc_address, reply.api_key)
    yield client
    client.close()


def legacy_request(**overrides: Any) -> session_pb.CreateSessionRequest:
    """The original product's /sessions/create body: no tenant_id, its own field names."""
    fields: dict[str, Any] = {
        "storage_name": "docs", "file_path": "reports/q1.docx", "permissions": ["view", "edit"],
        "account": "erp-prod", "user": "u-42", "origin_connection_id": "conn-7", "origin_page_id": "page-3",
        "ttl_seconds": 3600,
    }
    fields.update(overrides)
    return session_pb.CreateSessionRequest(**fields)


def create(client: ControlApi, request: session_pb.CreateSessionRequest) -> session_pb.CreateSessionResponse:
    return client.call(client.sessions.CreateSession, request)


def list_ids(client: ControlApi, **filters: Any) -> list[str]:
    ids, token = [], ""
    while True:
        request = session_pb.ListSessionsRequest(page_token=token, **filters)
        reply = client.call(client.sessions.ListSessions, request)
        ids += [s.id for s in reply.sessions]
        token = reply.next_page_token
        if not token:
            return ids


@pytest.fixture
def q1(tenant: tuple[str, Path]) -> Path:
    path = tenant[1] / "reports" / "q1.docx"
    path.parent.mkdir()
    path.write_bytes(b"quarterly figures")
    return path


# -- the original product's shape -----------------------------------------------------------------


def test_original_shape_with_a_tenant_key_opens_a_working_edit_session(backend: ControlApi, tenant,
                                                                       q1) -> None:
    reply = create(backend, legacy_request())
    assert reply.session.tenant_id == tenant[0]
    session = reply.session
    assert (session.storage, session.path, session.user_id) == ("docs", "reports/q1.docx", "u-42")
    assert reply.session.permission == session_pb.PERMISSION_EDIT
    info = wopi_get(reply).json()
    assert (info["BaseFileName"], info["UserId"], info["UserCanWrite"]) == ("q1.docx", "u-42", True)
    assert wopi_get(reply, "/contents").content == b"quarterly figures"


def test_original_shape_reply_carries_the_original_fields_beside_the_session(backend: ControlApi, q1) -> None:
    reply = create(backend, legacy_request())
    assert reply.session_id == reply.session.id and reply.session_id.startswith("ses_")
    assert reply.file_id == reply.session.file_id != ""
    assert reply.wopi_src == reply.session.wopi_src
    assert reply.wopi_src.endswith(f"/wopi/files/{reply.file_id}")
    assert reply.editor_url == reply.wopi_src  # no editor is configured on this server
    assert reply.expires_at == reply.session.expire_time
    assert reply.expires_at.ToMilliseconds() == reply.access_token_ttl
    assert lifetime_s(reply.session) == 3600


def test_original_shape_view_permission_makes_a_read_only_session(backend: ControlApi, q1) -> None:
    reply = create(backend, legacy_request(permissions=["view"]))
    assert reply.session.permission == session_pb.PERMISSION_VIEW
    assert wopi_get(reply).json()["UserCanWrite"] is False
    lock = httpx.post(reply.wopi_src, params={"access_token": reply.access_token},
                      headers={"X-WOPI-Override": "LOCK", "X-WOPI-Lock": "L1"})
    assert lock.status_code == 401


def test_unknown_original_permission_is_invalid_argument(backend: ControlApi, q1) -> None:
    error = refusal(lambda: create(backend, legacy_request(permissions=["view", "admin"])))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "permissions" in (error.details() or "")


def test_account_and_origin_come_back_in_get_session(backend: ControlApi, q1) -> None:
    reply = create(backend, legacy_request())
    got = backend.call(backend.sessions.GetSession, session_pb.GetSessionRequest(session_id=reply.session_id))
    assert got.account == "erp-prod"
    assert dict(got.origin) == {"connection_id": "conn-7", "page_id": "page-3"}
    assert got == reply.session


def test_a_tenant_key_without_tenant_id_opens_in_its_own_tenant_only(
    backend: ControlApi, api: ControlApi, tenant, tmp_path: Path
) -> None:
    _, other_folder = new_tenant(api, tmp_path / "other")
    (other_folder / "only-there.docx").write_bytes(b"x")
    error = refusal(lambda: create(backend, legacy_request(file_path="only-there.docx")))
    assert (error.code(), error_reason(error)) == (grpc.StatusCode.NOT_FOUND, "FILE_NOT_FOUND")


def test_the_admin_key_must_name_the_tenant(api: ControlApi, q1) -> None:
    error = refusal(lambda: create(api, legacy_request()))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "tenant_id" in (error.details() or "")


# -- ListSessions ---------------------------------------------------------------------------------


def test_list_sessions_filters_by_user(backend: ControlApi, q1) -> None:
    mine = create(backend, legacy_request(user="ann")).session_id
    create(backend, legacy_request(user="bob"))
    assert list_ids(backend, user_id="ann") == [mine]


def test_list_sessions_filters_by_file(backend: ControlApi, tenant, q1) -> None:
    (tenant[1] / "other.docx").write_bytes(b"o")
    on_q1 = create(backend, legacy_request())
    create(backend, legacy_request(file_path="other.docx"))
    assert list_ids(backend, file_id=on_q1.file_id) == [on_q1.session_id]


def test_list_sessions_filters_open_and_closed(backend: ControlApi, q1) -> None:
    open_one = create(backend, legacy_request()).session_id
    closed_one = create(backend, legacy_request()).session_id
    backend.call(backend.sessions.CloseSession, session_pb.CloseSessionRequest(session_id=closed_one))
    assert list_ids(backend, state=session_pb.SESSION_STATE_OPEN) == [open_one]
    assert list_ids(backend, state=session_pb.SESSION_STATE_CLOSED) == [closed_one]
    assert list_ids(backend, state=session_pb.SESSION_STATE_EXPIRED) == []


def test_list_sessions_filters_combine(backend: ControlApi, q1) -> None:
    wanted = create(backend, legacy_request(user="ann")).session_id
    create(backend, legacy_request(user="bob"))
    closed = create(backend, legacy_request(user="ann")).session_id
    backend.call(backend.sessions.CloseSession, session_pb.CloseSessionRequest(id=closed))
    assert list_ids(backend, user_id="ann", state=session_pb.SESSION_STATE_OPEN) == [wanted]


def test_list_sessions_pages_newest_first_without_repeats(backend: ControlApi, q1) -> None:
    made = {create(backend, legacy_request()).session_id for _ in range(5)}
    pages, token = [], ""
    while True:
        reply = backend.call(backend.sessions.ListSessions, session_pb.ListSessionsRequest(page_size=2,
                                                                                          page_token=token))
        pages.append(list(reply.sessions))
        token = reply.next_page_token
        if not token:
            break
    seen = [s for page in pages for s in page]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sorted(s.id for s in seen) == sorted(made)
    created = [s.create_time.ToMilliseconds() for s in seen]
    assert created == sorted(created, reverse=True)


def test_list_sessions_with_a_negative_page_size_is_invalid_argument(backend: ControlApi) -> None:
    request = session_pb.ListSessionsRequest(page_size=-1)
    error = refusal(lambda: backend.call(backend.sessions.ListSessions, request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_list_sessions_with_a_made_up_page_token_is_invalid_argument(backend: ControlApi) -> None:
    request = session_pb.ListSessionsRequest(page_token="not-a-token")
    error = refusal(lambda: backend.call(backend.sessions.ListSessions, request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


# -- create on open -------------------------------------------------------------------------------


def test_create_true_on_a_missing_file_makes_an_empty_file(backend: ControlApi, tenant) -> None:
    reply = create(backend, legacy_request(file_path="new/blank.docx", create=True))
    assert wopi_get(reply).json()["Size"] == 0
    assert (tenant[1] / "new" / "blank.docx").read_bytes() == b""


def test_create_true_with_a_template_copies_the_template(backend: ControlApi, tenant) -> None:
    (tenant[1] / "templates").mkdir()
    (tenant[1] / "templates" / "letter.docx").write_bytes(b"Dear customer,")
    reply = create(backend, legacy_request(file_path="letters/l1.docx", create=True,
                                           template_path="templates/letter.docx"))
    assert wopi_get(reply).json()["Size"] == len(b"Dear customer,")
    assert wopi_get(reply, "/contents").content == b"Dear customer,"
    assert (tenant[1] / "templates" / "letter.docx").read_bytes() == b"Dear customer,"


def test_create_true_on_an_existing_file_keeps_its_content(backend: ControlApi, tenant, q1) -> None:
    (tenant[1] / "t.docx").write_bytes(b"template")
    reply = create(backend, legacy_request(create=True, template_path="t.docx"))
    assert wopi_get(reply, "/contents").content == b"quarterly figures"


def test_create_false_on_a_missing_file_is_not_found(backend: ControlApi, tenant) -> None:
    error = refusal(lambda: create(backend, legacy_request(file_path="missing.docx", create=False)))
    assert (error.code(), error_reason(error)) == (grpc.StatusCode.NOT_FOUND, "FILE_NOT_FOUND")
    assert not (tenant[1] / "missing.docx").exists()


def test_create_with_a_missing_template_is_not_found_and_makes_nothing(backend: ControlApi, tenant) -> None:
    error = refusal(lambda: create(backend, legacy_request(file_path="n.docx", create=True,
                                                           template_path="no-such-template.docx")))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert not (tenant[1] / "n.docx").exists()


def test_create_with_a_template_outside_the_root_is_refused(backend: ControlApi, tenant,
                                                           tmp_path: Path) -> None:
    (tmp_path / "secret.docx").write_bytes(b"secret")
    error = refusal(lambda: create(backend, legacy_request(file_path="n.docx", create=True,
                                                           template_path="../secret.docx")))
    assert (error.code(), error_reason(error)) == (grpc.StatusCode.INVALID_ARGUMENT, "PATH_OUTSIDE_ROOT")
    assert not (tenant[1] / "n.docx").exists()


# -- TTLs -----------------------------------------------------------------------------------------


def _set_default_ttl(api: ControlApi, tenant_id: str, seconds: int) -> None:
    settings = tenant_pb.TenantSettings(default_session_ttl_seconds=seconds)
    api.call(api.tenants.UpdateTenant, tenant_pb.UpdateTenantRequest(
        tenant=tenant_pb.Tenant(id=tenant_id, settings=settings),
        update_mask=field_mask_pb2.FieldMask(paths=["settings.default_session_ttl_seconds"])))


def test_ttl_zero_without_a_tenant_default_is_ten_hours(backend: ControlApi, q1) -> None:
    assert lifetime_s(create(backend, legacy_request(ttl_seconds=0)).session) == TEN_HOURS_S


def test_ttl_zero_uses_the_tenants_default_ttl(api: ControlApi, backend: ControlApi, tenant, q1) -> None:
    _set_default_ttl(api, tenant[0], 120)
    reply = create(backend, legacy_request(ttl_seconds=0))
    assert lifetime_s(reply.session) == 120
    assert reply.access_token_ttl == reply.session.create_time.ToMilliseconds() + 120_000


def test_an_explicit_ttl_beats_the_tenants_default(api: ControlApi, backend: ControlApi, tenant, q1) -> None:
    _set_default_ttl(api, tenant[0], 120)
    assert lifetime_s(create(backend, legacy_request(ttl_seconds=600)).session) == 600


def test_a_session_with_the_shortest_ttl_is_open(backend: ControlApi, q1) -> None:
    reply = create(backend, legacy_request(ttl_seconds=60))
    assert reply.session.state == session_pb.SESSION_STATE_OPEN
    assert wopi_get(reply).status_code == 200


# -- CleanupSessions ------------------------------------------------------------------------------


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "real-run"])
def test_cleanup_with_nothing_expired_returns_nothing_and_changes_nothing(
    backend: ControlApi, q1, dry_run: bool
) -> None:
    reply = create(backend, legacy_request(ttl_seconds=60))
    request = session_pb.CleanupSessionsRequest(dry_run=dry_run)
    assert list(backend.call(backend.sessions.CleanupSessions, request).sessions) == []
    got = backend.call(backend.sessions.GetSession, session_pb.GetSessionRequest(id=reply.session_id))
    assert got.state == session_pb.SESSION_STATE_OPEN
    assert wopi_get(reply).status_code == 200


def test_admin_cleanup_of_every_tenant_with_nothing_expired_is_empty(api: ControlApi, tenant, q1) -> None:
    open_file(api, *tenant, "reports/q1.docx", content=None)
    cleaned = api.call(api.sessions.CleanupSessions, session_pb.CleanupSessionsRequest(dry_run=True))
    assert list(cleaned.sessions) == []

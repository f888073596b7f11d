"""Tenants and API keys over the real control plane: UpdateTenant and its field mask, disabling and
deleting tenants, and what a tenant key may see and do (a foreign id looks exactly like a missing one)."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import field_mask_pb2
from google.rpc import error_details_pb2, status_pb2
from wopiproxy.control.v1 import key_service_pb2 as key_pb
from wopiproxy.control.v1 import key_service_pb2_grpc as key_grpc

from tests.support.api import (
    ControlApi,
    error_reason,
    new_tenant,
    open_file,
    session_pb,
    storage_pb,
    tenant_pb,
)
from tests.support.processes import WopiProxyProcess

# -- local helpers --------------------------------------------------------------------------------


def status_detail(error: grpc.RpcError, kind: type) -> Any:
    """The first detail of type `kind` (ErrorInfo, BadRequest...) in grpc-status-details-bin, or None."""
    for key, value in error.trailing_metadata() or ():  # type: ignore[attr-defined]
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                message = kind()
                if detail.Unpack(message):
                    return message
    return None


def violated_fields(error: grpc.RpcError) -> list[str]:
    bad_request = status_detail(error, error_details_pb2.BadRequest)
    return [v.field for v in bad_request.field_violations] if bad_request else []


def refusal(call: Callable[[], Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def keys_stub(api: ControlApi) -> key_grpc.KeyServiceStub:
    return key_grpc.KeyServiceStub(api.channel)


def create_key(api: ControlApi, tenant_id: str = "", description: str = "") -> key_pb.CreateApiKeyResponse:
    return api.call(keys_stub(api).CreateApiKey, key_pb.CreateApiKeyRequest(tenant_id=tenant_id,
                                                                            description=description))


def update(api: ControlApi, tenant: tenant_pb.Tenant, *paths: str) -> tenant_pb.Tenant:
    mask = field_mask_pb2.FieldMask(paths=list(paths))
    return api.call(api.tenants.UpdateTenant, tenant_pb.UpdateTenantRequest(tenant=tenant, update_mask=mask))


def get_tenant(api: ControlApi, tenant_id: str) -> tenant_pb.Tenant:
    return api.call(api.tenants.GetTenant, tenant_pb.GetTenantRequest(id=tenant_id))


def check_file_info(f: Any) -> httpx.Response:
    return httpx.get(f.url(), timeout=30)


def cli(server: WopiProxyProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """`wopi-proxy ...` in the server's folder, where the default key file ./data/admin.key is found."""
    environment = {**os.environ, "WOPI_PROXY_CONTROL": server.grpc_address}
    environment.pop("WOPI_PROXY_API_KEY", None)
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=server.workdir, env=environment,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def as_tenant(server: WopiProxyProcess, api: ControlApi, tenant: tuple[str, Path]) -> Iterator[ControlApi]:
    """A client holding a fresh API key of the `tenant` fixture's tenant."""
    client = ControlApi(server.grpc_address, create_key(api, tenant[0], "backend").api_key)
    yield client
    client.close()


@pytest.fixture
def other_tenant(api: ControlApi, tmp_path: Path) -> tuple[str, Path]:
    """A second tenant with its own storage "docs"."""
    return new_tenant(api, tmp_path / "other")


# -- UpdateTenant ---------------------------------------------------------------------------------


def test_update_tenant_with_mask_name_changes_only_the_name(api: ControlApi, tenant) -> None:
    before = get_tenant(api, tenant[0])
    sent = tenant_pb.Tenant(id=tenant[0], name="Renamed Corp",
                            settings=tenant_pb.TenantSettings(audit_retention_days=99))
    changed = update(api, sent, "name")
    assert changed.name == "Renamed Corp"
    assert changed.settings == before.settings
    assert changed.enabled
    assert get_tenant(api, tenant[0]).name == "Renamed Corp"


@pytest.mark.parametrize(("field", "value"), [
    ("post_message_origin", "https://erp.example.com"),
    ("default_session_ttl_seconds", 3600),
    ("webhook_url", "http://127.0.0.1:9/hooks/wopi"),
    ("audit_retention_days", 30),
])
def test_update_tenant_sets_the_setting_named_in_the_mask(api: ControlApi, tenant, field: str,
                                                          value: Any) -> None:
    settings = tenant_pb.TenantSettings(**{field: value})
    changed = update(api, tenant_pb.Tenant(id=tenant[0], settings=settings), f"settings.{field}")
    assert getattr(changed.settings, field) == value
    assert getattr(get_tenant(api, tenant[0]).settings, field) == value


def test_update_tenant_leaves_fields_outside_the_mask_alone(api: ControlApi, tenant) -> None:
    update(api, tenant_pb.Tenant(id=tenant[0], settings=tenant_pb.TenantSettings(audit_retention_days=7)),
           "settings.audit_retention_days")
    sent = tenant_pb.Tenant(id=tenant[0], name="Not This", settings=tenant_pb.TenantSettings(
        post_message_origin="https://app.example.com", audit_retention_days=0))
    changed = update(api, sent, "settings.post_message_origin")
    assert changed.settings.post_message_origin == "https://app.example.com"
    assert changed.settings.audit_retention_days == 7
    assert changed.name == f"Tenant {tenant[0]}"


def test_update_tenant_without_mask_changes_every_set_field_but_not_enabled(api: ControlApi, tenant) -> None:
    sent = tenant_pb.Tenant(id=tenant[0], name="No Mask Ltd",
                            settings=tenant_pb.TenantSettings(default_session_ttl_seconds=900))
    changed = api.call(api.tenants.UpdateTenant, tenant_pb.UpdateTenantRequest(tenant=sent))
    assert (changed.name, changed.settings.default_session_ttl_seconds) == ("No Mask Ltd", 900)
    assert changed.enabled


def test_update_tenant_moves_update_time(api: ControlApi, tenant) -> None:
    before = get_tenant(api, tenant[0])
    changed = update(api, tenant_pb.Tenant(id=tenant[0], name="Later"), "name")
    assert changed.update_time.ToMilliseconds() >= before.update_time.ToMilliseconds()
    assert changed.create_time == before.create_time


def test_star_post_message_origin_is_refused(api: ControlApi, tenant) -> None:
    sent = tenant_pb.Tenant(id=tenant[0], settings=tenant_pb.TenantSettings(post_message_origin="*"))
    error = refusal(lambda: update(api, sent, "settings.post_message_origin"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f.rsplit(".", 1)[-1] for f in violated_fields(error)] == ["post_message_origin"]
    assert get_tenant(api, tenant[0]).settings.post_message_origin == ""


@pytest.mark.parametrize(("field", "value"), [
    ("post_message_origin", "*"),
    ("post_message_origin", "https://erp.example.com/page?x=1"),
    ("default_session_ttl_seconds", 30),
    ("webhook_url", "ftp://hooks.example.com/x"),
    ("audit_retention_days", -1),
])
def test_bad_setting_is_invalid_argument_naming_its_request_field(api: ControlApi, tenant, field: str,
                                                                  value: Any) -> None:
    sent = tenant_pb.Tenant(id=tenant[0], settings=tenant_pb.TenantSettings(**{field: value}))
    error = refusal(lambda: update(api, sent, f"settings.{field}"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == [f"tenant.settings.{field}"]


def test_empty_name_is_invalid_argument_naming_tenant_name(api: ControlApi, tenant) -> None:
    error = refusal(lambda: update(api, tenant_pb.Tenant(id=tenant[0], name=""), "name"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == ["tenant.name"]


@pytest.mark.parametrize("path", ["id", "create_time", "settings.no_such_setting", "nmae"])
def test_bad_mask_path_is_invalid_argument_naming_update_mask(api: ControlApi, tenant, path: str) -> None:
    error = refusal(lambda: update(api, tenant_pb.Tenant(id=tenant[0], name="x"), path))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == ["update_mask"]
    assert path in (error.details() or "")


def test_a_refused_update_changes_nothing(api: ControlApi, tenant) -> None:
    sent = tenant_pb.Tenant(id=tenant[0], name="Half Done",
                            settings=tenant_pb.TenantSettings(post_message_origin="*"))
    refusal(lambda: update(api, sent, "name", "settings.post_message_origin"))
    assert get_tenant(api, tenant[0]).name == f"Tenant {tenant[0]}"


def test_update_of_a_missing_tenant_is_not_found(api: ControlApi) -> None:
    missing = tenant_pb.Tenant(id="t-missing-" + secrets.token_hex(3), name="x")
    error = refusal(lambda: update(api, missing, "name"))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error_reason(error) == "TENANT_NOT_FOUND"


def test_post_message_origin_is_sent_to_editors_in_check_file_info(api: ControlApi, tenant) -> None:
    update(api, tenant_pb.Tenant(id=tenant[0], settings=tenant_pb.TenantSettings(
        post_message_origin="https://erp.example.com")), "settings.post_message_origin")
    info = check_file_info(open_file(api, *tenant, "pm.docx")).json()
    assert info.get("PostMessageOrigin") == "https://erp.example.com"


# -- the webhook secret is write-only -------------------------------------------------------------


def test_webhook_secret_is_never_returned(api: ControlApi, tenant) -> None:
    secret = "whsec-" + secrets.token_hex(16)
    sent = tenant_pb.Tenant(id=tenant[0], settings=tenant_pb.TenantSettings(
        webhook_url="http://127.0.0.1:9/hook", webhook_secret=secret))
    replies = [update(api, sent, "settings.webhook_url", "settings.webhook_secret"),
               get_tenant(api, tenant[0])]
    listed, token = [], ""
    while True:
        request = tenant_pb.ListTenantsRequest(page_size=1000, page_token=token)
        page = api.call(api.tenants.ListTenants, request)
        listed += [t for t in page.tenants if t.id == tenant[0]]
        token = page.next_page_token
        if not token:
            break
    for reply in [*replies, *listed]:
        assert reply.settings.webhook_secret == "***"
        assert secret.encode() not in reply.SerializeToString()


def test_unset_webhook_secret_reads_empty(api: ControlApi, tenant) -> None:
    assert get_tenant(api, tenant[0]).settings.webhook_secret == ""


# -- disabling a tenant ---------------------------------------------------------------------------


def _set_enabled(api: ControlApi, tenant_id: str, enabled: bool) -> tenant_pb.Tenant:
    return update(api, tenant_pb.Tenant(id=tenant_id, enabled=enabled), "enabled")


def test_disabling_a_tenant_makes_its_open_token_401_at_once(api: ControlApi, tenant) -> None:
    f = open_file(api, *tenant, "d.docx")
    assert check_file_info(f).status_code == 200
    assert not _set_enabled(api, tenant[0], False).enabled
    assert check_file_info(f).status_code == 401


def test_a_disabled_tenant_cannot_open_sessions(api: ControlApi, tenant) -> None:
    (tenant[1] / "d.docx").write_bytes(b"x")
    _set_enabled(api, tenant[0], False)
    error = refusal(lambda: open_file(api, *tenant, "d.docx", content=None))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_reason(error) == "TENANT_DISABLED"


def test_re_enabling_a_tenant_restores_its_tokens_and_sessions(api: ControlApi, tenant) -> None:
    f = open_file(api, *tenant, "d.docx")
    _set_enabled(api, tenant[0], False)
    assert _set_enabled(api, tenant[0], True).enabled
    assert check_file_info(f).status_code == 200
    assert check_file_info(open_file(api, *tenant, "d.docx", content=None)).status_code == 200


def test_disabling_one_tenant_leaves_another_tenants_tokens_working(api: ControlApi, tenant,
                                                                    other_tenant) -> None:
    others = open_file(api, *other_tenant, "o.docx")
    _set_enabled(api, tenant[0], False)
    assert check_file_info(others).status_code == 200


# -- DeleteTenant ---------------------------------------------------------------------------------


def test_delete_tenant_with_an_open_session_is_failed_precondition(api: ControlApi, tenant) -> None:
    f = open_file(api, *tenant, "open.docx")
    error = refusal(lambda: api.call(api.tenants.DeleteTenant, tenant_pb.DeleteTenantRequest(id=tenant[0])))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = status_detail(error, error_details_pb2.ErrorInfo)
    assert (info.reason, info.domain, dict(info.metadata)) == ("SESSIONS_OPEN", "wopi-proxy.control",
                                                               {"tenant_id": tenant[0]})
    assert get_tenant(api, tenant[0]).id == tenant[0]
    assert check_file_info(f).status_code == 200


def test_delete_tenant_with_force_removes_it_and_its_tokens(api: ControlApi, tenant) -> None:
    f = open_file(api, *tenant, "open.docx")
    api.call(api.tenants.DeleteTenant, tenant_pb.DeleteTenantRequest(id=tenant[0], force=True))
    error = refusal(lambda: get_tenant(api, tenant[0]))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error_reason(error) == "TENANT_NOT_FOUND"
    assert check_file_info(f).status_code == 401
    assert f.local_path.read_bytes() == b"hello"  # files in storage are not touched


def test_delete_tenant_whose_sessions_are_closed_needs_no_force(api: ControlApi, tenant) -> None:
    f = open_file(api, *tenant, "closed.docx")
    api.call(api.sessions.CloseSession, session_pb.CloseSessionRequest(id=f.session_id))
    api.call(api.tenants.DeleteTenant, tenant_pb.DeleteTenantRequest(id=tenant[0]))
    assert refusal(lambda: get_tenant(api, tenant[0])).code() == grpc.StatusCode.NOT_FOUND


def test_delete_of_a_missing_tenant_is_not_found(api: ControlApi) -> None:
    request = tenant_pb.DeleteTenantRequest(id="t-missing-" + secrets.token_hex(3), force=True)
    error = refusal(lambda: api.call(api.tenants.DeleteTenant, request))
    assert (error.code(), error_reason(error)) == (grpc.StatusCode.NOT_FOUND, "TENANT_NOT_FOUND")


def test_delete_tenant_stops_its_api_keys_at_once(api: ControlApi, tenant, as_tenant: ControlApi) -> None:
    as_tenant.call(as_tenant.sessions.ListSessions, session_pb.ListSessionsRequest())
    api.call(api.tenants.DeleteTenant, tenant_pb.DeleteTenantRequest(id=tenant[0], force=True))
    error = refusal(lambda: as_tenant.call(as_tenant.sessions.ListSessions, session_pb.ListSessionsRequest()))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


# -- API keys -------------------------------------------------------------------------------------


def test_create_api_key_returns_the_key_id_and_secret(api: ControlApi, tenant) -> None:
    reply = create_key(api, tenant[0], "erp backend")
    assert reply.key_id.startswith("key_")
    assert reply.api_key.startswith("wpk_") and len(reply.api_key) > 30
    assert (reply.key.id, reply.key.tenant_id, reply.key.role, reply.key.description) == (
        reply.key_id, tenant[0], key_pb.KEY_ROLE_TENANT, "erp backend")
    assert not reply.key.HasField("revoke_time")


def test_list_api_keys_never_shows_secrets(api: ControlApi, tenant) -> None:
    reply = create_key(api, tenant[0], "listed")
    listed = api.call(keys_stub(api).ListApiKeys, key_pb.ListApiKeysRequest(tenant_id=tenant[0]))
    assert [k.id for k in listed.keys] == [reply.key_id]
    assert reply.api_key.encode() not in listed.SerializeToString()
    assert reply.api_key.removeprefix("wpk_").encode() not in listed.SerializeToString()


def test_create_api_key_for_a_missing_tenant_is_not_found(api: ControlApi) -> None:
    error = refusal(lambda: create_key(api, "t-missing-" + secrets.token_hex(3)))
    assert (error.code(), error_reason(error)) == (grpc.StatusCode.NOT_FOUND, "TENANT_NOT_FOUND")


def test_list_api_keys_is_oldest_first(api: ControlApi, tenant) -> None:
    made = [create_key(api, tenant[0], f"k{i}").key_id for i in range(8)]
    listed = api.call(keys_stub(api).ListApiKeys, key_pb.ListApiKeysRequest(tenant_id=tenant[0]))
    assert [k.id for k in listed.keys] == made


def test_tenant_key_creates_storages_and_sessions_in_its_tenant_without_naming_it(
    as_tenant: ControlApi, tenant, server: WopiProxyProcess
) -> None:
    folder = server.workdir / "tenants" / tenant[0] / "own"  # inside the server's --tenant-file-base
    folder.mkdir(parents=True)
    (folder / "k.docx").write_bytes(b"key")
    storage = as_tenant.call(as_tenant.storages.CreateStorage, storage_pb.CreateStorageRequest(
        tenant_id=tenant[0], name="own", root=str(folder)))
    assert storage.tenant_id == tenant[0]
    reply = as_tenant.call(as_tenant.sessions.CreateSession, session_pb.CreateSessionRequest(
        storage="own", path="k.docx", user_id="u1"))
    assert reply.session.tenant_id == tenant[0]
    got = httpx.get(f"{reply.session.wopi_src}/contents", params={"access_token": reply.access_token})
    assert got.content == b"key"


def test_tenant_key_lists_only_its_own_sessions(api: ControlApi, as_tenant: ControlApi, tenant,
                                                 other_tenant) -> None:
    mine = open_file(api, *tenant, "mine.docx").session_id
    open_file(api, *other_tenant, "theirs.docx")
    listed = as_tenant.call(as_tenant.sessions.ListSessions, session_pb.ListSessionsRequest())
    assert [s.id for s in listed.sessions] == [mine]


def _same_shape(message: str, *ids: str) -> str:
    for value in ids:
        message = message.replace(value, "<id>")
    return message


FOREIGN_CALLS: dict[str, Callable[[ControlApi, str, str], Any]] = {
    # name -> call(client, tenant id, session id)
    "GetStorage": lambda c, t, s: c.call(c.storages.GetStorage,
                                         storage_pb.GetStorageRequest(tenant_id=t, name="docs")),
    "ListStorages": lambda c, t, s: c.call(c.storages.ListStorages,
                                           storage_pb.ListStoragesRequest(tenant_id=t)),
    "CreateStorage": lambda c, t, s: c.call(c.storages.CreateStorage, storage_pb.CreateStorageRequest(
        tenant_id=t, name="mine", root="/tmp")),
    "CreateSession": lambda c, t, s: c.call(c.sessions.CreateSession, session_pb.CreateSessionRequest(
        tenant_id=t, storage="docs", path="x.docx", user_id="u1")),
    "ListSessions": lambda c, t, s: c.call(c.sessions.ListSessions,
                                           session_pb.ListSessionsRequest(tenant_id=t)),
    "CleanupSessions": lambda c, t, s: c.call(c.sessions.CleanupSessions,
                                              session_pb.CleanupSessionsRequest(tenant_id=t, dry_run=True)),
    "GetSession": lambda c, t, s: c.call(c.sessions.GetSession, session_pb.GetSessionRequest(id=s)),
    "CloseSession": lambda c, t, s: c.call(c.sessions.CloseSession, session_pb.CloseSessionRequest(id=s)),
}


@pytest.mark.parametrize("method", sorted(FOREIGN_CALLS))
def test_another_tenants_id_looks_exactly_like_a_missing_one(
    api: ControlApi, as_tenant: ControlApi, other_tenant, method: str
) -> None:
    (other_tenant[1] / "x.docx").write_bytes(b"x")
    foreign_session = open_file(api, *other_tenant, "x.docx", content=None).session_id
    missing_tenant, missing_session = "t-missing-" + secrets.token_hex(3), "ses_" + secrets.token_urlsafe(12)
    call = FOREIGN_CALLS[method]
    foreign = refusal(lambda: call(as_tenant, other_tenant[0], foreign_session))
    missing = refusal(lambda: call(as_tenant, missing_tenant, missing_session))
    assert foreign.code() == missing.code() == grpc.StatusCode.NOT_FOUND
    assert error_reason(foreign) == error_reason(missing)
    foreign_info = status_detail(foreign, error_details_pb2.ErrorInfo)
    missing_info = status_detail(missing, error_details_pb2.ErrorInfo)
    assert foreign_info.metadata.keys() == missing_info.metadata.keys()
    assert (_same_shape(foreign.details() or "", other_tenant[0], foreign_session)
            == _same_shape(missing.details() or "", missing_tenant, missing_session))
    assert api.call(api.sessions.GetSession, session_pb.GetSessionRequest(id=foreign_session)).state == (
        session_pb.SESSION_STATE_OPEN)


ADMIN_ONLY: dict[str, Callable[[ControlApi, str], Any]] = {
    "CreateTenant": lambda c, t: c.call(c.tenants.CreateTenant, tenant_pb.CreateTenantRequest(
        id="t-" + secrets.token_hex(4), name="x")),
    "GetTenant": lambda c, t: c.call(c.tenants.GetTenant, tenant_pb.GetTenantRequest(id=t)),
    "ListTenants": lambda c, t: c.call(c.tenants.ListTenants, tenant_pb.ListTenantsRequest()),
    "UpdateTenant": lambda c, t: update(c, tenant_pb.Tenant(id=t, name="mine now"), "name"),
    "DeleteTenant": lambda c, t: c.call(c.tenants.DeleteTenant,
                                        tenant_pb.DeleteTenantRequest(id=t, force=True)),
    "CreateApiKey": lambda c, t: create_key(c, t),
    "ListApiKeys": lambda c, t: c.call(keys_stub(c).ListApiKeys, key_pb.ListApiKeysRequest(tenant_id=t)),
    "RevokeApiKey": lambda c, t: c.call(keys_stub(c).RevokeApiKey, key_pb.RevokeApiKeyRequest(id="key_0")),
}


@pytest.mark.parametrize("method", sorted(ADMIN_ONLY))
def test_admin_only_calls_are_permission_denied_to_a_tenant_key(
    api: ControlApi, as_tenant: ControlApi, tenant, method: str
) -> None:
    error = refusal(lambda: ADMIN_ONLY[method](as_tenant, tenant[0]))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_reason(error) == "PERMISSION_DENIED"
    assert get_tenant(api, tenant[0]).name == f"Tenant {tenant[0]}"


def test_revoked_key_is_unauthenticated_on_its_next_call(server: WopiProxyProcess, api: ControlApi,
                                                         tenant) -> None:
    reply = create_key(api, tenant[0])
    client = ControlApi(server.grpc_address, reply.api_key)
    try:
        client.call(client.sessions.ListSessions, session_pb.ListSessionsRequest())
        revoked = api.call(keys_stub(api).RevokeApiKey, key_pb.RevokeApiKeyRequest(id=reply.key_id))
        assert revoked.HasField("revoke_time")
        error = refusal(lambda: client.call(client.sessions.ListSessions, session_pb.ListSessionsRequest()))
        assert (error.code(), error_reason(error)) == (grpc.StatusCode.UNAUTHENTICATED, "API_KEY_INVALID")
    finally:
        client.close()


def test_revoking_a_revoked_key_is_a_no_op(api: ControlApi, tenant) -> None:
    key_id = create_key(api, tenant[0]).key_id
    first = api.call(keys_stub(api).RevokeApiKey, key_pb.RevokeApiKeyRequest(id=key_id))
    again = api.call(keys_stub(api).RevokeApiKey, key_pb.RevokeApiKeyRequest(id=key_id))
    assert again.revoke_time == first.revoke_time


def test_revoking_an_unknown_key_is_not_found(api: ControlApi) -> None:
    error = refusal(lambda: api.call(keys_stub(api).RevokeApiKey, key_pb.RevokeApiKeyRequest(id="key_nope")))
    assert (error.code(), error_reason(error)) == (grpc.StatusCode.NOT_FOUND, "API_KEY_NOT_FOUND")


def test_revoking_the_last_admin_key_is_failed_precondition(api: ControlApi) -> None:
    listed = api.call(keys_stub(api).ListApiKeys, key_pb.ListApiKeysRequest(page_size=1000)).keys
    live_admins = sorted(
        (k for k in listed if k.role == key_pb.KEY_ROLE_ADMIN and not k.HasField("revoke_time")),
        key=lambda k: k.create_time.ToNanoseconds())
    own = live_admins[0]  # the key of data/admin.key, made at the first start
    for other in live_admins[1:]:
        api.call(keys_stub(api).RevokeApiKey, key_pb.RevokeApiKeyRequest(id=other.id))
    error = refusal(lambda: api.call(keys_stub(api).RevokeApiKey, key_pb.RevokeApiKeyRequest(id=own.id)))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = status_detail(error, error_details_pb2.ErrorInfo)
    assert (info.reason, dict(info.metadata)) == ("LAST_ADMIN_KEY", {"key_id": own.id})
    api.call(api.tenants.ListTenants, tenant_pb.ListTenantsRequest())  # still valid


def test_a_second_admin_key_may_be_revoked(server: WopiProxyProcess, api: ControlApi) -> None:
    reply = create_key(api, "", "second operator")
    assert reply.key.role == key_pb.KEY_ROLE_ADMIN
    api.call(keys_stub(api).RevokeApiKey, key_pb.RevokeApiKeyRequest(id=reply.key_id))
    client = ControlApi(server.grpc_address, reply.api_key)
    try:
        error = refusal(lambda: client.call(client.tenants.ListTenants, tenant_pb.ListTenantsRequest()))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        client.close()


# -- the CLI --------------------------------------------------------------------------------------


def test_cli_keys_create_prints_the_key_id_and_secret(server: WopiProxyProcess, tenant) -> None:
    result = cli(server, "keys", "create", "--tenant-id", tenant[0], "--description", "from the cli",
                 "--json")
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert created["key_id"].startswith("key_") and created["api_key"].startswith("wpk_")
    assert (created["tenant_id"], created["role"]) == (tenant[0], "KEY_ROLE_TENANT")
    client = ControlApi(server.grpc_address, created["api_key"])
    try:
        client.call(client.sessions.ListSessions, session_pb.ListSessionsRequest())
    finally:
        client.close()


def test_cli_keys_list_shows_keys_without_secrets(server: WopiProxyProcess, api: ControlApi, tenant) -> None:
    reply = create_key(api, tenant[0], "listed by the cli")
    result = cli(server, "keys", "list", "--tenant-id", tenant[0], "--json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert [(k["id"], k["description"]) for k in listed] == [(reply.key_id, "listed by the cli")]
    assert reply.api_key not in result.stdout
    table = cli(server, "keys", "list", "--tenant-id", tenant[0]).stdout
    assert reply.key_id in table and reply.api_key not in table


def test_cli_keys_revoke_stops_the_key(server: WopiProxyProcess, api: ControlApi, tenant) -> None:
    reply = create_key(api, tenant[0])
    result = cli(server, "keys", "revoke", reply.key_id, "--json")
    assert result.returncode == 0, result.stderr
    assert re.match(r"\d{4}-\d\d-\d\dT", json.loads(result.stdout)["revoke_time"])
    client = ControlApi(server.grpc_address, reply.api_key)
    try:
        error = refusal(lambda: client.call(client.sessions.ListSessions, session_pb.ListSessionsRequest()))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        client.close()


def test_cli_keys_revoke_close_sessions_ends_the_sessions_the_key_opened(server: WopiProxyProcess, api: ControlApi,
                                                                        tenant) -> None:
    reply = create_key(api, tenant[0])
    client = ControlApi(server.grpc_address, reply.api_key)
    try:
        minted = open_file(client, tenant[0], tenant[1], "leaver.docx")
    finally:
        client.close()
    kept = open_file(api, tenant[0], tenant[1], "kept.docx")

    result = cli(server, "keys", "revoke", reply.key_id, "--close-sessions", "--json")

    assert result.returncode == 0, result.stderr
    assert (check_file_info(minted).status_code, check_file_info(kept).status_code) == (401, 200)
    listed = cli(server, "sessions", "list", "--tenant-id", tenant[0], "--created-by-key", reply.key_id, "--json")
    assert [(s["session_id"], s["state"]) for s in json.loads(listed.stdout)] == [
        (minted.session_id, "SESSION_STATE_CLOSED")], listed.stderr

"""The audit trail (control.services.audit and every service that writes it): who did what, when,
allowed or refused, and never a token."""

from __future__ import annotations

import logging
import urllib.parse
from pathlib import Path

import pytest
from sqlmodel import col, select

from control.db.models import AuditEvent, Storage, Tenant
from control.services import audit, sessions, storages, tenants, wopi_access
from control.services.context import Principal, ServiceContext
from shared.errors import AccessTokenInvalid, OperationNotPermitted, WopiProxyError
from tests.control.helpers import OTHER_TENANT, START_MS, TENANT, FakeClock, OpenSession, caller, write


async def audit_rows(ctx: ServiceContext, operation: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(col(AuditEvent.id))
    if operation is not None:
        query = query.where(AuditEvent.operation == operation)
    async with ctx.sessions() as db:
        return list((await db.exec(query)).all())


async def test_creating_a_tenant_is_audited_with_the_callers_key(
    ctx: ServiceContext, admin: Principal
) -> None:
    await tenants.create_tenant(ctx, admin, tenant_id="acme", name="Acme")

    [row] = await audit_rows(ctx, "CreateTenant")
    assert (row.time, row.actor, row.outcome, row.tenant_id) == (START_MS, "key:key_admin", "ok", "acme")


async def test_a_refused_create_tenant_writes_no_audit_row(ctx: ServiceContext, admin: Principal) -> None:
    await tenants.create_tenant(ctx, admin, tenant_id="acme", name="Acme")

    with pytest.raises(WopiProxyError):
        await tenants.create_tenant(ctx, admin, tenant_id="acme", name="Acme")

    assert len(await audit_rows(ctx, "CreateTenant")) == 1


async def test_creating_a_storage_is_audited(
    ctx: ServiceContext, acme_key: Principal, acme: Tenant, tenant_root: Path
) -> None:
    await storages.create_storage(ctx, acme_key, tenant_id=TENANT, name="docs", protocol="file",
                                  root=str(tenant_root), options={})

    [row] = await audit_rows(ctx, "CreateStorage")
    assert (row.actor, row.outcome, row.tenant_id) == ("key:key_acme", "ok", TENANT)
    assert "storage=docs" in row.detail


async def test_opening_a_session_is_audited_with_its_session_and_file(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    opened = await open_session(user_id="u-5", permission="view")

    [row] = await audit_rows(ctx, "CreateSession")
    assert (row.actor, row.outcome, row.tenant_id) == ("key:key_admin", "ok", TENANT)
    assert (row.session_id, row.file_id) == (opened.session.row.id, opened.session.row.file_id)
    assert "u-5" in row.detail and "view" in row.detail


async def test_closing_a_session_is_audited_once(
    ctx: ServiceContext, admin: Principal, clock: FakeClock, open_session: OpenSession
) -> None:
    opened = await open_session()
    clock.advance(seconds=9)

    await sessions.close_session(ctx, admin, session_id=opened.session.row.id)
    await sessions.close_session(ctx, admin, session_id=opened.session.row.id)

    [row] = await audit_rows(ctx, "CloseSession")
    assert (row.time, row.session_id, row.file_id) == (START_MS + 9000, opened.session.row.id,
                                                       opened.session.row.file_id)


async def test_an_authorized_request_is_audited_as_the_sessions_user(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    opened = await open_session(user_id="u-3")

    await wopi_access.authorize(ctx, caller(opened, client_address="192.0.2.7", correlation_id="corr-1"),
                                operation="GetFile")

    [row] = await audit_rows(ctx, "GetFile")
    assert (row.actor, row.outcome, row.tenant_id) == ("user:u-3", "ok", TENANT)
    assert (row.session_id, row.file_id) == (opened.session.row.id, opened.session.row.file_id)
    assert (row.client_address, row.correlation_id) == ("192.0.2.7", "corr-1")


async def test_a_refused_request_is_audited_as_denied_with_its_reason(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    opened = await open_session(permission="view")

    with pytest.raises(OperationNotPermitted):
        await wopi_access.authorize(ctx, caller(opened, correlation_id="corr-2"), operation="PutFile")

    [row] = await audit_rows(ctx, "PutFile")
    assert (row.outcome, row.file_id, row.correlation_id) == ("denied", opened.session.row.file_id, "corr-2")
    assert "OPERATION_NOT_PERMITTED" in row.detail


async def test_a_recorded_write_is_audited_with_its_size_and_version(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    opened = await open_session(user_id="u-4")

    await write(ctx, caller(opened), size=321)

    [row] = await audit_rows(ctx, "PutFile")
    assert (row.actor, row.outcome, row.size) == ("user:u-4", "ok", 321)
    assert "version=2" in row.detail


async def test_overlong_client_address_and_correlation_id_are_cut_not_refused(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    opened = await open_session()

    await wopi_access.authorize(ctx, caller(opened, client_address="a" * 500, correlation_id="c" * 500),
                                operation="GetFile")

    [row] = await audit_rows(ctx, "GetFile")
    assert (row.client_address, row.correlation_id) == ("a" * 64, "c" * 128)


async def test_a_refusal_for_an_overlong_file_id_is_still_audited(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    await open_session()

    with pytest.raises(AccessTokenInvalid):
        await wopi_access.authorize(ctx, wopi_access.Caller(access_token="unknown", file_id="f" * 500),
                                    operation="GetFile")

    [row] = await audit_rows(ctx, "GetFile")
    assert (row.outcome, row.file_id) == ("denied", "f" * 43)


async def _life_cycle(ctx: ServiceContext, admin: Principal, open_session: OpenSession, globex: Tenant,
                      docs: Storage, clock: FakeClock) -> list[str]:
    """Every audited path a token can take; returns the tokens issued."""
    await storages.create_storage(ctx, admin, tenant_id=OTHER_TENANT, name="docs", protocol="file",
                                  root=docs.root, options={})
    edit = await open_session()
    view = await open_session(permission="view", path="folder/sheet.xlsx")
    foreign = await open_session(tenant_id=OTHER_TENANT)
    short = await open_session(ttl_seconds=60)
    await wopi_access.authorize(ctx, caller(edit), operation="CheckFileInfo")
    await write(ctx, caller(edit), size=1)
    refusals = [
        (caller(view), "PutFile"),
        (caller(foreign, file_id=edit.session.row.file_id), "GetFile"),
        (caller(edit, file_id="no-such-file"), "GetFile"),
        (caller(edit, access_token=edit.access_token + "x"), "GetFile"),
    ]
    for who, operation in refusals:
        with pytest.raises(WopiProxyError):
            await wopi_access.authorize(ctx, who, operation=operation)
    await sessions.close_session(ctx, admin, session_id=edit.session.row.id)
    with pytest.raises(AccessTokenInvalid):
        await wopi_access.authorize(ctx, caller(edit), operation="GetFile")
    clock.advance(seconds=61)
    with pytest.raises(AccessTokenInvalid):
        await wopi_access.authorize(ctx, caller(short), operation="GetFile")
    return [o.access_token for o in (edit, view, foreign, short)]


async def test_no_audit_row_holds_an_access_token(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, globex: Tenant, docs: Storage,
    clock: FakeClock,
) -> None:
    tokens = await _life_cycle(ctx, admin, open_session, globex, docs, clock)

    rows = await audit_rows(ctx)
    assert len(rows) >= 14
    for row in rows:
        text = repr(row.model_dump())
        assert not [t for t in tokens if t in text], row


async def test_no_log_record_holds_an_access_token(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, globex: Tenant, docs: Storage,
    clock: FakeClock, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    tokens = await _life_cycle(ctx, admin, open_session, globex, docs, clock)

    assert not [t for t in tokens if t in caplog.text]


@pytest.mark.parametrize("chosen", ["ann version=9", "{version}", "a\tb", "x\ny", "ann,bob lock=0", "100%"])
def test_a_clients_value_in_a_detail_is_one_field_and_no_placeholder(chosen: str) -> None:
    shown = audit.detail_value(chosen)
    assert not set(shown) & set(" \t\n={}") and urllib.parse.unquote(shown) == chosen


def test_ordinary_user_ids_and_paths_read_as_they_are() -> None:
    assert audit.detail_value("ann@example.org,bob") == "ann@example.org,bob"
    assert audit.detail_value("docs/q3-report_v2.docx") == "docs/q3-report_v2.docx"

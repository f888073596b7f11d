"""Strings only one of the databases can hold. PostgreSQL's text types refuse NUL (U+0000),
SQLite's do not. Ids and audit fields come from callers (gRPC string fields, WOPI URLs that
decode %00), so one carrying a NUL must get the same answer on both databases: an unknown id
is not found, and the audit trail keeps what it can."""

from __future__ import annotations

import pytest

from control.db.models import Storage
from control.services import sessions, storages, tenants, wopi_access
from control.services.context import Principal, ServiceContext
from control.services.wopi_access import Caller
from shared.errors import StorageNotFound, TenantNotFound
from tests.control.helpers import STORAGE, TENANT, OpenSession, caller, outcomes

NUL = "\x00"
PSYCOPG_REFUSES = ("psycopg raises DataError 'PostgreSQL text fields cannot contain NUL (0x00) bytes', "
                   "which reaches the gRPC boundary as INTERNAL; SQLite answers as for any other value")


async def test_a_tenant_id_with_a_nul_is_tenant_not_found(ctx: ServiceContext, admin: Principal) -> None:
    with pytest.raises(TenantNotFound):
        await tenants.get_tenant(ctx, admin, tenant_id=f"{TENANT}{NUL}")


async def test_a_storage_name_with_a_nul_is_storage_not_found(
    ctx: ServiceContext, admin: Principal, docs: Storage
) -> None:
    with pytest.raises(StorageNotFound):
        await storages.get_storage(ctx, admin, tenant_id=TENANT, name=f"{STORAGE}{NUL}")


async def test_a_session_id_with_a_nul_is_session_not_found(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession
) -> None:
    opened = await open_session()
    session_id = opened.session.row.id + NUL
    calls = {
        "get": lambda: sessions.get_session(ctx, admin, session_id=session_id),
        "close": lambda: sessions.close_session(ctx, admin, session_id=session_id),
    }

    results = await outcomes(calls, lambda name: calls[name]())

    assert results == dict.fromkeys(calls, "SessionNotFound")


async def test_listing_the_sessions_of_a_tenant_id_with_a_nul_is_tenant_not_found(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession
) -> None:
    await open_session()

    with pytest.raises(TenantNotFound):
        await sessions.list_sessions(ctx, admin, tenant_id=f"{TENANT}{NUL}", page_size=0, page_token="")


async def test_a_wopi_file_id_with_a_nul_is_refused_like_an_unknown_one(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    opened = await open_session()
    callers = {
        "unknown token": Caller(access_token="unknown", file_id=opened.session.row.file_id + NUL),
        "valid token": caller(opened, file_id=opened.session.row.file_id + NUL),
    }

    results = await outcomes(callers,
                             lambda name: wopi_access.authorize(ctx, callers[name], operation="GetFile"))

    assert results == {"unknown token": "AccessTokenInvalid", "valid token": "FileNotFound"}


async def test_a_nul_in_the_callers_address_or_correlation_id_does_not_refuse_the_request(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    opened = await open_session()
    callers = {
        "client_address": caller(opened, client_address=f"192.0.2.1{NUL}"),
        "correlation_id": caller(opened, correlation_id=f"corr{NUL}"),
    }

    results = await outcomes(callers,
                             lambda name: wopi_access.authorize(ctx, callers[name], operation="GetFile"))

    assert results == dict.fromkeys(callers, "ok")

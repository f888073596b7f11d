"""Sessions and the API key that created them (control.services.keys.revoke_key): a session records
its key, RevokeApiKey leaves the key's sessions open by default (a rotated key's users keep
editing) and, with close_sessions, closes exactly that key's open sessions as CloseSession does.
Security review F5: an ex-employee's tenant key minted week-long sessions before it was revoked."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import col, select

from control.db import stores
from control.db.models import AuditEvent, Session, SessionEvent, Storage, Tenant
from control.services import keys, sessions, storages, wopi_access, wopi_changes
from control.services.access_tokens import hash_token
from control.services.context import Principal, ServiceContext
from control.services.keys import Authenticator
from control.services.sessions import OpenedSession
from shared.errors import AccessTokenInvalid, ApiKeyInvalid
from shared.wopi_operation import WopiOperation
from tests.control.helpers import OTHER_TENANT, STORAGE, TENANT, FakeClock, OpenSession, caller


async def new_key(ctx: ServiceContext, admin: Principal, tenant_id: str = TENANT) -> Principal:
    """A real key row (revoke_key reads it) and the principal its calls would carry."""
    row, _secret = await keys.create_key(ctx, admin, tenant_id=tenant_id, description="test")
    return Principal(key_id=row.id, role=row.role, tenant_id=row.tenant_id)


async def revoke(ctx: ServiceContext, admin: Principal, key: Principal, *, close_sessions: bool) -> None:
    await keys.revoke_key(ctx, admin, Authenticator(ctx), key_id=key.key_id, close_sessions=close_sessions)


async def close_times(ctx: ServiceContext, *opened: OpenedSession) -> list[int | None]:
    async with ctx.sessions() as db:
        rows = [await db.get(Session, o.session.row.id, populate_existing=True) for o in opened]
    return [row.close_time if row else -1 for row in rows]


async def closed_events(ctx: ServiceContext) -> list[str]:
    async with ctx.sessions() as db:
        found = (await db.exec(select(SessionEvent.session_id).where(SessionEvent.type == "closed"))).all()
    return sorted(found)


# -- recording the key --------------------------------------------------------------------------


async def test_a_session_records_the_key_that_created_it(
    ctx: ServiceContext, admin: Principal, docs: Storage, open_session: OpenSession
) -> None:
    key = await new_key(ctx, admin)

    opened = await open_session(principal=key)

    async with ctx.sessions() as db:
        row = await db.get(Session, opened.session.row.id)
    assert row is not None and row.created_by_key == key.key_id


async def test_a_save_as_session_records_the_key_of_its_source_session(
    ctx: ServiceContext, admin: Principal, docs: Storage, open_session: OpenSession
) -> None:
    """PutRelativeFile hands the editor a new token for the new file: it must end with the key too."""
    key = await new_key(ctx, admin)
    source = await open_session(principal=key)
    request = wopi_changes.WriteRequest(operation=WopiOperation.PUT_RELATIVE_FILE,
                                        staged=wopi_changes.Staged(size=5), target_path="copy.docx")
    begun = await wopi_changes.begin(ctx, caller(source), request)

    committed = await wopi_changes.commit(ctx, caller(source), intent_id=begun.intent_id)

    async with ctx.sessions() as db:
        derived = await stores.session_by_token_hash(db, token_hash=hash_token(committed.access_token))
    assert derived is not None and derived.id != source.session.row.id
    assert derived.created_by_key == key.key_id


async def test_list_sessions_filters_by_the_creating_key(
    ctx: ServiceContext, admin: Principal, docs: Storage, open_session: OpenSession
) -> None:
    key, other = await new_key(ctx, admin), await new_key(ctx, admin)
    mine = [await open_session(principal=key), await open_session(principal=key)]
    await open_session(principal=other)
    await open_session()

    views, _ = await sessions.list_sessions(ctx, admin, tenant_id=TENANT, page_size=0, page_token="",
                                            created_by_key=key.key_id)

    assert sorted(v.row.id for v in views) == sorted(o.session.row.id for o in mine)


async def test_a_key_revoked_after_it_was_authenticated_cannot_open_a_session(
    ctx: ServiceContext, admin: Principal, docs: Storage, open_session: OpenSession
) -> None:
    """Another replica's cache may honour the key a moment longer: the create itself re-checks it."""
    key = await new_key(ctx, admin)
    await revoke(ctx, admin, key, close_sessions=True)

    with pytest.raises(ApiKeyInvalid):
        await open_session(principal=key)
    async with ctx.sessions() as db:
        assert (await db.exec(select(Session).where(Session.created_by_key == key.key_id))).all() == []


# -- revoking -----------------------------------------------------------------------------------


async def test_revoking_without_close_sessions_leaves_the_keys_sessions_open(
    ctx: ServiceContext, admin: Principal, docs: Storage, open_session: OpenSession
) -> None:
    key = await new_key(ctx, admin)
    opened = await open_session(principal=key)

    await revoke(ctx, admin, key, close_sessions=False)

    assert await close_times(ctx, opened) == [None]
    assert await closed_events(ctx) == []


async def test_revoking_with_close_sessions_closes_exactly_that_keys_open_sessions(
    ctx: ServiceContext, clock: FakeClock, admin: Principal, docs: Storage, open_session: OpenSession
) -> None:
    key, other = await new_key(ctx, admin), await new_key(ctx, admin)
    mine = [await open_session(principal=key), await open_session(principal=key, path="folder/sheet.xlsx")]
    others = [await open_session(principal=other), await open_session()]  # another key's, the admin's
    clock.advance(seconds=5)

    await revoke(ctx, admin, key, close_sessions=True)

    assert await close_times(ctx, *mine, *others) == [clock.now_ms, clock.now_ms, None, None]


async def test_the_tokens_of_sessions_closed_with_their_key_are_refused_at_once(
    ctx: ServiceContext, admin: Principal, docs: Storage, open_session: OpenSession
) -> None:
    key = await new_key(ctx, admin)
    opened = await open_session(principal=key)
    await wopi_access.authorize(ctx, caller(opened), operation="CheckFileInfo")

    await revoke(ctx, admin, key, close_sessions=True)

    with pytest.raises(AccessTokenInvalid):
        await wopi_access.authorize(ctx, caller(opened), operation="CheckFileInfo")


async def test_revoking_with_close_sessions_emits_a_closed_event_per_session(
    ctx: ServiceContext, admin: Principal, docs: Storage, open_session: OpenSession
) -> None:
    key = await new_key(ctx, admin)
    mine = [await open_session(principal=key), await open_session(principal=key)]
    await open_session()

    await revoke(ctx, admin, key, close_sessions=True)

    assert await closed_events(ctx) == sorted(o.session.row.id for o in mine)


async def test_revoking_with_close_sessions_leaves_the_keys_closed_and_expired_sessions_alone(
    ctx: ServiceContext, clock: FakeClock, admin: Principal, docs: Storage, open_session: OpenSession
) -> None:
    key = await new_key(ctx, admin)
    closed = await open_session(principal=key)
    await sessions.close_session(ctx, admin, session_id=closed.session.row.id)
    expired = await open_session(principal=key, ttl_seconds=60)
    closed_at = clock.now_ms
    clock.advance(seconds=61)

    await revoke(ctx, admin, key, close_sessions=True)

    assert await close_times(ctx, closed, expired) == [closed_at, None]  # expiry's own job ends the other
    assert await closed_events(ctx) == [closed.session.row.id]


async def test_revoking_with_close_sessions_audits_the_number_closed(
    ctx: ServiceContext, admin: Principal, docs: Storage, open_session: OpenSession
) -> None:
    key = await new_key(ctx, admin)
    mine = [await open_session(principal=key), await open_session(principal=key)]

    await revoke(ctx, admin, key, close_sessions=True)

    async with ctx.sessions() as db:
        records = (await db.exec(select(AuditEvent).where(
            col(AuditEvent.operation).in_(["RevokeApiKey", "CloseSession"])).order_by(col(AuditEvent.id)))).all()
    assert [(r.operation, r.tenant_id, r.actor, r.session_id, r.detail) for r in records] == [
        *sorted(("CloseSession", TENANT, admin.actor, o.session.row.id, f"revoked key={key.key_id}") for o in mine),
        ("RevokeApiKey", TENANT, admin.actor, None, f"key={key.key_id} closed_sessions=2"),
    ]


async def test_revoking_a_revoked_key_with_close_sessions_closes_what_the_first_revocation_left_open(
    ctx: ServiceContext, clock: FakeClock, admin: Principal, docs: Storage, open_session: OpenSession
) -> None:
    """The operator rotated the key, then learned it had leaked: the second call ends its sessions."""
    key = await new_key(ctx, admin)
    opened = await open_session(principal=key)
    await revoke(ctx, admin, key, close_sessions=False)
    clock.advance(seconds=5)

    await revoke(ctx, admin, key, close_sessions=True)

    assert await close_times(ctx, opened) == [clock.now_ms]
    assert await closed_events(ctx) == [opened.session.row.id]


async def test_revoking_an_admin_key_with_close_sessions_closes_its_sessions_in_every_tenant(
    ctx: ServiceContext, clock: FakeClock, admin: Principal, docs: Storage, globex: Tenant, storage_root: Path,
    open_session: OpenSession
) -> None:
    await storages.create_storage(ctx, admin, tenant_id=OTHER_TENANT, name=STORAGE, protocol="file",
                                  root=str(storage_root), options={})
    await new_key(ctx, admin, tenant_id="")  # the operator's is not the last admin key
    operator = await new_key(ctx, admin, tenant_id="")
    opened = [await open_session(principal=operator), await open_session(principal=operator, tenant_id=OTHER_TENANT)]
    kept = await open_session()

    await revoke(ctx, admin, operator, close_sessions=True)

    assert await close_times(ctx, *opened, kept) == [clock.now_ms, clock.now_ms, None]

"""Editing sessions: one user, one file, one access token (kept only as a hash)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from control.db import pages, stores
from control.db.models import File, Session, Storage
from control.services import audit, validation
from control.services.access import require_tenant_visible
from control.services.context import Principal, ServiceContext
from control.services.keys import hash_secret
from control.services.storages import open_storage
from shared.errors import (
    InvalidArgument,
    SessionNotFound,
    StorageNotFound,
    TenantDisabled,
    TenantNotFound,
)
from shared.storage import normalize_relative_path

PERMISSIONS = ("view", "edit")


@dataclass(frozen=True)
class SessionView:
    """A session as callers see it: the row plus what is derived from it."""

    row: Session
    wopi_src: str
    state: str  # "open" | "closed" | "expired"


@dataclass(frozen=True)
class OpenedSession:
    session: SessionView
    access_token: str  # shown once; only its hash is stored

    @property
    def access_token_ttl(self) -> int:
        return self.session.row.expire_time


def view(ctx: ServiceContext, row: Session) -> SessionView:
    if row.close_time is not None:
        state = "closed"
    elif row.expire_time <= ctx.clock():
        state = "expired"
    else:
        state = "open"
    return SessionView(row=row, wopi_src=ctx.wopi_src(row.file_id), state=state)


async def _file_identity(db: AsyncSession, *, tenant_id: str, storage: Storage, path: str, now: int) -> File:
    """The one File row of (tenant, storage, path), made on first use."""
    assert storage.id is not None
    existing = await stores.file_by_path(db, tenant_id=tenant_id, storage_id=storage.id, path=path)
    if existing is not None:
        return existing
    row = File(id=secrets.token_urlsafe(16), tenant_id=tenant_id, storage_id=storage.id, path=path,
               version=1, create_time=now, update_time=now)
    try:
        async with db.begin_nested():
            await stores.add(db, row)
    except IntegrityError:  # another transaction made it first (PostgreSQL; SQLite serialises)
        existing = await stores.file_by_path(db, tenant_id=tenant_id, storage_id=storage.id, path=path)
        assert existing is not None
        return existing
    return row


async def create_session(
    ctx: ServiceContext,
    principal: Principal,
    *,
    tenant_id: str,
    storage_name: str,
    path: str,
    user_id: str,
    user_name: str,
    permission: str,
    ttl_seconds: int,
) -> OpenedSession:
    require_tenant_visible(principal, tenant_id)
    validation.storage_name(storage_name, "storage")
    path = normalize_relative_path(path)
    validation.text(user_id, "user_id", max_length=256)
    validation.text(user_name, "user_name", max_length=256, required=False)
    if permission not in PERMISSIONS:
        raise InvalidArgument("permission", "view or edit")
    ttl = validation.ttl_seconds(ttl_seconds, ctx.default_session_ttl_s)

    async with ctx.sessions() as db:
        tenant = await stores.get_tenant(db, tenant_id=tenant_id)
        if tenant is None:
            raise TenantNotFound(tenant_id)
        if not tenant.enabled:
            raise TenantDisabled(tenant_id)
        storage = await stores.get_storage(db, tenant_id=tenant_id, name=storage_name)
        if storage is None:
            raise StorageNotFound(tenant_id, storage_name)
    # Outside the transaction: storage I/O must not hold the database lock.
    await open_storage(storage).stat(path)  # FileNotFound, PathOutsideRoot (symlinks) raise here

    token = secrets.token_urlsafe(32)
    now = ctx.clock()
    async with ctx.transaction() as db:
        file = await _file_identity(db, tenant_id=tenant_id, storage=storage, path=path, now=now)
        row = Session(
            id="ses_" + secrets.token_urlsafe(12), tenant_id=tenant_id, file_id=file.id,
            storage_name=storage_name, path=path, user_id=user_id, user_name=user_name or user_id,
            permission=permission, token_hash=hash_secret(token), create_time=now,
            expire_time=now + ttl * 1000,
        )
        await stores.add(db, row)
        await audit.record(db, time=now, actor=principal.actor, operation="CreateSession", outcome="ok",
                           tenant_id=tenant_id, session_id=row.id, file_id=file.id,
                           detail=f"user={user_id} permission={permission}")
    return OpenedSession(session=view(ctx, row), access_token=token)


async def get_session(ctx: ServiceContext, principal: Principal, *, session_id: str) -> SessionView:
    async with ctx.sessions() as db:
        row = await stores.get_session(db, session_id=session_id)
    if row is None or (not principal.is_admin and row.tenant_id != principal.tenant_id):
        raise SessionNotFound(session_id)
    return view(ctx, row)


async def list_sessions(
    ctx: ServiceContext, principal: Principal, *, tenant_id: str, page_size: int, page_token: str
) -> tuple[Sequence[SessionView], str]:
    if tenant_id:
        require_tenant_visible(principal, tenant_id)
    scope = tenant_id or (None if principal.is_admin else principal.tenant_id)
    limit = pages.page_size(page_size)
    after = pages.decode(page_token)
    if after is not None and not (isinstance(after, list) and len(after) == 2):
        raise InvalidArgument("page_token", "not a token returned by this API")
    async with ctx.sessions() as db:
        rows = await stores.list_sessions(db, tenant_id=scope, after=tuple(after) if after else None,
                                          limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    token = pages.encode([rows[-1].create_time, rows[-1].id]) if more else ""
    return [view(ctx, r) for r in rows], token


async def close_session(ctx: ServiceContext, principal: Principal, *, session_id: str) -> SessionView:
    now = ctx.clock()
    async with ctx.transaction() as db:
        row = await stores.get_session(db, session_id=session_id)
        if row is None or (not principal.is_admin and row.tenant_id != principal.tenant_id):
            raise SessionNotFound(session_id)
        if row.close_time is None:
            row.close_time = now
            db.add(row)
            await audit.record(db, time=now, actor=principal.actor, operation="CloseSession", outcome="ok",
                               tenant_id=row.tenant_id, session_id=row.id, file_id=row.file_id)
    return view(ctx, row)

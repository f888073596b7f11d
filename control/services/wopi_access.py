"""The edge's questions: may this token do this operation on this file, and a write is done.

Every answer is audited in the same transaction, denials included, so a WOPI request costs
the edge a single round trip.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from control.db import stores
from control.db.models import File, Session, Storage
from control.services import audit
from control.services.context import ServiceContext
from control.services.keys import hash_secret
from control.services.storages import storage_options
from shared.errors import (
    AccessTokenInvalid,
    FileNotFound,
    OperationNotPermitted,
    TenantDisabled,
    WopiProxyError,
)

# WOPI operations that change the file or its lock; a view session may not do them.
WRITE_OPERATIONS = frozenset({
    "PutFile", "PutRelativeFile", "Lock", "Unlock", "RefreshLock", "UnlockAndRelock",
    "RenameFile", "DeleteFile", "PutUserInfo",
})


@dataclass(frozen=True)
class Caller:
    """The editor's side of a WOPI request, as the edge reports it."""

    access_token: str
    file_id: str
    client_address: str = ""
    correlation_id: str = ""


@dataclass(frozen=True)
class Grant:
    session: Session
    file: File
    storage: Storage

    @property
    def can_write(self) -> bool:
        return self.session.permission == "edit"

    @property
    def storage_options(self) -> dict[str, str]:
        return storage_options(self.storage)


async def _resolve(db: AsyncSession, ctx: ServiceContext, caller: Caller, operation: str) -> Grant:
    session = await stores.session_by_token_hash(db, token_hash=hash_secret(caller.access_token))
    now = ctx.clock()
    if session is None or session.close_time is not None or session.expire_time <= now:
        raise AccessTokenInvalid()
    if session.file_id != caller.file_id:
        # A file id that names no file at all is 404 (WOPI "file unknown"); a real file the
        # token was not issued for is 401, like any foreign token.
        if await stores.get_file(db, file_id=caller.file_id) is None:
            raise FileNotFound(caller.file_id)
        raise AccessTokenInvalid("the access token is not valid for this file")
    tenant = await stores.get_tenant(db, tenant_id=session.tenant_id)
    if tenant is None or not tenant.enabled:
        raise TenantDisabled(session.tenant_id)
    file = await stores.get_file(db, file_id=session.file_id)
    storage = await stores.get_storage_by_id(db, storage_id=file.storage_id) if file else None
    if file is None or storage is None:
        raise AccessTokenInvalid("the session's file or storage is gone")
    if operation in WRITE_OPERATIONS and session.permission != "edit":
        raise OperationNotPermitted(operation)
    return Grant(session=session, file=file, storage=storage)


async def _audit_denial(ctx: ServiceContext, caller: Caller, operation: str, error: WopiProxyError) -> None:
    async with ctx.transaction() as db:
        await audit.record(db, time=ctx.clock(), actor="token", operation=operation, outcome="denied",
                           file_id=caller.file_id[:43], detail=error.reason,
                           client_address=caller.client_address, correlation_id=caller.correlation_id)


async def authorize(ctx: ServiceContext, caller: Caller, *, operation: str) -> Grant:
    try:
        async with ctx.transaction() as db:
            grant = await _resolve(db, ctx, caller, operation)
            await audit.record(db, time=ctx.clock(), actor=f"user:{grant.session.user_id}", operation=operation,
                               outcome="ok", tenant_id=grant.session.tenant_id, session_id=grant.session.id,
                               file_id=grant.file.id, client_address=caller.client_address,
                               correlation_id=caller.correlation_id)
    except WopiProxyError as error:
        await _audit_denial(ctx, caller, operation, error)
        raise
    return grant


async def record_write(ctx: ServiceContext, caller: Caller, *, size: int, sha256: str) -> int:
    """Advances the file's version after new content was swapped in; returns the new version."""
    try:
        async with ctx.transaction() as db:
            grant = await _resolve(db, ctx, caller, "PutFile")
            now = ctx.clock()
            version = await stores.bump_file_version(db, file_id=grant.file.id, size=size, sha256=sha256, now=now)
            await audit.record(db, time=now, actor=f"user:{grant.session.user_id}", operation="PutFile",
                               outcome="ok", tenant_id=grant.session.tenant_id, session_id=grant.session.id,
                               file_id=grant.file.id, size=size, detail=f"version={version}",
                               client_address=caller.client_address, correlation_id=caller.correlation_id)
    except WopiProxyError as error:
        await _audit_denial(ctx, caller, "PutFile", error)
        raise
    return version

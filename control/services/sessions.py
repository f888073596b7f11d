"""Editing sessions: one user, one file, one access token (kept only as a hash)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control.db import pages, stores
from control.db.models import ApiKey, Editor, LaunchCode, Session, Tenant
from control.services import (
    access_tokens, audit, bridge_admin, events, file_identity, file_size, launch_codes, tenant_limits, validation,
)
from control.services.access import require_tenant_visible
from control.services.context import Principal, ServiceContext
from control.services.editors import EditorRegistry
from control.services.editors import choose as choose_editor
from control.services.keys import hash_secret
from control.services.storages import open_storage
from shared.errors import (
    ApiKeyInvalid,
    FailedPrecondition,
    FileNotFound,
    InvalidArgument,
    LaunchCodeInvalid,
    SessionNotFound,
    StorageNotFound,
    TenantDisabled,
    TenantNotFound,
)
from shared.storage import FsspecStorage, normalize_relative_path

PERMISSIONS = ("view", "edit")


@dataclass(frozen=True)
class SessionView:
    """A session as callers see it: the row plus what is derived from it."""

    row: Session
    wopi_src: str
    state: str  # "open" | "closed" | "expired"
    editor_name: str = ""


@dataclass(frozen=True)
class OpenedSession:
    session: SessionView
    access_token: str  # shown once; only its hash is stored
    editor_name: str = ""
    editor_action_url: str = ""
    host_page_url: str = ""  # with a single-use launch code

    @property
    def editor_url(self) -> str:
        return self.host_page_url

    @property
    def editor_form(self) -> dict[str, str]:
        """What the application POSTs to the action URL: the token never goes into a URL."""
        if not self.editor_action_url:
            return {}
        return {"access_token": self.access_token, "access_token_ttl": str(self.access_token_ttl)}

    @property
    def access_token_ttl(self) -> int:
        return self.session.row.expire_time



def view(ctx: ServiceContext, row: Session, editor_name: str = "") -> SessionView:
    if row.close_time is not None:
        # CleanupSessions closes expired sessions at their expiry time: they stay "expired".
        state = "expired" if row.close_time == row.expire_time else "closed"
    elif row.expire_time <= ctx.clock():
        state = "expired"
    else:
        state = "open"
    return SessionView(row=row, wopi_src=ctx.wopi_src(row.file_id), state=state, editor_name=editor_name)


async def _editor_names(db: AsyncSession, rows: Sequence[Session]) -> dict[int, str]:
    ids = {r.editor_id for r in rows if r.editor_id is not None}
    if not ids:
        return {}
    # Names only: a row holds the editor's discovery document too (up to 5 MiB).
    found = (await db.exec(select(Editor.id, Editor.name).where(col(Editor.id).in_(ids)))).all()
    return {editor_id: name for editor_id, name in found if editor_id is not None}


MAX_ORIGIN_ENTRIES = 20


def _check_origin(origin: Mapping[str, str]) -> dict[str, str]:
    if len(origin) > MAX_ORIGIN_ENTRIES:
        raise InvalidArgument("origin", f"at most {MAX_ORIGIN_ENTRIES} entries")
    for key, value in origin.items():
        validation.text(key, "origin", max_length=64)
        validation.text(value, "origin", max_length=500, required=False)
    return dict(origin)


async def _ensure_file(storage: FsspecStorage, path: str, *, create: bool, template_path: str, limit: int) -> None:
    """The file must exist, unless `create`: then it is made empty or copied from the template,
    which may be no larger than a save could make the file (`limit`)."""
    kind = await storage.kind(path)
    if kind == "file":
        return
    if not create:
        raise FileNotFound(path)
    if kind == "folder":  # nothing can be created there (and no file identity is made)
        raise FailedPrecondition("PATH_IS_FOLDER", f"{path!r} is a folder, not a file", path=path)
    if template_path:
        template = normalize_relative_path(template_path, field="template_path")
        opened = await storage.open_read(template)
        await storage.write_atomic(path, opened.chunks, limit=limit)
    else:
        await storage.write_atomic(path, _nothing(), limit=0)


async def _nothing() -> AsyncIterator[bytes]:
    """An empty body: a created file starts with no bytes."""
    empty: tuple[bytes, ...] = ()
    for chunk in empty:
        yield chunk


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
    account: str = "",
    origin: Mapping[str, str] | None = None,
    create: bool = False,
    template_path: str = "",
    editor: str = "",
    language: str = "",
    editors: EditorRegistry | None = None,
) -> OpenedSession:
    if not tenant_id:
        raise InvalidArgument("tenant_id", "required with the admin key")
    require_tenant_visible(principal, tenant_id)
    validation.storage_name(storage_name, "storage")
    path = normalize_relative_path(path)
    validation.text(user_id, "user_id", max_length=256)
    validation.text(user_name, "user_name", max_length=256, required=False)
    validation.text(account, "account", max_length=200, required=False)
    validation.text(language, "language", max_length=35, required=False)
    origin_map = _check_origin(origin or {})
    if permission not in PERMISSIONS:
        raise InvalidArgument("permission", "view or edit")

    async with ctx.sessions() as db:
        tenant = await stores.get_tenant(db, tenant_id=tenant_id)
        if tenant is None:
            raise TenantNotFound(tenant_id)
        if not tenant.enabled:
            raise TenantDisabled(tenant_id)
        storage = await stores.get_storage(db, tenant_id=tenant_id, name=storage_name)
        if storage is None:
            raise StorageNotFound(tenant_id, storage_name)
    ttl = validation.ttl_seconds(ttl_seconds, tenant.default_session_ttl_s or ctx.default_session_ttl_s)
    # Outside the transaction: storage I/O must not hold the database lock.
    files = open_storage(ctx, storage)
    files.full_path(path)  # PathOutsideRoot (symlinks) before anything is created
    await _ensure_file(files, path, create=create, template_path=template_path,
                       limit=file_size.max_file_size_or_default(storage, tenant))
    await files.stat(path)

    minted = access_tokens.mint()
    token = minted.token
    now = ctx.clock()
    launch_code, choice = "", None
    async with ctx.transaction() as db:
        await _require_key_live(db, principal)
        # Read again, held: a tenant or storage deleted (or the tenant disabled) since the check above
        # gets no session (stores.hold_tenant).
        held = await stores.hold_tenant(db, tenant_id=tenant_id)
        if held is None or held.incarnation != tenant.incarnation:
            raise TenantNotFound(tenant_id)
        if not held.enabled:
            raise TenantDisabled(tenant_id)
        if await stores.hold_storage(db, storage_id=storage.id) is None:
            raise StorageNotFound(tenant_id, storage_name)
        if not principal.is_admin:
            await tenant_limits.require_session_room(db, tenant_id=tenant_id, maximum=ctx.limits.open_sessions,
                                                     now=now)
        file = await file_identity.file_identity(db, tenant_id=tenant_id, storage=storage, path=path, now=now)
        if editors is not None:
            choice = await choose_editor(db, editors, tenant=tenant, name=editor, path=path,
                                         want_edit=permission == "edit", wopi_src=ctx.wopi_src(file.id),
                                         language=language or "en-US")
        elif editor:
            raise InvalidArgument("editor", "editors are not configured in this control plane")
        row = Session(
            id=access_tokens.new_session_id(), tenant_id=tenant_id, file_id=file.id,
            storage_name=storage_name, path=path, user_id=user_id, user_name=user_name or user_id,
            permission=permission, account=account, origin_json=json.dumps(origin_map, sort_keys=True),
            editor_id=choice.editor.id if choice else None, created_by_key=principal.key_id,
            token_hash=minted.token_hash, create_time=now, expire_time=now + ttl * 1000,
        )
        await stores.add(db, row)
        if choice is not None:
            launch_code = launch_codes.issue(db, session=row, access_token=token, action=choice.action_url,
                                             favicon_url=choice.favicon_url, now=now,
                                             ttl_ms=ctx.launch_code_ttl_s * 1000)
        await events.emit(db, type="opened", session=row, now=now, version=file.version)
        await audit.record(db, time=now, actor=principal.actor, operation="CreateSession", outcome="ok",
                           tenant_id=tenant_id, session_id=row.id, file_id=file.id,
                           detail=f"user={user_id} permission={permission} account={account}")
    if choice is None:
        return OpenedSession(session=view(ctx, row), access_token=token)
    return OpenedSession(session=view(ctx, row, choice.editor.name), access_token=token, editor_name=choice.editor.name,
                         editor_action_url=choice.action_url,
                         host_page_url=launch_codes.host_page_url(ctx.wopi_base_url, launch_code))


async def _require_key_live(db: AsyncSession, principal: Principal) -> None:
    """The caller's key, share-locked (PostgreSQL) until the session is committed: a RevokeApiKey
    with close_sessions either commits first (the key is refused here) or waits for this session
    and closes it too. The authenticator's cache may still hold a key revoked a moment ago."""
    key = await db.get(ApiKey, principal.key_id, with_for_update={"read": True})
    if key is not None and key.revoke_time is not None:
        raise ApiKeyInvalid()


async def redeem_launch_code(ctx: ServiceContext, *, launch_code: str, client_address: str
                             ) -> tuple[LaunchCode, Session, Tenant]:
    """Single use: the row (and the token copy in it) is gone once redeemed."""
    now = ctx.clock()
    async with ctx.transaction() as db:
        code = await db.get(LaunchCode, hash_secret(launch_code)) if launch_code else None
        if code is None or not await stores.take_once(db, LaunchCode, code.code_hash):
            raise LaunchCodeInvalid()  # none, or another redemption took it first
        session = await stores.get_session(db, session_id=code.session_id, tenant_id=None)  # the edge's call
        tenant = await stores.get_tenant(db, tenant_id=session.tenant_id) if session else None
        valid = (code.expire_time > now and session is not None and session.close_time is None
                 and session.expire_time > now and tenant is not None and tenant.enabled)
        if valid:
            assert session is not None
            await audit.record(db, time=now, actor=f"user:{session.user_id}", operation="OpenHostPage",
                               outcome="ok", tenant_id=session.tenant_id, session_id=session.id,
                               file_id=session.file_id, client_address=client_address)
    if not valid:
        raise LaunchCodeInvalid()
    assert session is not None and tenant is not None
    return code, session, tenant


async def editor_kind(ctx: ServiceContext, session: Session) -> str:
    """The session editor's kind: "wopi" or a bridged app's (the host page's choice of path)."""
    if session.editor_id is None:
        return "wopi"
    async with ctx.read() as db:
        kind = (await db.exec(select(Editor.kind).where(Editor.id == session.editor_id))).first()
    return kind or "wopi"


async def _require_tenant_exists(ctx: ServiceContext, tenant_id: str | None) -> None:
    """A filter on a tenant that does not exist is NOT_FOUND, not an empty answer."""
    if tenant_id is None:
        return
    async with ctx.sessions() as db:
        if await stores.get_tenant(db, tenant_id=tenant_id) is None:
            raise TenantNotFound(tenant_id)


def _own(principal: Principal) -> str | None:
    """The tenant whose rows the caller reads (None: the admin reads any); a key of no tenant reads none."""
    return None if principal.is_admin else (principal.tenant_id or "")


async def get_session(ctx: ServiceContext, principal: Principal, *, session_id: str) -> SessionView:
    if not validation.is_lookup_id(session_id):
        raise SessionNotFound(validation.printable(session_id, 40))
    async with ctx.sessions() as db:
        row = await stores.get_session(db, session_id=session_id, tenant_id=_own(principal))
        names = await _editor_names(db, [row]) if row else {}
    if row is None or row.internal:
        raise SessionNotFound(session_id)
    return view(ctx, row, names.get(row.editor_id or 0, ""))


async def list_sessions(
    ctx: ServiceContext, principal: Principal, *, tenant_id: str, page_size: int, page_token: str,
    user_id: str = "", file_id: str = "", state: str = "", created_by_key: str = "",
) -> tuple[Sequence[SessionView], str]:
    if tenant_id:
        require_tenant_visible(principal, tenant_id)
    # Filters reach the query: a NUL failed in PostgreSQL's driver (an internal error), and a
    # filter longer than any value it could match is a mistake worth saying.
    for value, field, longest in ((user_id, "user_id", 256), (file_id, "file_id", 64),
                                  (created_by_key, "created_by_key", 64)):
        validation.text(value, field, max_length=longest, required=False)
    scope = tenant_id or (None if principal.is_admin else principal.tenant_id)
    limit = pages.page_size(page_size)
    await _require_tenant_exists(ctx, scope)
    after = pages.decode_time_and_id(page_token)
    async with ctx.sessions() as db:
        rows = await stores.list_sessions(db, tenant_id=scope, after=after,
                                          limit=limit + 1, user_id=user_id or None, file_id=file_id or None,
                                          state=state or None, created_by_key=created_by_key or None,
                                          now=ctx.clock())
        names = await _editor_names(db, rows)
    more = len(rows) > limit
    rows = rows[:limit]
    token = pages.encode([rows[-1].create_time, rows[-1].id]) if more else ""
    return [view(ctx, r, names.get(r.editor_id or 0, "")) for r in rows], token


async def close_session(ctx: ServiceContext, principal: Principal, *, session_id: str) -> SessionView:
    if not validation.is_lookup_id(session_id):
        raise SessionNotFound(validation.printable(session_id, 40))
    now = ctx.clock()
    async with ctx.transaction() as db:
        row = await stores.get_session(db, session_id=session_id, tenant_id=_own(principal))
        if row is not None:  # locked, then read again: an expiry or cleanup ending it meanwhile is seen
            row = await db.get(Session, row.id, with_for_update=True, populate_existing=True)
        if row is None or row.internal:  # the bridge's own session ends with its document
            raise SessionNotFound(session_id)
        if row.close_time is None:
            await close_open_sessions(db, ctx, [row], actor=principal.actor, now=now)
    return view(ctx, row)


async def close_open_sessions(db: AsyncSession, ctx: ServiceContext, rows: Sequence[Session], *, actor: str,
                              now: int, detail: str = "") -> None:
    """Closes open sessions in the caller's transaction, each as CloseSession does: its close time,
    its "closed" event (WatchSessionEvents, the tenant's webhook) and its CloseSession audit record;
    then the bridge revokes their participations. Rows locked by the caller, ordered by tenant
    (each event locks its tenant's chain: one order for every such transaction)."""
    for row in rows:
        row.close_time = now
        db.add(row)
        await events.emit(db, type="closed", session=row, now=now)
        await audit.record(db, time=now, actor=actor, operation="CloseSession", outcome="ok",
                           tenant_id=row.tenant_id, session_id=row.id, file_id=row.file_id, detail=detail)
    if rows:
        await bridge_admin.sessions_ended(db, ctx, rows, now)


async def cleanup_sessions(ctx: ServiceContext, principal: Principal, *, tenant_id: str,
                           dry_run: bool) -> list[SessionView]:
    """Ends expired sessions: each gets its close time and an "expired" event. Idempotent.

    In transactions of at most CLEANUP_BATCH sessions, each with its own audit records: a tenant
    may hold 10,000 open sessions, and ending them all in one transaction held SQLite's write lock
    (every tenant's WOPI writes) for seconds."""
    if tenant_id:
        require_tenant_visible(principal, tenant_id)
    scope = tenant_id or (None if principal.is_admin else principal.tenant_id)
    await _require_tenant_exists(ctx, scope)
    now = ctx.clock()
    if dry_run:
        async with ctx.read() as db:
            rows = list(await stores.expired_open_sessions(db, tenant_id=scope, now=now))
    else:
        rows = []
        while True:
            batch = await _end_expired_batch(ctx, principal, scope, now)
            rows += batch
            if len(batch) < CLEANUP_BATCH:
                break
    return [SessionView(row=r, wopi_src=ctx.wopi_src(r.file_id), state="expired") for r in rows]


CLEANUP_BATCH = 500


async def _end_expired_batch(ctx: ServiceContext, principal: Principal, scope: str | None,
                             now: int) -> Sequence[Session]:
    async with ctx.transaction() as db:
        # Locked, skipping those the expiry job is ending right now: a session read unlocked could
        # be ended by both, with two "expired" events (review m).
        rows = await stores.expired_open_sessions(db, tenant_id=scope, now=now, skip_locked=True,
                                                  limit=CLEANUP_BATCH)
        if not rows:
            return rows
        await _lock_chains_in_order(db, {row.tenant_id for row in rows} | {audit.chain_of(scope)})
        for row in rows:
            row.close_time = row.expire_time
            db.add(row)
            await events.emit(db, type="expired", session=row, now=now)
        # Each tenant's trail says its sessions were ended (an operator-wide cleanup too), and
        # the caller's chain what it did in all.
        per_tenant: dict[str, int] = {}
        for row in rows:
            per_tenant[row.tenant_id] = per_tenant.get(row.tenant_id, 0) + 1
        if scope is None:
            for owner in sorted(per_tenant):
                await audit.record(db, time=now, actor=principal.actor, operation="CleanupSessions",
                                   outcome="ok", tenant_id=owner, detail=f"expired={per_tenant[owner]}")
        await audit.record(db, time=now, actor=principal.actor, operation="CleanupSessions", outcome="ok",
                           tenant_id=scope, detail=f"expired={len(rows)}"
                           + (f" tenants={len(per_tenant)}" if scope is None else ""))
        await bridge_admin.sessions_ended(db, ctx, rows, now)
    return rows


async def _lock_chains_in_order(db: AsyncSession, chains: set[str]) -> None:
    """The audit chains a cleanup will extend, locked up front in sorted order, as the decision
    writer locks its batches' chains (control.db.audit_sync): the sessions of several tenants,
    in expiry order, locked them in any order, and PostgreSQL could deadlock the two."""
    for chain in sorted(chains):
        await audit.lock_chain(db, chain)


EXPIRY_ACTOR = "system:session-expiry"
EXPIRY_BATCH = 500


async def expire_due_sessions(ctx: ServiceContext) -> int:
    """The control plane's own CleanupSessions (every tenant, no cron needed): each expired
    session gets its "expired" event, which the tenant's webhook then delivers. Rows another
    control plane is expiring are skipped (PostgreSQL; SQLite transactions are exclusive)."""
    now = ctx.clock()
    async with ctx.transaction() as db:
        rows = await stores.expired_open_sessions(db, tenant_id=None, now=now, skip_locked=True, limit=EXPIRY_BATCH)
        await _lock_chains_in_order(db, {row.tenant_id for row in rows})
        per_tenant: dict[str, int] = {}
        for row in rows:
            row.close_time = row.expire_time
            db.add(row)
            await events.emit(db, type="expired", session=row, now=now)
            per_tenant[row.tenant_id] = per_tenant.get(row.tenant_id, 0) + 1
        for tenant_id, count in per_tenant.items():
            await audit.record(db, time=now, actor=EXPIRY_ACTOR, operation="CleanupSessions", outcome="ok",
                               tenant_id=tenant_id, detail=f"expired={count}")
        await bridge_admin.sessions_ended(db, ctx, rows, now)
    return len(rows)

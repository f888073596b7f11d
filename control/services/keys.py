"""API keys: generation, the first admin key, and authentication of gRPC calls."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import time
from pathlib import Path

from collections.abc import Sequence

from sqlmodel import col, select

from control.db import pages, replica_store, stores
from control.db.models import ApiKey, Session
from control.services import audit, validation
from control.services.access import require_admin
from control.services.context import Principal, ServiceContext
from shared.errors import (
    ApiKeyInvalid, ApiKeyNotFound, FailedPrecondition, InvalidArgument, TenantDisabled, TenantNotFound,
)

log = logging.getLogger(__name__)

KEY_PREFIX = "wpk_"
AUTH_CACHE_SECONDS = 5.0  # the longest a key's cached answer is used
AUTH_COUNTER = "auth"  # the change counter of keys and tenants (control.services.replicas)
CONFIRMED_FOR_S = 0.75  # the cache is used only this long after the counter was last read


def hash_secret(secret: str) -> str:
    """Keys and tokens carry 256 random bits, so a plain SHA-256 is a safe one-way hash."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


ROLES = ("admin", "tenant", "edge")


def _write_private(path: Path, secret: str) -> None:
    """The key file, mode 0600 from its creation on (never readable by others, not even briefly)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
    os.chmod(path, 0o600)


async def ensure_admin_key(ctx: ServiceContext, data_dir: Path) -> str | None:
    """On the first start with an empty database, creates the admin key and writes it to
    <data-dir>/admin.key (mode 0600). Returns the key file's path when it made one."""
    async with ctx.transaction() as db:
        if await stores.count_api_keys(db) > 0:
            return None
        secret = new_key_secret()
        row = ApiKey(id="key_" + secrets.token_hex(8), key_hash=hash_secret(secret), role="admin",
                     create_time=ctx.clock())
        await stores.add(db, row)
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / "admin.key"
        _write_private(path, secret)
    log.info("created the admin API key in %s (only its hash is stored)", path)
    return str(path)


EDGE_KEY_FILE = "edge.key"


async def ensure_edge_key(ctx: ServiceContext, data_dir: Path) -> Path:
    """Makes <data-dir>/edge.key (mode 0600) unless it exists: a key of role "edge", which may call
    only the internal EdgeService, for the edges of this control plane (`serve` uses it too).
    The file appears only once its key is committed, so a failed start leaves no dead key file."""
    path = data_dir / EDGE_KEY_FILE
    if path.exists():
        return path
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = new_key_secret()
    pending = data_dir / f".{EDGE_KEY_FILE}.{secrets.token_hex(4)}.tmp"
    _write_private(pending, secret)
    try:
        now = ctx.clock()
        async with ctx.transaction() as db:
            row = ApiKey(id="key_" + secrets.token_hex(8), key_hash=hash_secret(secret), role="edge",
                         description=f"edge key of {path}", create_time=now)
            await stores.add(db, row)
            await audit.record(db, time=now, actor="system:startup", operation="CreateApiKey", outcome="ok",
                               detail=f"key={row.id} role=edge")
        os.replace(pending, path)
    finally:
        pending.unlink(missing_ok=True)
    log.info("created an edge API key in %s (only its hash is stored)", path)
    return path


class Authenticator:
    """Resolves `authorization: Bearer <key>` to a Principal, with a short cache so the hot
    path (the edge's AuthorizeWopiRequest) does not read the key table on every call.

    A tenant key works only while its tenant exists and is enabled. Revoking a key and updating
    or deleting a tenant bump the "auth" change counter in their transaction and call forget(),
    so this process stops honouring the key at once. Every replica's ReplicaWatch reads the
    counter every REPLICA_POLL_S and calls confirm(): a changed counter empties the cache, and
    the cache is used only while the last confirmation is younger than CONFIRMED_FOR_S, so another
    replica's revocation is honoured within a second even when the watch stalls."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._epoch = 0  # grows at every forget(): a lookup begun before it must not fill the cache
        self._counter: int | None = None
        self._confirmed_at = -CONFIRMED_FOR_S  # monotonic time of the last confirm()

    def forget(self) -> None:
        """After a revocation or a tenant change: it takes effect at once."""
        self._cache.clear()
        self._epoch += 1

    def confirm(self, counter: int, read_started: float) -> None:
        """The "auth" change counter read from the database by a read that began at `read_started`
        (monotonic); a new value means some replica changed keys or tenants."""
        if counter != self._counter:
            self._counter = counter
            self.forget()
        self._confirmed_at = read_started

    async def authenticate(self, authorization: str | None) -> Principal:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise ApiKeyInvalid()
        key_hash = hash_secret(authorization[7:].strip())
        cached = self._cache.get(key_hash)
        now = time.monotonic()
        if cached and now - cached[0] < AUTH_CACHE_SECONDS and now - self._confirmed_at < CONFIRMED_FOR_S:
            return cached[1]
        epoch = self._epoch
        async with self._ctx.read() as db:  # SQLite: a reader connection, not the write lock
            found = await stores.api_key_with_tenant(db, key_hash=key_hash)
        row, tenant = found if found else (None, None)
        if (row is None or row.revoke_time is not None or not hmac.compare_digest(row.key_hash, key_hash)
                or row.role not in ROLES or (row.role == "tenant" and tenant is None)):
            self._cache.pop(key_hash, None)
            raise ApiKeyInvalid()
        if tenant is not None and not tenant.enabled:
            self._cache.pop(key_hash, None)
            raise TenantDisabled(tenant.id)
        principal = Principal(key_id=row.id, role=row.role, tenant_id=row.tenant_id)
        if len(self._cache) > 10_000:
            self._cache.clear()
        if epoch == self._epoch:
            self._cache[key_hash] = (now, principal)
        return principal


def _role(role: str, tenant_id: str) -> str:
    """The role of a new key: by default a tenant key with a tenant, else an admin key."""
    role = role or ("tenant" if tenant_id else "admin")
    if role not in ROLES:
        raise InvalidArgument("role", "admin, tenant or edge")
    if (role == "tenant") != bool(tenant_id):
        raise InvalidArgument("tenant_id", "required for a tenant key, and only for one")
    return role


async def create_key(ctx: ServiceContext, principal: Principal, *, tenant_id: str,
                     description: str, role: str = "") -> tuple[ApiKey, str]:
    """Returns the key row and its secret (the only time the secret exists outside the caller)."""
    require_admin(principal)
    role = _role(role, tenant_id)
    validation.text(description, "description", max_length=200, required=False)
    secret = new_key_secret()
    now = ctx.clock()
    async with ctx.transaction() as db:
        if tenant_id and await stores.hold_tenant(db, tenant_id=tenant_id) is None:  # not deleted meanwhile
            raise TenantNotFound(tenant_id)
        row = ApiKey(id="key_" + secrets.token_hex(8), key_hash=hash_secret(secret),
                     role=role, tenant_id=tenant_id or None,
                     description=description, create_time=now)
        await stores.add(db, row)
        await audit.record(db, time=now, actor=principal.actor, operation="CreateApiKey", outcome="ok",
                           tenant_id=tenant_id or None, detail=f"key={row.id} role={row.role}")
    return row, secret


async def list_keys(ctx: ServiceContext, principal: Principal, *, tenant_id: str, page_size: int,
                    page_token: str) -> tuple[Sequence[ApiKey], str]:
    require_admin(principal)
    limit = pages.page_size(page_size)
    after = pages.decode_time_and_id(page_token)
    query = select(ApiKey).order_by(col(ApiKey.create_time), col(ApiKey.id)).limit(limit + 1)
    if tenant_id:
        query = query.where(ApiKey.tenant_id == tenant_id)
    if after is not None:
        created, key_id = after
        query = query.where((col(ApiKey.create_time) > created)
                            | ((col(ApiKey.create_time) == created) & (col(ApiKey.id) > key_id)))
    async with ctx.sessions() as db:
        rows = (await db.exec(query)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, pages.encode([rows[-1].create_time, rows[-1].id]) if more else ""


async def revoke_key(ctx: ServiceContext, principal: Principal, authenticator: Authenticator, *,
                     key_id: str, close_sessions: bool = False) -> ApiKey:
    """Revokes the key at once. Its sessions stay open (a rotated key's users keep editing) unless
    `close_sessions`: then every open session it created is closed in the same transaction, as
    CloseSession closes one, also when the key was revoked before. The key row is locked first, so
    that a CreateSession of this key either sees the revocation or is committed before the
    sessions are read (control.services.sessions._require_key_live)."""
    from control.services import sessions  # it imports this module (hash_secret): not at the top

    require_admin(principal)
    now = ctx.clock()
    async with ctx.transaction() as db:
        row = await db.get(ApiKey, key_id, with_for_update=True, populate_existing=True)
        if row is None:
            raise ApiKeyNotFound(key_id)
        was_revoked = row.revoke_time is not None
        if not was_revoked:
            if row.role == "admin":
                live_admins = (await db.exec(select(ApiKey).where(
                    ApiKey.role == "admin", col(ApiKey.revoke_time).is_(None)))).all()
                if len(live_admins) <= 1:
                    raise FailedPrecondition("LAST_ADMIN_KEY", "the last valid admin key cannot be revoked",
                                             key_id=key_id)
            row.revoke_time = now
            db.add(row)
            await replica_store.bump_counter(db, name=AUTH_COUNTER)  # every replica's cache forgets it
        closed: Sequence[Session] = []
        if close_sessions:
            closed = await stores.open_sessions_of_key(db, key_id=row.id, now=now)
            await sessions.close_open_sessions(db, ctx, closed, actor=principal.actor, now=now,
                                               detail=f"revoked key={row.id}")
        if not was_revoked or close_sessions:
            detail = f"key={row.id}" + (f" closed_sessions={len(closed)}" if close_sessions else "")
            await audit.record(db, time=now, actor=principal.actor, operation="RevokeApiKey", outcome="ok",
                               tenant_id=row.tenant_id, detail=detail)
    authenticator.forget()
    return row

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

from control.db import pages, stores
from control.db.models import ApiKey
from control.services import audit, validation
from control.services.access import require_admin
from control.services.context import Principal, ServiceContext
from shared.errors import ApiKeyInvalid, ApiKeyNotFound, FailedPrecondition, TenantNotFound

log = logging.getLogger(__name__)

KEY_PREFIX = "wpk_"
AUTH_CACHE_SECONDS = 5.0  # how long a revoked key may still be accepted by one process


def hash_secret(secret: str) -> str:
    """Keys and tokens carry 256 random bits, so a plain SHA-256 is a safe one-way hash."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


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
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secret + "\n")
        os.chmod(path, 0o600)
    log.info("created the admin API key in %s (only its hash is stored)", path)
    return str(path)


class Authenticator:
    """Resolves `authorization: Bearer <key>` to a Principal, with a short cache so the hot
    path (the edge's AuthorizeWopiRequest) does not read the key table on every call."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._cache: dict[str, tuple[float, Principal]] = {}

    def forget(self) -> None:
        """After a revocation in this process: the revoked key stops working at once."""
        self._cache.clear()

    async def authenticate(self, authorization: str | None) -> Principal:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise ApiKeyInvalid()
        key_hash = hash_secret(authorization[7:].strip())
        cached = self._cache.get(key_hash)
        now = time.monotonic()
        if cached and now - cached[0] < AUTH_CACHE_SECONDS:
            return cached[1]
        async with self._ctx.sessions() as db:
            row = await stores.api_key_by_hash(db, key_hash=key_hash)
        if row is None or row.revoke_time is not None or not hmac.compare_digest(row.key_hash, key_hash):
            self._cache.pop(key_hash, None)
            raise ApiKeyInvalid()
        principal = Principal(key_id=row.id, role=row.role, tenant_id=row.tenant_id)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key_hash] = (now, principal)
        return principal


async def create_key(ctx: ServiceContext, principal: Principal, *, tenant_id: str,
                     description: str) -> tuple[ApiKey, str]:
    """Returns the key row and its secret (the only time the secret exists outside the caller)."""
    require_admin(principal)
    validation.text(description, "description", max_length=200, required=False)
    secret = new_key_secret()
    now = ctx.clock()
    async with ctx.transaction() as db:
        if tenant_id and await stores.get_tenant(db, tenant_id=tenant_id) is None:
            raise TenantNotFound(tenant_id)
        row = ApiKey(id="key_" + secrets.token_hex(8), key_hash=hash_secret(secret),
                     role="tenant" if tenant_id else "admin", tenant_id=tenant_id or None,
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
                     key_id: str) -> ApiKey:
    require_admin(principal)
    now = ctx.clock()
    async with ctx.transaction() as db:
        row = await db.get(ApiKey, key_id)
        if row is None:
            raise ApiKeyNotFound(key_id)
        if row.revoke_time is None:
            if row.role == "admin":
                live_admins = (await db.exec(select(ApiKey).where(
                    ApiKey.role == "admin", col(ApiKey.revoke_time).is_(None)))).all()
                if len(live_admins) <= 1:
                    raise FailedPrecondition("LAST_ADMIN_KEY", "the last valid admin key cannot be revoked",
                                             key_id=key_id)
            row.revoke_time = now
            db.add(row)
            await audit.record(db, time=now, actor=principal.actor, operation="RevokeApiKey", outcome="ok",
                               tenant_id=row.tenant_id, detail=f"key={row.id}")
    authenticator.forget()
    return row

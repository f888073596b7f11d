"""Tenants: the organisations sharing a deployment, and their settings."""

from __future__ import annotations

import logging

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

from sqlalchemy import delete, select
from sqlmodel import col
from sqlalchemy.exc import IntegrityError

from control.db import bridge_store, pages, replica_store, stores
from control.db.deadlocks import retried_on_deadlock
from control.db.models import (
    ApiKey, Editor, File, FileVersion, LaunchCode, Session, SessionEvent, Storage, Tenant, UserInfo, WebhookState, WriteIntent,
)
from control.services import audit, tenant_limits, validation, webhooks
from control.services.access import require_admin
from control.services.context import Principal, ServiceContext
from control.services.keys import AUTH_COUNTER
from shared.errors import (
    FailedPrecondition, InvalidArgument, PermissionDenied, TenantAlreadyExists, TenantNotFound,
)

log = logging.getLogger(__name__)


EDITOR_MODES = ("pool", "own", "disabled")  # the shared pool's editors, the tenant's own, or none


@dataclass(frozen=True)
class TenantSettings:
    """The settable part of a tenant; None in an update means "leave as is"."""

    post_message_origin: str | None = None
    default_session_ttl_seconds: int | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    audit_retention_days: int | None = None
    editor_mode: str | None = None
    # Operator only (admin key): see OPERATOR_ONLY.
    max_file_size_cap: int | None = None
    conflict_copy_quota: int | None = None


# Quotas are the operator's: a tenant key may never set them, even where it may change its settings.
OPERATOR_ONLY = frozenset({"settings.max_file_size_cap", "settings.conflict_copy_quota"})
MAX_BYTES = 1 << 62


def _require_operator_for(principal: Principal, paths: Sequence[str], settings: TenantSettings) -> TenantSettings:
    """Refuses a tenant key that names a quota; a whole-"settings" update from one leaves them as they are."""
    if principal.is_admin:
        return settings
    named = sorted(OPERATOR_ONLY & set(paths))
    if named:
        raise PermissionDenied(f"only the operator (admin key) may change {', '.join(named)}")
    return replace(settings, max_file_size_cap=None, conflict_copy_quota=None)


def _bytes(value: int, field: str) -> int:
    if not 0 <= value <= MAX_BYTES:
        raise InvalidArgument(field, f"between 0 (none) and {MAX_BYTES} bytes")
    return value


def _apply_settings(tenant: Tenant, settings: TenantSettings, prefix: str) -> None:
    """`prefix` is where the settings sit in the request ("settings" or "tenant.settings"), so that
    a violation names the field as the caller wrote it."""
    if settings.post_message_origin is not None:
        tenant.post_message_origin = validation.origin(settings.post_message_origin, f"{prefix}.post_message_origin")
    if settings.default_session_ttl_seconds is not None:
        ttl = settings.default_session_ttl_seconds
        if ttl != 0:
            validation.ttl_seconds(ttl, 0, field=f"{prefix}.default_session_ttl_seconds")
        tenant.default_session_ttl_s = ttl
    if settings.webhook_url is not None:
        tenant.webhook_url = validation.http_url(settings.webhook_url, f"{prefix}.webhook_url")
    if settings.webhook_secret is not None:
        tenant.webhook_secret = validation.text(settings.webhook_secret, f"{prefix}.webhook_secret",
                                                max_length=200, required=False)
    if settings.editor_mode is not None:
        mode = settings.editor_mode or "pool"
        if mode not in EDITOR_MODES:
            raise InvalidArgument(f"{prefix}.editor_mode", "pool, own or disabled")
        tenant.editor_mode = mode
    if settings.audit_retention_days is not None:
        if not 0 <= settings.audit_retention_days <= 36500:
            raise InvalidArgument(f"{prefix}.audit_retention_days", "between 0 (forever) and 36500")
        tenant.audit_retention_days = settings.audit_retention_days
    if settings.max_file_size_cap is not None:
        tenant.max_file_size_cap = _bytes(settings.max_file_size_cap, f"{prefix}.max_file_size_cap")
    if settings.conflict_copy_quota is not None:
        tenant.conflict_copy_quota = _bytes(settings.conflict_copy_quota, f"{prefix}.conflict_copy_quota")


async def create_tenant(ctx: ServiceContext, principal: Principal, *, tenant_id: str, name: str,
                        settings: TenantSettings | None = None) -> Tenant:
    require_admin(principal)
    validation.tenant_id(tenant_id, "id")
    validation.text(name, "name", max_length=200)
    now = ctx.clock()
    tenant = Tenant(id=tenant_id, name=name, enabled=True, incarnation=secrets.token_hex(8), create_time=now,
                    update_time=now)
    _apply_settings(tenant, settings or TenantSettings(), "settings")
    try:
        async with ctx.transaction() as db:
            if await stores.get_tenant(db, tenant_id=tenant_id) is not None:
                raise TenantAlreadyExists(tenant_id)
            # Records filed under this id since an earlier tenant of that id was deleted are not
            # the new tenant's: its trail starts empty.
            await audit.archive_chain(db, tenant_id=tenant_id, label="before-" + tenant.incarnation)
            await stores.add(db, tenant)
            if tenant.webhook_url:
                await webhooks.start_from_now(db, tenant_id)
            await audit.record(db, time=now, actor=principal.actor, operation="CreateTenant", outcome="ok",
                               tenant_id=tenant_id)
    except IntegrityError as exc:  # a concurrent create won the race
        raise TenantAlreadyExists(tenant_id) from exc
    return tenant


async def get_tenant(ctx: ServiceContext, principal: Principal, *, tenant_id: str) -> Tenant:
    require_admin(principal)
    if not validation.is_tenant_id(tenant_id):
        raise TenantNotFound(validation.printable(tenant_id, 63))
    async with ctx.sessions() as db:
        tenant = await stores.get_tenant(db, tenant_id=tenant_id)
    if tenant is None:
        raise TenantNotFound(tenant_id)
    return tenant


async def list_tenants(
    ctx: ServiceContext, principal: Principal, *, page_size: int, page_token: str
) -> tuple[Sequence[Tenant], str]:
    require_admin(principal)
    limit = pages.page_size(page_size)
    after = pages.decode_text(page_token)
    async with ctx.sessions() as db:
        rows = await stores.list_tenants(db, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, pages.encode(rows[-1].id) if more else ""


UPDATABLE = {"name", "enabled", "settings"} | {f"settings.{f.name}" for f in fields(TenantSettings)}


async def update_tenant(ctx: ServiceContext, principal: Principal, *, tenant_id: str, paths: Sequence[str],
                        name: str | None, enabled: bool | None, settings: TenantSettings) -> Tenant:
    """Changes the fields named in `paths`; disabling takes effect on the next WOPI request."""
    require_admin(principal)
    unknown = sorted(set(paths) - UPDATABLE)
    if unknown:
        raise InvalidArgument("update_mask", f"cannot update {', '.join(unknown)}")
    settings = _require_operator_for(principal, paths, settings)
    now = ctx.clock()
    async with ctx.transaction() as db:
        tenant = await stores.get_tenant(db, tenant_id=tenant_id)
        if tenant is None:
            raise TenantNotFound(tenant_id)
        if "name" in paths and name is not None:
            tenant.name = validation.text(name, "tenant.name", max_length=200)
        if "enabled" in paths and enabled is not None:
            tenant.enabled = enabled
        previous_webhook = tenant.webhook_url
        _apply_settings(tenant, settings, "tenant.settings")
        if tenant.webhook_url and tenant.webhook_url != previous_webhook:
            await webhooks.start_from_now(db, tenant_id)
        tenant.update_time = now
        db.add(tenant)
        await replica_store.bump_counter(db, name=AUTH_COUNTER)  # every replica's key cache forgets
        await audit.record(db, time=now, actor=principal.actor, operation="UpdateTenant", outcome="ok",
                           tenant_id=tenant_id, detail="fields=" + ",".join(sorted(paths)))
    return tenant


async def delete_tenant(ctx: ServiceContext, principal: Principal, *, tenant_id: str, force: bool) -> str:
    """Removes every record of the tenant (never its files): keys, storages, editors, sessions and
    their launch codes, events, webhook state, user infos, file identities and versions. Its audit
    chain is archived (kept and verifiable by the operator under the name returned), so that a
    tenant created later under the same id inherits nothing."""
    require_admin(principal)
    # A lock order no transaction can always keep (a commit holding its intent that inserts a
    # session, whose foreign key then waits for the tenant row): control.db.deadlocks.
    return await retried_on_deadlock(
        lambda: _delete_tenant(ctx, principal, tenant_id=tenant_id, force=force), f"deleting tenant {tenant_id}")


async def _delete_tenant(ctx: ServiceContext, principal: Principal, *, tenant_id: str, force: bool) -> str:
    now = ctx.clock()
    async with ctx.transaction() as db:
        # Work in flight first (see stores.hold_tenant), in the order it takes rows: its keys (CreateSession
        # holds its key, then the tenant), its intents, files and sessions; then the tenant row, which new
        # creators wait for; then once more the records made meanwhile.
        await db.execute(select(col(ApiKey.id)).where(col(ApiKey.tenant_id) == tenant_id)
                         .order_by(col(ApiKey.id)).with_for_update())
        await stores.lock_records_of(db, tenant_id=tenant_id)
        tenant = await tenant_limits.lock_tenant(db, tenant_id=tenant_id)
        if tenant is None:
            raise TenantNotFound(tenant_id)
        await stores.lock_records_of(db, tenant_id=tenant_id)
        open_sessions = (await db.execute(select(col(Session.id)).where(
            col(Session.tenant_id) == tenant_id, col(Session.close_time).is_(None),
            col(Session.expire_time) > now, col(Session.internal).is_(False)))).all()
        if open_sessions and not force:
            raise FailedPrecondition("SESSIONS_OPEN", f"tenant {tenant_id!r} has {len(open_sessions)} open "
                                     "session(s); close them or delete with force", tenant_id=tenant_id)
        session_ids = select(col(Session.id)).where(col(Session.tenant_id) == tenant_id)
        await db.execute(delete(LaunchCode).where(col(LaunchCode.session_id).in_(session_ids)))
        await bridge_store.delete_tenant_rows(db, tenant_id=tenant_id)
        file_ids = select(col(File.id)).where(col(File.tenant_id) == tenant_id)
        await db.execute(delete(FileVersion).where(col(FileVersion.file_id).in_(file_ids)))
        for model in (Session, SessionEvent, UserInfo, WebhookState, ApiKey, Editor, WriteIntent):
            await db.execute(delete(model).where(col(model.tenant_id) == tenant_id))
        await db.execute(delete(File).where(col(File.tenant_id) == tenant_id))
        await db.execute(delete(Storage).where(col(Storage.tenant_id) == tenant_id))
        await db.execute(delete(Tenant).where(col(Tenant.id) == tenant_id))
        await replica_store.bump_counter(db, name=AUTH_COUNTER)  # every replica's key cache forgets
        await audit.record(db, time=now, actor=principal.actor, operation="DeleteTenant", outcome="ok",
                           tenant_id=tenant_id, detail=f"force={force} open_sessions={len(open_sessions)}")
        archive = await audit.archive_chain(db, tenant_id=tenant_id,
                                            label=tenant.incarnation or secrets.token_hex(8))
        # The deployment's chain says where the tenant's trail went.
        await audit.record(db, time=now, actor=principal.actor, operation="DeleteTenant", outcome="ok",
                           detail=f"tenant={tenant_id} archived_chain={archive or ''}")
    return archive or ""

"""The operator's per-tenant caps on what a tenant key can make or hold open.

Every storage and editor of a tenant is loaded or walked by later calls (ListEditors and the
editor choice of CreateSession read every editor row, each with up to 5 MiB of discovery; the
staging sweep walks every storage), every WatchSessionEvents stream reads the database every
second and at every commit, and every VerifyAuditChain hashes the tenant's whole trail. A tenant
key is hostile input (ARCHITECTURE.md), so none of these may grow without bound. Admin keys are
the operator's and are not capped.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control.db.models import Editor, Session, Storage, Tenant
from shared.errors import TenantLimitExceeded

STORAGES_SETTING = "--max-storages-per-tenant"
EDITORS_SETTING = "--max-editors-per-tenant"
OPEN_SESSIONS_SETTING = "--max-open-sessions-per-tenant"
EVENT_STREAMS_SETTING = "--max-event-streams-per-tenant"
AUDIT_VERIFICATIONS_SETTING = "--max-audit-verifications-per-tenant"
DISCOVERY_FETCHES_SETTING = "--max-discovery-fetches-per-tenant"


@dataclass(frozen=True)
class TenantLimits:
    """The caps (0: none). Storages and editors count whoever made them; only tenant keys are refused."""

    storages: int = 100
    editors: int = 50
    open_sessions: int = 10_000  # sessions neither closed nor expired that tenant keys opened
    event_streams: int = 16  # concurrent WatchSessionEvents streams of tenant keys, per process
    audit_verifications: int = 1  # concurrent VerifyAuditChain calls of tenant keys, per process
    # concurrent discovery fetches of tenant keys (CreateEditor, RefreshEditor, DiagnoseEditor), per
    # process: each reads a document of up to 5 MiB into memory and parses it on the event loop
    discovery_fetches: int = 2


async def lock_tenant(db: AsyncSession, *, tenant_id: str) -> Tenant | None:
    """The tenant row, locked until the transaction ends (PostgreSQL FOR UPDATE; SQLite's
    transactions are exclusive already), so that two creations for one tenant count one after
    the other and cannot both take the last place."""
    query = (select(Tenant).where(Tenant.id == tenant_id).with_for_update()
             .execution_options(populate_existing=True))
    return (await db.exec(query)).first()


async def require_room(db: AsyncSession, *, tenant_id: str, model: type[Storage] | type[Editor], maximum: int,
                       limit: str, setting: str) -> None:
    """Raises TenantLimitExceeded when the tenant already has `maximum` rows of `model` (0: no cap)."""
    if maximum <= 0:
        return
    held = (await db.exec(select(func.count(col(model.id))).where(col(model.tenant_id) == tenant_id))).one()
    if held >= maximum:
        raise TenantLimitExceeded(tenant_id, limit, maximum, setting)


async def require_session_room(db: AsyncSession, *, tenant_id: str, maximum: int, now: int) -> None:
    """Raises TenantLimitExceeded when the tenant has `maximum` open sessions (0: no cap). Why: a
    session lives up to 7 days, DeleteStorage and DeleteEditor walk every open session of what they
    delete in one transaction (the write lock held), and the expiry job takes them 500 at a time;
    without a cap a tenant key could open millions. Counted in CreateSession's transaction without
    a lock of its own (sessions are created far more often than storages): on PostgreSQL, calls
    running at once may pass the cap by their number. The bridge's own sessions do not count."""
    if maximum <= 0:
        return
    query = select(func.count(col(Session.id))).where(
        col(Session.tenant_id) == tenant_id, col(Session.close_time).is_(None), col(Session.expire_time) > now,
        col(Session.internal).is_(False))
    if (await db.exec(query)).one() >= maximum:
        raise TenantLimitExceeded(tenant_id, "open sessions", maximum, OPEN_SESSIONS_SETTING)


class TenantSlots:
    """Calls of one kind that each tenant's keys have running at once in this process (one event
    loop: no lock needed); `limit` and `setting` name the cap in the refusal."""

    def __init__(self, limit: str, setting: str) -> None:
        self._limit = limit
        self._setting = setting
        self._held: dict[str, int] = {}

    def held(self, tenant_id: str) -> int:
        return self._held.get(tenant_id, 0)

    @contextmanager
    def hold(self, tenant_id: str, maximum: int) -> Iterator[None]:
        """A slot for the duration of the block, which ends with the call however it ends (the
        client cancels, an error, the server stops); TenantLimitExceeded when none is free."""
        held = self.held(tenant_id)
        if maximum > 0 and held >= maximum:
            raise TenantLimitExceeded(tenant_id, self._limit, maximum, self._setting)
        self._held[tenant_id] = held + 1
        try:
            yield
        finally:
            left = self._held[tenant_id] - 1
            if left:
                self._held[tenant_id] = left
            else:
                del self._held[tenant_id]


def event_stream_slots() -> TenantSlots:
    return TenantSlots("concurrent event streams", EVENT_STREAMS_SETTING)


def audit_verification_slots() -> TenantSlots:
    return TenantSlots("concurrent audit verifications", AUDIT_VERIFICATIONS_SETTING)


def discovery_fetch_slots() -> TenantSlots:
    return TenantSlots("concurrent discovery fetches", DISCOVERY_FETCHES_SETTING)

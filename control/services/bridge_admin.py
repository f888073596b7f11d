"""BridgeService (operators and tenants) and what the ends of sessions do to bridged documents.

Tenant-scoped in every query: a tenant key reads and steers only its own documents; another
tenant's ids answer NOT_FOUND like missing ones. Nothing returned carries a token, a secret, an
app session or the lock id.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from control.db import bridge_store, pages
from control.db.models import BridgeDocument, Session
from control.services import bridge_common as common
from control.services import validation
from control.services.access import require_tenant_visible
from control.services.context import Principal, ServiceContext
from shared.errors import BridgeDocumentNotFound, FailedPrecondition, InvalidArgument

STATES = ("loading", "open", "closing", "closed", "conflicted", "failed")
MAX_PAGE = 500


def _own(principal: Principal) -> str | None:
    """The tenant whose rows the caller reads (None: the admin reads any); a key of no tenant reads none."""
    return None if principal.is_admin else (principal.tenant_id or "")


async def list_documents(ctx: ServiceContext, principal: Principal, *, tenant_id: str, state: str,
                         page_size: int, page_token: str) -> tuple[list[common.DocumentView], str]:
    if tenant_id:
        require_tenant_visible(principal, tenant_id)
    if state and state not in STATES:
        raise InvalidArgument("state", " | ".join(STATES))
    if page_size < 0 or page_size > MAX_PAGE:
        raise InvalidArgument("page_size", f"between 1 and {MAX_PAGE} (0: 50)")
    limit = page_size or 50
    after = pages.decode_time_and_id(page_token)
    scope = tenant_id or _own(principal)
    now = ctx.clock()
    async with ctx.read() as db:
        rows = list(await bridge_store.list_documents(db, tenant_id=scope, state=state or None, after=after,
                                                      limit=limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        views = [await common.view(db, ctx, row, now=now) for row in rows]
    token = pages.encode([rows[-1].create_time, rows[-1].id]) if more else ""
    return views, token


async def _document(db: AsyncSession, principal: Principal, document_id: str, *, for_update: bool = False
                    ) -> BridgeDocument:
    doc = (await bridge_store.document(db, document_id=document_id, tenant_id=_own(principal),
                                       for_update=for_update)
           if validation.is_lookup_id(document_id) else None)
    if doc is None:
        raise BridgeDocumentNotFound(validation.printable(document_id, 40))
    return doc


async def get_document(ctx: ServiceContext, principal: Principal, *, document_id: str) -> common.DocumentView:
    async with ctx.read() as db:
        doc = await _document(db, principal, document_id)
        return await common.view(db, ctx, doc, now=ctx.clock())


async def save_now(ctx: ServiceContext, principal: Principal, *, document_id: str) -> common.DocumentView:
    now = ctx.clock()
    async with ctx.transaction() as db:
        doc = await _document(db, principal, document_id, for_update=True)
        if doc.state in ("closed", "loading"):
            raise FailedPrecondition("BRIDGE_DOCUMENT_CLOSED", f"bridged document {doc.id!r} is {doc.state}",
                                     document_id=doc.id, state=doc.state)
        if doc.state == "failed":
            doc.state = "open"  # the operator retries what failed
        doc.attempts = 0
        common.save_now(doc, now)
        db.add(doc)
        await common.record(db, doc, "bridge.save_now", now, actor=principal.actor)
        return await common.view(db, ctx, doc, now=now)


async def close_document(ctx: ServiceContext, principal: Principal, *, document_id: str) -> common.DocumentView:
    """Everyone is let out (their app sessions revoked), the final save is due now, then the
    document closes without grace."""
    now = ctx.clock()
    async with ctx.transaction() as db:
        doc = await _document(db, principal, document_id, for_update=True)
        if doc.state != "closed":
            for participant in await bridge_store.participants(db, document_id=doc.id):
                if not participant.revoked:
                    common.revoke(participant, now)
                    db.add(participant)
            if doc.state == "loading":  # nothing in the app yet: nothing to save
                doc.state, doc.close_after_time = "closing", now
            else:
                common.start_closing(doc, now, 0)
            doc.attempts = 0
            db.add(doc)
            await common.record(db, doc, "bridge.close_requested", now, actor=principal.actor)
        return await common.view(db, ctx, doc, now=now)


async def sessions_ended(db: AsyncSession, ctx: ServiceContext, sessions: Sequence[Session], now: int) -> None:
    """A session closed or expired (in the caller's transaction): its participations are revoked
    (the worker revokes the app session at its next item for the document) and, when no writer
    is left, the final save is due and the document closes after the grace period."""
    ids = [s.id for s in sessions if not s.internal]
    touched: dict[str, BridgeDocument] = {}
    for participant in await bridge_store.participations_of_sessions(db, session_ids=ids):
        common.revoke(participant, now)
        db.add(participant)
        if participant.document_id not in touched:
            doc = await bridge_store.document(db, document_id=participant.document_id, tenant_id=None,
                                              for_update=True)
            if doc is not None:
                touched[doc.id] = doc
        doc = touched.get(participant.document_id)
        if doc is not None:
            await common.record(db, doc, "bridge.leave", now, actor=f"user:{participant.user_id}",
                                session_id=participant.session_id, detail="session ended")
    await db.flush()
    for doc in touched.values():
        await common.after_departure(db, ctx.bridge, doc, now)
        db.add(doc)

"""Store functions of the bridge's tables (control.services.bridge_*): one query each, keyword-only
arguments, never commit. Functions a tenant key's request reaches take `tenant_id` (None: any)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control.db.models import BridgeDocument, BridgeEntry, BridgeParticipant, Editor, File

LIVE = ("loading", "open", "closing", "conflicted", "failed")


def _locked(query: Any, *, for_update: bool) -> Any:
    return query.with_for_update().execution_options(populate_existing=True) if for_update else query


async def live_document(db: AsyncSession, *, tenant_id: str, file_id: str, for_update: bool = False
                        ) -> BridgeDocument | None:
    query = select(BridgeDocument).where(BridgeDocument.tenant_id == tenant_id,
                                         BridgeDocument.live_file_id == file_id)
    return (await db.exec(_locked(query, for_update=for_update))).first()


async def document(db: AsyncSession, *, document_id: str, tenant_id: str | None, for_update: bool = False
                   ) -> BridgeDocument | None:
    query = select(BridgeDocument).where(BridgeDocument.id == document_id)
    if tenant_id is not None:
        query = query.where(BridgeDocument.tenant_id == tenant_id)
    return (await db.exec(_locked(query, for_update=for_update))).first()


async def live_document_by_app_id(db: AsyncSession, *, app_doc_id: str, kind: str, for_update: bool = False
                                  ) -> BridgeDocument | None:
    """The live document an app names (ids are HMACs, unique per generation)."""
    query = select(BridgeDocument).where(BridgeDocument.app_doc_id == app_doc_id, BridgeDocument.kind == kind,
                                         col(BridgeDocument.live_file_id).is_not(None))
    return (await db.exec(_locked(query, for_update=for_update))).first()


async def next_generation(db: AsyncSession, *, tenant_id: str, file_id: str) -> int:
    query = select(func.max(BridgeDocument.generation)).where(BridgeDocument.tenant_id == tenant_id,
                                                              BridgeDocument.file_id == file_id)
    return int((await db.exec(query)).one() or 0) + 1


async def participants(db: AsyncSession, *, document_id: str) -> Sequence[BridgeParticipant]:
    query = (select(BridgeParticipant).where(BridgeParticipant.document_id == document_id)
             .order_by(col(BridgeParticipant.id)))
    return (await db.exec(query)).all()


async def participants_of_documents(db: AsyncSession, *, document_ids: Sequence[str]
                                    ) -> Sequence[BridgeParticipant]:
    if not document_ids:
        return []
    query = (select(BridgeParticipant).where(col(BridgeParticipant.document_id).in_(document_ids))
             .order_by(col(BridgeParticipant.id)))
    return (await db.exec(query)).all()


async def participant(db: AsyncSession, *, document_id: str, session_id: str) -> BridgeParticipant | None:
    query = select(BridgeParticipant).where(BridgeParticipant.document_id == document_id,
                                            BridgeParticipant.session_id == session_id)
    return (await db.exec(query)).first()


async def participations_of_sessions(db: AsyncSession, *, session_ids: Sequence[str]
                                     ) -> Sequence[BridgeParticipant]:
    """The sessions' participations in live documents (what a session's close or expiry revokes)."""
    if not session_ids:
        return []
    query = (select(BridgeParticipant)
             .join(BridgeDocument, col(BridgeDocument.id) == col(BridgeParticipant.document_id))
             .where(col(BridgeParticipant.session_id).in_(session_ids),
                    col(BridgeDocument.live_file_id).is_not(None), col(BridgeParticipant.revoked).is_(False)))
    return (await db.exec(query)).all()


async def file_for_update(db: AsyncSession, *, file_id: str, skip_locked: bool) -> File | None:
    """The file row, locked; with `skip_locked` (PostgreSQL) None when another transaction holds it."""
    query = select(File).where(File.id == file_id).with_for_update(skip_locked=skip_locked)
    return (await db.exec(query.execution_options(populate_existing=True))).first()


async def due_documents(db: AsyncSession, *, now: int, limit: int, postgres: bool) -> Sequence[BridgeDocument]:
    """Documents with work due and no live lease, oldest due first, row-locked (PostgreSQL: rows
    another worker's transaction holds are skipped; SQLite transactions are exclusive)."""
    state, attempt = col(BridgeDocument.state), col(BridgeDocument.next_attempt_time)
    due = or_(
        and_(state == "loading", or_(attempt.is_(None), attempt <= now)),
        and_(col(BridgeDocument.dirty_since).is_not(None), attempt <= now,
             state.in_(("open", "closing", "conflicted"))),
        and_(state == "closing", col(BridgeDocument.close_after_time) <= now),
        and_(state.in_(("open", "conflicted", "closing")), col(BridgeDocument.next_poll_time) <= now),
    )
    query = (select(BridgeDocument)
             .where(col(BridgeDocument.live_file_id).is_not(None), BridgeDocument.lease_expire_time <= now, due)
             .order_by(col(BridgeDocument.update_time)).limit(limit))
    if postgres:
        query = query.with_for_update(skip_locked=True)
    return (await db.exec(query.execution_options(populate_existing=True))).all()


async def release_leases(db: AsyncSession, *, owner_prefix: str, except_owner: str, now: int) -> int:
    """Ends now the live leases whose owner starts with `owner_prefix` (but `except_owner`'s), exactly as
    if they had run out; returns how many. Their late reports are then refused like any expired one's."""
    owner = col(BridgeDocument.lease_owner)
    result = await db.exec(  # type: ignore[call-overload]
        update(BridgeDocument)
        .where(func.substr(owner, 1, len(owner_prefix)) == owner_prefix, owner != except_owner,
               col(BridgeDocument.lease_expire_time) > now)
        .values(lease_expire_time=now).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)


async def list_documents(db: AsyncSession, *, tenant_id: str | None, state: str | None,
                         after: tuple[int, str] | None, limit: int) -> Sequence[BridgeDocument]:
    """Newest first; `state` None: every live one."""
    query = (select(BridgeDocument)
             .order_by(col(BridgeDocument.create_time).desc(), col(BridgeDocument.id).desc()).limit(limit))
    if tenant_id is not None:
        query = query.where(BridgeDocument.tenant_id == tenant_id)
    if state is None:
        query = query.where(col(BridgeDocument.state) != "closed")
    else:
        query = query.where(BridgeDocument.state == state)
    if after is not None:
        created, doc_id = after
        query = query.where((col(BridgeDocument.create_time) < created)
                            | ((col(BridgeDocument.create_time) == created) & (col(BridgeDocument.id) < doc_id)))
    return (await db.exec(query)).all()


async def editors_by_id(db: AsyncSession, *, ids: Sequence[int]) -> dict[int, Editor]:
    if not ids:
        return {}
    rows = (await db.exec(select(Editor).where(col(Editor.id).in_(set(ids))))).all()
    return {e.id: e for e in rows if e.id is not None}


async def delete_tenant_rows(db: AsyncSession, *, tenant_id: str) -> None:
    for model in (BridgeEntry, BridgeParticipant, BridgeDocument):
        await db.execute(delete(model).where(col(model.tenant_id) == tenant_id))


async def lock_file_documents(db: AsyncSession, *, file_ids: Any) -> None:
    """Locks the bridged documents of these files (`file_ids`: a subquery), in id order: a bridged
    app's event locks its document before the tenant's audit chain, so a deletion that writes to
    the chain (sessions it ends) locks them first too."""
    await db.execute(select(col(BridgeDocument.id)).where(col(BridgeDocument.file_id).in_(file_ids))
                     .order_by(col(BridgeDocument.id)).with_for_update())


async def delete_file_rows(db: AsyncSession, *, file_ids: Any) -> None:
    """The bridge rows of these files (`file_ids`: a subquery), when their storage's records go."""
    doc_ids = select(col(BridgeDocument.id)).where(col(BridgeDocument.file_id).in_(file_ids))
    await db.execute(delete(BridgeEntry).where(col(BridgeEntry.document_id).in_(doc_ids)))
    await db.execute(delete(BridgeParticipant).where(col(BridgeParticipant.document_id).in_(doc_ids)))
    await db.execute(delete(BridgeDocument).where(col(BridgeDocument.file_id).in_(file_ids)))

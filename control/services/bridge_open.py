"""Opening a bridged session (the host page's OpenBridged) and the entry code that lets the user's
browser into the app (RegisterBridgeEntry). BRIDGE-NOTES 5.4-5.5.

One transaction per open: the file row is locked first, so concurrent first opens of a file
serialise on it and find (or make) the same document; the first writer takes the constant lock
through the lock rules of control.services.locks, unless the file changed since the app's text was
loaded (a viewer opened it, then a WOPI editor saved): then the document is flagged conflicted.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from control.db import bridge_store, stores
from control.db.models import BridgeDocument, BridgeEntry, BridgeParticipant, Editor, File, Session, Storage
from control.services import bridge_common as common
from control.services import locks, validation, wopi_access
from control.services.access_tokens import hash_token
from control.services.context import ServiceContext
from control.services.keys import hash_secret
from shared.errors import AccessTokenInvalid, BridgeDocumentNotFound, InvalidArgument, LockConflict
from shared.wopi_operation import WopiOperation


@dataclass(frozen=True)
class Opened:
    view: common.DocumentView
    participant: BridgeParticipant
    load: bool
    lease_token: str
    can_write: bool
    read_only_reason: str
    valid_until: int  # the session token's expiry, ms


async def _session_context(db: AsyncSession, ctx: ServiceContext, access_token: str, *, lock_file: bool
                           ) -> tuple[Session, File, Storage, Editor]:
    """A user's (never the bridge's own) open session of a bridged editor, with the checks of
    every WOPI request (expiry, tenant enabled, file not deleted, storage policy)."""
    found = await stores.session_context_by_token_hash(db, token_hash=hash_token(access_token),
                                                       lock_file=lock_file)
    if found is None or found[0].internal:
        raise AccessTokenInvalid()
    session = found[0]

    async def exists(file_id: str) -> bool:  # never asked: the caller names the session's own file
        return True

    caller = wopi_access.Caller(access_token=access_token, file_id=session.file_id)
    grant = await wopi_access.check_found(ctx, caller, WopiOperation("CheckFileInfo"), found,
                                          settle_pending=False, file_exists=exists)
    editor = await db.get(Editor, session.editor_id) if session.editor_id is not None else None
    if editor is None or editor.kind not in common.KINDS:
        raise InvalidArgument("access_token", "the session's editor is not a bridged app")
    return grant.session, grant.file, grant.storage, editor


def _new_lease(doc: BridgeDocument, *, owner: str, kind: str, now: int, lease_s: int) -> str:
    token = secrets.token_urlsafe(24)
    doc.lease_owner, doc.lease_kind = owner[:200], kind
    doc.lease_token_hash, doc.lease_expire_time = hash_secret(token), now + lease_s * 1000
    return token


async def _new_document(db: AsyncSession, ctx: ServiceContext, session: Session, file: File, editor: Editor,
                        now: int) -> BridgeDocument:
    generation = await bridge_store.next_generation(db, tenant_id=session.tenant_id, file_id=file.id)
    assert editor.id is not None
    doc = BridgeDocument(
        id=common.new_document_id(), tenant_id=session.tenant_id, file_id=file.id, live_file_id=file.id,
        editor_id=editor.id, kind=editor.kind, generation=generation, state="loading",
        app_doc_id=common.app_doc_id(ctx.bridge, tenant_id=session.tenant_id, file_id=file.id, generation=generation),
        file_version=file.version, create_time=now, update_time=now, next_poll_time=now,
    )
    await stores.add(db, doc)
    await common.record(db, doc, "bridge.open", now, actor=f"user:{session.user_id}", session_id=session.id,
                        detail=f"new generation, file version {file.version}")
    return doc


async def _take_lock(db: AsyncSession, doc: BridgeDocument, file: File, now: int, *, session: Session) -> str:
    """The writer's side of the lock: "" when the document holds (or now took) its lock, else
    the read-only reason ("locked": another client holds the file)."""
    current = locks.current_lock(file, now)
    if doc.lock_id and current == doc.lock_id:
        locks.apply(file, "RefreshLock", lock_id=doc.lock_id, old_lock_id="", now=now)
        db.add(file)
        return ""
    if current:
        return "locked"
    if common.stale(doc, file):
        # The file changed since the app's text was loaded or saved: our lock lapsed, or there was
        # none (only viewers were in while a WOPI editor saved). Locking now would let the next
        # save write that older text over the other client's save: flagged instead (its saves
        # become conflict copies), and this writer reads; the next generation loads the file.
        why = "the lock lapsed and the file changed" if doc.lock_id else "the file changed while only viewers were in"
        await common.flag_conflicted(db, doc, now, why=why)
        return "locked"
    lock_id = doc.lock_id or common.lock_id_for(doc.kind, doc.id, doc.generation)
    try:
        locks.apply(file, "Lock", lock_id=lock_id, old_lock_id="", now=now)
    except LockConflict:
        return "locked"
    db.add(file)
    relock = bool(doc.lock_id)
    doc.lock_id = lock_id
    await common.record(db, doc, "bridge.lock", now, actor=f"user:{session.user_id}", session_id=session.id,
                        lock_id=lock_id, detail="relock (lapsed, file unchanged)" if relock else "")
    return ""


async def open_bridged(ctx: ServiceContext, *, access_token: str, client_address: str) -> Opened:
    """What the host page needs; the view carries the bridge token when the caller must load."""
    try:
        return await _open(ctx, access_token=access_token, client_address=client_address)
    except IntegrityError:  # a concurrent first open made the document (PostgreSQL): join it
        return await _open(ctx, access_token=access_token, client_address=client_address)


async def _open(ctx: ServiceContext, *, access_token: str, client_address: str) -> Opened:
    now = ctx.clock()
    async with ctx.transaction() as db:
        session, file, storage, editor = await _session_context(db, ctx, access_token, lock_file=True)
        doc = await bridge_store.live_document(db, tenant_id=session.tenant_id, file_id=file.id, for_update=True)
        if doc is None:
            doc = await _new_document(db, ctx, session, file, editor, now)
        common.reopen(doc, now)
        participant = await bridge_store.participant(db, document_id=doc.id, session_id=session.id)
        if participant is None:
            reason = "view" if session.permission != "edit" else await _take_lock(db, doc, file, now, session=session)
            participant = BridgeParticipant(
                document_id=doc.id, tenant_id=doc.tenant_id, session_id=session.id, user_id=session.user_id,
                user_name=session.user_name, can_write=reason == "", read_only_reason=reason, present=True,
                join_time=now)
            await stores.add(db, participant)
            await common.record(db, doc, "bridge.join", now, actor=f"user:{session.user_id}", session_id=session.id,
                                client_address=client_address,
                                detail=f"can_write={reason == ''} read_only_reason={reason or '-'}")
        elif participant.can_write:
            if await _take_lock(db, doc, file, now, session=session):  # refreshed, or lost since
                participant.can_write, participant.read_only_reason = False, "locked"
        if not participant.present:
            participant.present, participant.leave_time = True, None
        db.add(participant)
        load, lease_token, token = False, "", ""
        if doc.state == "loading" and doc.lease_expire_time <= now:
            load = True
            lease_token = _new_lease(doc, owner=f"open:{session.id}", kind="load", now=now, lease_s=ctx.bridge.lease_s)
            token = await common.bridge_token(db, ctx.bridge, doc, file, storage_name=storage.name, now=now)
        doc.update_time = now
        db.add(doc)
        shown = await common.view(db, ctx, doc, token=token, now=now)
    return Opened(view=shown, participant=participant, load=load, lease_token=lease_token,
                  can_write=participant.can_write, read_only_reason=participant.read_only_reason,
                  valid_until=session.expire_time)


MAX_APP_ID = 200


async def register_entry(ctx: ServiceContext, *, access_token: str, document_id: str, app_author_id: str,
                         app_session_id: str, app_target: str) -> str:
    """Records the participant's identity in the app and returns a single-use entry code."""
    for value, name in ((app_author_id, "app_author_id"), (app_session_id, "app_session_id"),
                        (app_target, "app_target")):
        validation.text(value, name, max_length=MAX_APP_ID, required=False)
    now = ctx.clock()
    async with ctx.transaction() as db:
        session, file, _storage, _editor = await _session_context(db, ctx, access_token, lock_file=False)
        doc = (await bridge_store.document(db, document_id=document_id, tenant_id=session.tenant_id)
               if validation.is_lookup_id(document_id) else None)
        participant = (await bridge_store.participant(db, document_id=doc.id, session_id=session.id)
                       if doc is not None and doc.live_file_id == file.id else None)
        if doc is None or participant is None or participant.revoked:
            raise BridgeDocumentNotFound(validation.printable(document_id, 40))
        if app_author_id:
            participant.app_author_id = app_author_id
        if app_session_id:
            participant.app_session_id = app_session_id
        db.add(participant)
        code = secrets.token_urlsafe(24)
        assert participant.id is not None
        db.add(BridgeEntry(code_hash=hash_secret(code), document_id=doc.id, participant_id=participant.id,
                           tenant_id=doc.tenant_id, app_target=app_target,
                           expire_time=min(now + ctx.bridge.entry_ttl_s * 1000, session.expire_time)))
    return code

"""What the bridge's services share: ids, the constant lock, the bridge session and its token,
the state changes several entry points make (a change seen, the last writer gone), the audit.

A bridged document (BridgeDocument) moves loading -> open -> closing -> closed; conflicted and
failed are flags of an open document that editing survives. Times are ms since the epoch.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from control.db import bridge_store, stores
from control.db.models import BridgeDocument, BridgeParticipant, Editor, File, Session
from control.services import access_tokens, audit, locks
from control.services.context import BridgeSettings, ServiceContext
from control.services.editors import BRIDGE_KINDS

KINDS = BRIDGE_KINDS
ACTOR = "system:bridge"
MAX_REV = 1 << 53


def new_document_id() -> str:
    return "bd_" + secrets.token_urlsafe(12)


def app_doc_id(settings: BridgeSettings, *, tenant_id: str, file_id: str, generation: int) -> str:
    """The document's name in the app: unguessable, and new for every generation (a pad of a closed
    generation is never reused, whatever the app still holds)."""
    mac = hmac.new(settings.key, f"{tenant_id}|{file_id}|{generation}".encode(), hashlib.sha256)
    return "wp" + mac.hexdigest()[:32]


def lock_id_for(kind: str, document_id: str, generation: int) -> str:
    """The constant WOPI lock of a generation: never rewritten on join or leave (~50 chars)."""
    return f"wopi-proxy-bridge/{kind}/{document_id}/{generation}"


def principal(kind: str) -> str:
    return f"bridge:{kind}"


def holds_lock(doc: BridgeDocument, file: File, now: int) -> bool:
    return bool(doc.lock_id) and locks.current_lock(file, now) == doc.lock_id


# -- the bridge session and its token ---------------------------------------------------------------


async def bridge_token(db: AsyncSession, settings: BridgeSettings, doc: BridgeDocument, file: File, *,
                       storage_name: str, now: int) -> str:
    """A WOPI token of the document's own session (principal "bridge:<kind>", edit, this file).
    Reused while more than half its life is left, so that two holders (a worker, a Hocuspocus
    load) do not invalidate each other's; otherwise re-minted (the session row keeps the hash)."""
    session = await stores.get_session(db, session_id=doc.bridge_session_id, tenant_id=doc.tenant_id) \
        if doc.bridge_session_id else None
    ttl = settings.token_ttl_s * 1000
    if (session is not None and session.close_time is None and doc.bridge_token
            and doc.bridge_token_expire_time - now > ttl // 2 and session.expire_time == doc.bridge_token_expire_time):
        return doc.bridge_token
    minted = access_tokens.mint()
    if session is None:
        session = Session(id=access_tokens.new_session_id(), tenant_id=doc.tenant_id, file_id=file.id,
                          storage_name=storage_name, path=file.path, user_id=principal(doc.kind),
                          user_name=f"wopi-proxy bridge ({doc.kind})", permission="edit",
                          token_hash=minted.token_hash, create_time=now, expire_time=now + ttl, internal=True)
        await stores.add(db, session)
        doc.bridge_session_id = session.id
    session.token_hash, session.expire_time, session.close_time = minted.token_hash, now + ttl, None
    session.path = file.path
    db.add(session)
    doc.bridge_token, doc.bridge_token_expire_time = minted.token, now + ttl
    db.add(doc)
    return minted.token


async def end_bridge_session(db: AsyncSession, doc: BridgeDocument, now: int) -> None:
    if doc.bridge_session_id:
        session = await stores.get_session(db, session_id=doc.bridge_session_id, tenant_id=doc.tenant_id)
        if session is not None and session.close_time is None:
            session.close_time = now
            db.add(session)
    doc.bridge_token, doc.bridge_token_expire_time = "", 0


# -- state changes ------------------------------------------------------------------------------------


def note_change(doc: BridgeDocument, settings: BridgeSettings, now: int, *, rev: int | None,
                immediate: bool = False) -> None:
    """A change seen in the app: coalesced into one save, due `debounce` after the last change
    but no later than `max_wait` after the first unsaved one (`immediate`: due now).
    rev None: the app has no revisions (CodiMD, Hocuspocus): the seen revision is bumped."""
    if rev is None:
        doc.seen_rev = max(doc.seen_rev, doc.saved_rev) + 1
    else:
        doc.seen_rev = max(doc.seen_rev, rev)
    if doc.dirty_since is None:
        doc.dirty_since = now
    due = now if immediate else min(now + settings.save_debounce_s * 1000,
                                    doc.dirty_since + settings.save_max_wait_s * 1000)
    if doc.next_attempt_time is None or doc.attempts == 0 or immediate:
        doc.next_attempt_time = due
    doc.update_time = now


def save_now(doc: BridgeDocument, now: int) -> None:
    """A save due at once (a final save, an operator's save-now): the worker still writes only
    when the app's content differs from what was saved."""
    if doc.dirty_since is None:
        doc.dirty_since = now
    doc.next_attempt_time = now
    doc.update_time = now


def someone_present(participants: list[BridgeParticipant]) -> bool:
    return any(p.present and not p.revoked for p in participants)


def writer_present(participants: list[BridgeParticipant]) -> bool:
    return any(p.present and p.can_write and not p.revoked for p in participants)


async def after_departure(db: AsyncSession, settings: BridgeSettings, doc: BridgeDocument, now: int, *,
                          grace_s: int | None = None) -> None:
    """Someone left: when no writer is left, the final save is due now and the document closes
    after the grace period (a user who comes back in the meantime reopens it)."""
    present = list(await bridge_store.participants(db, document_id=doc.id))
    if writer_present(present) or doc.state in ("closing", "closed", "loading"):
        return
    start_closing(doc, now, settings.unlock_grace_s if grace_s is None else grace_s)


def start_closing(doc: BridgeDocument, now: int, grace_s: int) -> None:
    save_now(doc, now)
    doc.state = "closing"
    doc.close_after_time = now + grace_s * 1000


def reopen(doc: BridgeDocument, now: int) -> None:
    """A user came back during the grace period: the same generation goes on."""
    if doc.state == "closing":
        doc.state = "conflicted" if doc.conflict_path else "open"
        doc.close_after_time = None
        doc.update_time = now


def stale(doc: BridgeDocument, file: File) -> bool:
    """The file changed since the app's text was loaded from it or last saved to it (another client
    wrote it while the bridge held no lock): saving the app's text under a lock would write over
    that client's save. A loading document is not stale: its load reads the file as it is."""
    return doc.state != "loading" and file.version != doc.file_version


async def flag_conflicted(db: AsyncSession, doc: BridgeDocument, now: int, *, why: str, lock_id: str = "") -> None:
    """What the app holds is no longer the file's latest: its saves become conflict copies
    (BRIDGE-NOTES 5.7.7). Recorded once; a failed document stays failed."""
    if doc.state == "open":
        doc.state = "conflicted"
    if doc.conflict_path:
        return
    doc.conflict_path = "-"  # flagged; the copies' paths come with CONFLICT outcomes
    await record(db, doc, "bridge.conflict", now, outcome="conflict", lock_id=lock_id,
                 detail=f"{why}: saves become conflict copies")


def revoke(participant: BridgeParticipant, now: int) -> None:
    participant.revoked, participant.present = True, False
    if participant.leave_time is None:
        participant.leave_time = now


# -- the audit ----------------------------------------------------------------------------------------


async def record(db: AsyncSession, doc: BridgeDocument, operation: str, now: int, *, actor: str = ACTOR,
                 outcome: str = "ok", session_id: str | None = None, detail: str = "", size: int | None = None,
                 client_address: str = "", version_before: int = 0, version_after: int = 0,
                 lock_id: str = "") -> None:
    """A bridge.* audit record in the caller's transaction (never a token or content)."""
    text = " ".join(filter(None, [f"doc={doc.id} gen={doc.generation} kind={doc.kind}", detail]))
    await audit.record(db, time=now, actor=actor, operation=operation, outcome=outcome, tenant_id=doc.tenant_id,
                       session_id=session_id, file_id=doc.file_id, detail=text, size=size,
                       client_address=client_address, version_before=version_before, version_after=version_after,
                       lock_hash=audit.lock_hash_of(lock_id), editor=f"wopi-proxy-bridge/{doc.kind}")


# -- what callers are handed --------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentView:
    """A document with what its BridgedDocumentRef / BridgedDocument needs."""

    doc: BridgeDocument
    file: File
    storage_name: str
    editor: Editor
    participants: list[BridgeParticipant]
    bridge_token: str = ""
    locked: bool = False

    @property
    def file_name(self) -> str:
        return self.file.path.rsplit("/", 1)[-1]


async def view(db: AsyncSession, ctx: ServiceContext, doc: BridgeDocument, *, token: str = "",
               now: int) -> DocumentView:
    found = await stores.file_with_storage(db, file_id=doc.file_id, tenant_id=doc.tenant_id)
    # An editor deleted under a live document: the document still shows, with no app to call.
    editor = await db.get(Editor, doc.editor_id) or Editor(id=doc.editor_id, name="", kind=doc.kind,
                                                              discovery_url="", create_time=0)
    assert found is not None, "a bridged document's file row stays (files are never deleted, only tombstoned)"
    file, storage = found
    people = list(await bridge_store.participants(db, document_id=doc.id))
    return DocumentView(doc=doc, file=file, storage_name=storage.name, editor=editor, participants=people,
                        bridge_token=token, locked=holds_lock(doc, file, now))

"""The bridge worker's side (ClaimBridgeWork, CompleteBridgeWork): due work is leased per document,
each item with a fresh bridge token; outcomes move the document's state. BRIDGE-NOTES 5.6-5.8, 5.10.

A lease lasts `lease_s` (60 s): a crashed worker's documents are handed out again once it ends, or
at once when the same worker starts again (its first claim lets go of its earlier run's leases).
A report under a lease that is not (or no longer) the caller's is refused, nothing recorded.
Every claim and completion refreshes the document's lock while the bridge holds it; a lock that
lapsed is taken again when the file is unchanged since our last save, else the document is
flagged conflicted (its saves become conflict copies: BRIDGE-NOTES 5.7.7).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlmodel.ext.asyncio.session import AsyncSession

from control.db import bridge_store, stores
from control.db.models import BridgeDocument, BridgeParticipant, File
from control.services import audit, events, locks, validation
from control.services import bridge_common as common
from control.services.context import ServiceContext
from control.services.keys import hash_secret
from shared.errors import BridgeLeaseLost, InvalidArgument

log = logging.getLogger(__name__)
LOAD, SAVE, POLL, CLOSE = "load", "save", "poll", "close"
DEFAULT_ITEMS, MAX_ITEMS = 8, 64
MAX_BACKOFF_MS = 5 * 60 * 1000
# Consecutive RETRY outcomes after which a document is failed (backoff 2 s doubling up to 5 min:
# about 25 min of attempts). A RETRY may be an app outage, or an error that recurs at every attempt
# (edge/bridge/work.failure files unexpected errors as RETRY): without a ceiling such a document
# would hold its lock, and the file, for good.
MAX_ATTEMPTS = 12
# A POLL report's present_authors entry meaning "someone is in, identities unknown" (Hocuspocus
# tells only a count of clients): presence is left as the app's events set it.
UNKNOWN_AUTHORS = "*"
OUTCOMES = ("loaded", "saved", "unchanged", "conflict", "retry", "failed", "closed", "polled")


@dataclass(frozen=True)
class WorkItem:
    kind: str
    view: common.DocumentView
    lease_token: str
    lease_expiry: int


@dataclass(frozen=True)
class Outcome:
    """A worker's report on one item (CompleteBridgeWorkRequest)."""

    outcome: str
    app_rev: int = 0
    sha256: str = ""
    size: int = 0
    file_version: int = 0
    editors: Sequence[str] = ()
    detail: str = ""
    present_authors: Sequence[str] = ()
    conflict_path: str = ""
    text_profile: str = ""
    app_read_only_id: str = ""


def _work_kind(doc: BridgeDocument, people: list[BridgeParticipant], now: int) -> str | None:
    if doc.state == "loading":
        return LOAD if (doc.next_attempt_time or 0) <= now else None
    if doc.dirty_since is not None and (doc.next_attempt_time or 0) <= now and doc.state != "failed":
        return SAVE
    if (doc.state == "closing" and doc.dirty_since is None and (doc.close_after_time or 0) <= now
            and not common.someone_present(people)):
        return CLOSE
    if doc.next_poll_time <= now and doc.state in ("open", "conflicted", "closing"):
        return POLL
    return None


async def maintain_lock(db: AsyncSession, doc: BridgeDocument, file: File, now: int) -> None:
    """Keeps the constant lock alive while the bridge holds it (BRIDGE-NOTES 5.4, 5.7.7)."""
    if doc.state in ("closed", "failed"):
        return
    if not doc.lock_id:
        # Only viewers have been in: no lock to keep, but a file another client wrote since the
        # load makes the app's text stale, and the first writer must not be handed it (bridge_open).
        if doc.state == "open" and common.stale(doc, file):
            await common.flag_conflicted(db, doc, now, why="the file changed while only viewers were in",
                                         lock_id=locks.current_lock(file, now))
        return
    current = locks.current_lock(file, now)
    if current == doc.lock_id:
        locks.apply(file, "RefreshLock", lock_id=doc.lock_id, old_lock_id="", now=now)
        db.add(file)
    elif not current and (file.version == doc.file_version or doc.state == "loading"):
        locks.apply(file, "Lock", lock_id=doc.lock_id, old_lock_id="", now=now)
        db.add(file)
        await common.record(db, doc, "bridge.lock", now, lock_id=doc.lock_id, detail="relock (lapsed, file unchanged)")
    elif doc.state == "open" or (doc.state == "closing" and not doc.conflict_path):
        why = "another client locked the file" if current else "the lock lapsed and the file changed"
        await common.flag_conflicted(db, doc, now, why=why, lock_id=current)


def earlier_runs(worker_id: str) -> str | None:
    """The lease owner prefix of the worker's earlier runs: "<name>#" of a "<name>#<run>" id, else None
    (an id without a run part has no earlier runs to recognise)."""
    name, sep, run = worker_id.partition("#")
    return f"{name}#" if name and sep and run else None


async def claim(ctx: ServiceContext, *, worker_id: str, max_items: int, first_claim: bool = False) -> list[WorkItem]:
    validation.text(worker_id, "worker_id", max_length=200)
    if max_items < 0:
        raise InvalidArgument("max_items", "must not be negative")
    limit = min(max_items or DEFAULT_ITEMS, MAX_ITEMS)
    now = ctx.clock()
    items: list[WorkItem] = []
    async with ctx.transaction() as db:
        postgres = db.bind is not None and db.bind.dialect.name == "postgresql"
        prefix = earlier_runs(worker_id) if first_claim else None
        if prefix is not None:
            # The earlier run is gone (a worker's name holds its listening address, which that run
            # would still hold): its documents are due again now, not when its leases end.
            released = await bridge_store.release_leases(db, owner_prefix=prefix, except_owner=worker_id, now=now)
            if released:
                log.info("bridge worker %s started: %d lease(s) of its earlier run let go", worker_id, released)
        # Exactly as many rows as items: rows locked here are skipped by other workers until commit.
        for doc in await bridge_store.due_documents(db, now=now, limit=limit, postgres=postgres):
            if len(items) >= limit:
                break
            people = list(await bridge_store.participants(db, document_id=doc.id))
            kind = _work_kind(doc, people, now)
            if kind is None:
                # Due by the query's rough test only (closing, but someone is back or a save is
                # still to be made): looked at again later, so that it does not hold up others.
                if doc.state == "closing":
                    doc.close_after_time = now + max(1, ctx.bridge.unlock_grace_s) * 1000
                    doc.update_time = now
                    db.add(doc)
                continue
            found = await stores.file_with_storage(db, file_id=doc.file_id, tenant_id=doc.tenant_id)
            # Lock order is file before document everywhere else (OpenBridged, CompleteBridgeWork): here
            # the document came first, so a file another transaction holds is skipped, never waited for.
            file = await bridge_store.file_for_update(db, file_id=doc.file_id, skip_locked=postgres)
            if found is None or file is None:
                continue
            await maintain_lock(db, doc, file, now)
            lease_token = secrets.token_urlsafe(24)
            doc.lease_owner, doc.lease_kind = worker_id, kind
            doc.lease_token_hash, doc.lease_expire_time = hash_secret(lease_token), now + ctx.bridge.lease_s * 1000
            if kind == POLL:  # the next poll is planned now, so that a lost report does not stop polling
                doc.next_poll_time = now + _poll_interval(ctx, people)
            token = await common.bridge_token(db, ctx.bridge, doc, file, storage_name=found[1].name, now=now)
            db.add(doc)
            items.append(WorkItem(kind=kind, view=await common.view(db, ctx, doc, token=token, now=now),
                                  lease_token=lease_token, lease_expiry=doc.lease_expire_time))
    return items


def _poll_interval(ctx: ServiceContext, people: list[BridgeParticipant]) -> int:
    seconds = ctx.bridge.poll_interval_s if common.someone_present(people) else ctx.bridge.idle_poll_interval_s
    return seconds * 1000


def _backoff_ms(attempts: int) -> int:
    return min(MAX_BACKOFF_MS, 1000 * (2 ** min(attempts, 20)))


async def complete(ctx: ServiceContext, *, document_id: str, lease_token: str, outcome: Outcome,
                   ) -> common.DocumentView:
    if outcome.outcome not in OUTCOMES:
        raise InvalidArgument("outcome", "not a work outcome")
    for value, name in ((outcome.sha256, "sha256"),):
        if value and (len(value) != 64 or not all(c in "0123456789abcdef" for c in value)):
            raise InvalidArgument(name, "64 lowercase hex digits")
    if not (0 <= outcome.app_rev < common.MAX_REV) or outcome.size < 0 or outcome.file_version < 0:
        raise InvalidArgument("app_rev", "app_rev, size and file_version must not be negative")
    if len(outcome.editors) > 1000 or len(outcome.present_authors) > 10000:
        raise InvalidArgument("editors", "at most 1000 editors and 10000 present authors")
    if len(outcome.text_profile) > 2000:
        raise InvalidArgument("text_profile", "at most 2000 characters")
    now = ctx.clock()
    async with ctx.transaction() as db:
        # The file row first, then the document's (the order of every bridge transaction).
        known = (await bridge_store.document(db, document_id=document_id, tenant_id=None)
                 if validation.is_lookup_id(document_id) else None)
        file = await stores.get_file_for_update(db, file_id=known.file_id, tenant_id=known.tenant_id) \
            if known is not None else None
        doc = await bridge_store.document(db, document_id=document_id, tenant_id=None, for_update=True) \
            if file is not None else None
        if (doc is None or file is None or not lease_token or doc.lease_expire_time <= now
                or not secrets.compare_digest(doc.lease_token_hash, hash_secret(lease_token))):
            raise BridgeLeaseLost(validation.printable(document_id, 40))
        people = list(await bridge_store.participants(db, document_id=doc.id))
        await _APPLY[outcome.outcome](db, ctx, doc, file, people, outcome, now)
        if outcome.outcome != "retry":
            _forget_revoked(db, people)
        if doc.state != "closed":
            await maintain_lock(db, doc, file, now)
        doc.lease_owner, doc.lease_token_hash, doc.lease_kind, doc.lease_expire_time = "", "", "", 0
        doc.update_time = now
        db.add(doc)
        return await common.view(db, ctx, doc, now=now)


def _forget_revoked(db: AsyncSession, people: list[BridgeParticipant]) -> None:
    """The worker revokes revoked participants' app sessions before working on an item (it was
    handed them with the item): once it reports, they need not be handed out again."""
    for participant in people:
        if participant.revoked and participant.app_session_id:
            participant.app_session_id = ""
            db.add(participant)


async def _loaded(db: AsyncSession, ctx: ServiceContext, doc: BridgeDocument, file: File,
                  people: list[BridgeParticipant], out: Outcome, now: int) -> None:
    if doc.state != "loading":
        return
    doc.state = "open"
    doc.baseline_rev = doc.saved_rev = out.app_rev
    doc.loaded_sha256 = doc.saved_sha256 = out.sha256
    doc.text_profile = out.text_profile
    doc.file_version = out.file_version or file.version
    doc.app_read_only_id = validation.printable(out.app_read_only_id, 100)
    doc.dirty_since, doc.next_attempt_time, doc.attempts, doc.last_error = None, None, 0, ""
    if doc.seen_rev > out.app_rev:  # someone typed before the load was reported: that is a change
        common.note_change(doc, ctx.bridge, now, rev=doc.seen_rev)
    doc.seen_rev = max(doc.seen_rev, out.app_rev)
    doc.next_poll_time = now + _poll_interval(ctx, people)
    await common.record(db, doc, "bridge.load", now, size=out.size, version_after=doc.file_version,
                        detail=f"rev={out.app_rev} sha256={out.sha256[:16]}")
    if common.stale(doc, file):
        # Another client wrote the file between the load's GetFile and now (only viewers were in,
        # and a writer took our lock after that write): the lock is let go, so that no save of
        # the older text lands on the file; saves become conflict copies.
        await _release_lock(db, doc, file, now)
        await common.flag_conflicted(db, doc, now, why="the file changed while it was being loaded")
    if not common.someone_present(people):
        await common.after_departure(db, ctx.bridge, doc, now)


def _settled(doc: BridgeDocument, out: Outcome) -> None:
    """The save (or its no-op) covers app_rev: clean unless newer changes came in meanwhile."""
    doc.saved_rev = max(doc.saved_rev, out.app_rev)
    doc.attempts, doc.last_error = 0, ""
    if doc.seen_rev <= doc.saved_rev:
        doc.dirty_since, doc.next_attempt_time = None, None
    else:  # changes arrived during the save: the next save stays due by the usual rule
        doc.next_attempt_time = doc.next_attempt_time or 0


async def _saved(db: AsyncSession, ctx: ServiceContext, doc: BridgeDocument, file: File,
                 people: list[BridgeParticipant], out: Outcome, now: int) -> None:
    before = doc.file_version
    _settled(doc, out)
    doc.saved_sha256 = out.sha256 or doc.saved_sha256
    doc.file_version = out.file_version or file.version
    doc.last_save_time = now
    doc.conflict_path = ""  # a PutFile under our lock went through: we hold the file again
    if doc.state == "conflicted":
        doc.state = "open"
    editors = [validation.printable(e, 256) for e in out.editors if e][:1000]
    await common.record(db, doc, "bridge.save", now, size=out.size, version_before=before,
                        version_after=doc.file_version, lock_id=doc.lock_id,
                        detail=f"rev={out.app_rev} sha256={out.sha256[:16]} "
                               f"editors={','.join(audit.detail_value(e) for e in editors)[:1500]}")
    # Applications hear of the save on their users' own sessions (the bridge's session has none).
    notified: set[str] = set()
    for participant in people:
        wanted = participant.user_id in editors if editors else participant.can_write
        if wanted and participant.session_id not in notified:
            session = await stores.get_session(db, session_id=participant.session_id, tenant_id=doc.tenant_id)
            if session is not None:
                notified.add(session.id)
                await events.emit(db, type="saved", session=session, now=now, version=doc.file_version)


async def _unchanged(db: AsyncSession, ctx: ServiceContext, doc: BridgeDocument, file: File,
                     people: list[BridgeParticipant], out: Outcome, now: int) -> None:
    was_dirty = doc.dirty_since is not None
    _settled(doc, out)
    if was_dirty:
        await common.record(db, doc, "bridge.save_skipped", now, detail=f"rev={out.app_rev} (same bytes)")


async def _conflict(db: AsyncSession, ctx: ServiceContext, doc: BridgeDocument, file: File,
                    people: list[BridgeParticipant], out: Outcome, now: int) -> None:
    _settled(doc, out)
    doc.state = "closing" if doc.state == "closing" else "conflicted"
    doc.conflict_path = validation.printable(out.conflict_path, 1000)
    await common.record(db, doc, "bridge.conflict", now, outcome="conflict", size=out.size,
                        detail=f"rev={out.app_rev} copy={audit.detail_value(doc.conflict_path)}")


async def _retry(db: AsyncSession, ctx: ServiceContext, doc: BridgeDocument, file: File,
                 people: list[BridgeParticipant], out: Outcome, now: int) -> None:
    if doc.attempts + 1 >= MAX_ATTEMPTS:
        await _gave_up(db, ctx, doc, file, people, out, now)
        return
    doc.attempts += 1
    doc.last_error = validation.printable(out.detail, 500)
    delay = _backoff_ms(doc.attempts)
    if doc.lease_kind in (SAVE, LOAD) or doc.dirty_since is not None:
        doc.next_attempt_time = now + delay
    if doc.lease_kind == POLL:
        doc.next_poll_time = now + delay
    if doc.state == "closing" and doc.close_after_time is not None:
        doc.close_after_time = max(doc.close_after_time, now + delay)
    await common.record(db, doc, "bridge.app_error", now, outcome="failed",
                        detail=f"{doc.lease_kind} attempt {doc.attempts}: {doc.last_error}")


async def _gave_up(db: AsyncSession, ctx: ServiceContext, doc: BridgeDocument, file: File,
                   people: list[BridgeParticipant], out: Outcome, now: int) -> None:
    """The ceiling of retries: failed as a FAILED outcome would (a load never done closes the
    document, a close never done closes it all the same), and a failed document's lock is let
    go at once, so that WOPI editors can work. The app's copy is not removed: what was typed
    stays there (the operator's save-now retries; BRIDGE-NOTES 5.10)."""
    detail = f"gave up after {MAX_ATTEMPTS} attempts: {validation.printable(out.detail, 400) or 'retry'}"
    log.warning("bridged document %s (%s): %s work %s", doc.id, doc.tenant_id, doc.lease_kind, detail)
    await _failed(db, ctx, doc, file, people, replace(out, detail=detail), now)
    if doc.state == "failed":
        await _release_lock(db, doc, file, now)


async def _failed(db: AsyncSession, ctx: ServiceContext, doc: BridgeDocument, file: File,
                  people: list[BridgeParticipant], out: Outcome, now: int) -> None:
    doc.attempts += 1
    doc.last_error = validation.printable(out.detail, 500) or "failed"
    if doc.lease_kind == CLOSE:  # the app's copy could not be removed: closed all the same (nothing to save)
        await _closed(db, ctx, doc, file, people, out, now)
        return
    if doc.lease_kind == LOAD:
        # Nothing ever reached the app (the file is not text, the app refused it): nothing to save,
        # so the document is closed and its lock released rather than left failed and locked.
        await _close(db, doc, file, people, now)
        return
    doc.state = "failed"
    await common.record(db, doc, "bridge.app_error", now, outcome="failed",
                        detail=f"{doc.lease_kind}: {doc.last_error}")


async def _closed(db: AsyncSession, ctx: ServiceContext, doc: BridgeDocument, file: File,
                  people: list[BridgeParticipant], out: Outcome, now: int) -> None:
    if doc.lease_kind != CLOSE:
        raise InvalidArgument("outcome", "CLOSED answers a CLOSE item")
    if common.someone_present(people) or doc.state != "closing":
        # Someone came back while the app's copy was being removed: the same generation is loaded
        # into the app again (the lock is still ours), instead of closing under their feet.
        doc.state, doc.next_attempt_time, doc.close_after_time = "loading", None, None
        await common.record(db, doc, "bridge.reload", now, detail="a user came back during the close")
        return
    await _close(db, doc, file, people, now)


async def _close(db: AsyncSession, doc: BridgeDocument, file: File, people: list[BridgeParticipant],
                 now: int) -> None:
    await _release_lock(db, doc, file, now)
    await common.end_bridge_session(db, doc, now)
    for participant in people:
        if participant.present:
            participant.present, participant.leave_time = False, participant.leave_time or now
            db.add(participant)
    doc.state, doc.live_file_id, doc.close_time = "closed", None, now
    doc.dirty_since = doc.next_attempt_time = doc.close_after_time = None
    await common.record(db, doc, "bridge.close", now, detail=f"saved_rev={doc.saved_rev}")


async def _release_lock(db: AsyncSession, doc: BridgeDocument, file: File, now: int) -> None:
    if doc.lock_id and locks.current_lock(file, now) == doc.lock_id:
        locks.apply(file, "Unlock", lock_id=doc.lock_id, old_lock_id="", now=now)
        db.add(file)
        await common.record(db, doc, "bridge.unlock", now, lock_id=doc.lock_id)


async def _polled(db: AsyncSession, ctx: ServiceContext, doc: BridgeDocument, file: File,
                  people: list[BridgeParticipant], out: Outcome, now: int) -> None:
    if out.app_rev > doc.saved_rev:
        common.note_change(doc, ctx.bridge, now, rev=out.app_rev)
    doc.attempts = 0 if doc.dirty_since is None else doc.attempts
    present = set(out.present_authors)
    for participant in people:
        if participant.revoked or UNKNOWN_AUTHORS in present:  # "*": people are in, who is unknown
            continue
        if participant.app_author_id:
            here = participant.app_author_id in present
        else:  # never entered the app: present only while its entry could still be used
            here = participant.present and participant.join_time > now - ctx.bridge.entry_ttl_s * 1000
        if here != participant.present:
            participant.present, participant.leave_time = here, None if here else now
            db.add(participant)
            await common.record(db, doc, "bridge.join" if here else "bridge.leave", now,
                                actor=f"user:{participant.user_id}", session_id=participant.session_id,
                                detail="by reconcile poll")
    if common.writer_present(people):
        common.reopen(doc, now)
    elif not common.someone_present(people):
        await common.after_departure(db, ctx.bridge, doc, now)
    doc.next_poll_time = now + _poll_interval(ctx, people)


_APPLY = {"loaded": _loaded, "saved": _saved, "unchanged": _unchanged, "conflict": _conflict, "retry": _retry,
          "failed": _failed, "closed": _closed, "polled": _polled}

__all__ = ["CLOSE", "LOAD", "POLL", "SAVE", "Outcome", "WorkItem", "claim", "complete"]

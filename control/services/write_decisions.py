"""BeginWrite and CommitWrite of PutFile as one call each on the writer thread (control.db.writer).

The same steps, rules and order as control.services.wopi_changes' transactions (and
write_intents' record and confirm), in Core statements on rows locked by the transaction; the
failpoints are hit at the same steps. Only PutFile, the write editors repeat all day, takes this
path: anything else (PutRelativeFile, RenameFile, DeleteFile, a repeated CommitWrite of
PutRelativeFile) raises NotHere before writing anything, and the caller runs the transaction
path instead.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from control.db import audit_sync, decision_store, grant_reads
from control.db.models import File, Session, Storage, WriteIntent
from control.db.writer import NotHere
from control.services import audit, locks, write_intents
from control.services.access_tokens import hash_token
from control.services.context import ServiceContext
from control.services.wopi_access import Caller, check_grant
from shared import failpoints
from shared.errors import AccessTokenInvalid, WriteInProgress, WriteIntentNotFound
from shared.wopi_operation import WopiOperation

if TYPE_CHECKING:
    from control.db.writer import Tx
    from control.services.wopi_changes import Begun, Committed, WriteRequest

PUT = WopiOperation.PUT_FILE


def begin_put_file(tx: Tx, *, ctx: ServiceContext, caller: Caller, request: WriteRequest,
                   settle_pending: bool) -> Begun:
    """wopi_changes._begin for PutFile."""
    from control.services import wopi_changes as changes

    rows = grant_reads.read_grant(tx.conn, hash_token(caller.access_token), for_update=True)
    found = (rows.session, rows.tenant, rows.file, rows.storage) if rows else None
    grant = check_grant(ctx, caller, PUT, found, settle_pending=settle_pending,
                        file_exists=lambda file_id: decision_store.file_in_tenant(
                            tx, file_id=file_id, tenant_id=rows.session.tenant_id if rows else ""))
    now = ctx.clock()
    file = grant.file
    if file.pending_intent_id:
        raise WriteInProgress(file.id)
    changes.check_put_file_path(file, request)
    current_lock = locks.current_lock(file, now)
    keep = grant.storage.version_retention > 0 and request.current.exists
    changes.check_staleness(request)
    changes.check_put_file_lock(current_lock, request)
    detail = changes._audit_detail(PUT, caller, request)
    unchanged = (request.current.exists and request.staged.sha256 == file.sha256
                 and request.current.fingerprint == file.fingerprint)
    intent = _new_intent(ctx, grant.session, grant.actor, file, caller, request, now,
                         detail=detail + (" unchanged" if unchanged else ""),
                         fingerprint=request.current.fingerprint if unchanged else request.staged.fingerprint,
                         kept_version=file.version if keep and not unchanged else 0,
                         kept_size=request.current.size if keep and not unchanged else 0)
    decision_store.insert_intent(tx, values=_values(intent))
    decision_store.set_pending(tx, file_id=file.id, intent_id=intent.id)
    failpoints.hit("control.begin.before_commit")
    if unchanged:
        # Same bytes as stored: nothing is rewritten and no version kept, but the save is recorded
        # and answered like any other (editors expect a new X-WOPI-ItemVersion).
        version, _ = _confirm(tx, intent=intent, file=file, storage=grant.storage, session=grant.session, now=now)
        return changes.Begun(intent_id=intent.id, done=True, keep_version=0, file_id=file.id, version=version,
                             publish_within_ms=0)
    return changes.Begun(intent_id=intent.id, done=False, keep_version=intent.kept_version, file_id=file.id,
                         version=file.version,
                         publish_within_ms=write_intents.publish_within_ms(ctx.write_intent_ttl_ms))


def commit_put_file(tx: Tx, *, ctx: ServiceContext, caller: Caller, intent_id: str, fingerprint: str) -> Committed:
    """wopi_changes._commit for a PutFile intent."""
    from control.services import wopi_changes as changes

    token_hash = hash_token(caller.access_token)
    rows = (decision_store.commit_rows(tx, intent_id=intent_id[:40], token_hash=token_hash)
            or _commit_rows_apart(tx, intent_id=intent_id[:40], token_hash=token_hash))
    intent, session, file, storage = rows
    if intent.operation != PUT.value or intent.tenant_id != session.tenant_id:
        raise NotHere()
    assert storage.id == file.storage_id
    if intent.state == write_intents.CONFIRMED:  # settled from storage first, or a repeated commit
        return changes.Committed(version=intent.base_version + 1, expired_versions=[])
    if intent.state == write_intents.ABANDONED:
        if file.version != intent.base_version or file.pending_intent_id:
            raise WriteIntentNotFound(intent.id)
        # late, but storage holds it: the edge published it
    now = ctx.clock()
    version, expired = _confirm(tx, intent=intent, file=file, storage=storage, session=session, now=now,
                                fingerprint=fingerprint)
    failpoints.hit("control.commit.before_commit")
    return changes.Committed(version=version, expired_versions=expired)


def _commit_rows_apart(tx: Tx, *, intent_id: str, token_hash: str) -> tuple[WriteIntent, Session, File, Storage]:
    """The rows of commit_put_file one by one, when their joined read found none: says which is
    missing or does not match (the checks in the order the write protocol makes them)."""
    intent = decision_store.intent_for_update(tx, intent_id=intent_id)
    if intent is None:
        raise WriteIntentNotFound(intent_id)
    session = decision_store.session_by_token_hash(tx, token_hash=token_hash)
    if session is None or session.id != intent.session_id:
        raise AccessTokenInvalid("the access token did not begin this write")
    if intent.operation != PUT.value or intent.tenant_id != session.tenant_id:
        raise NotHere()
    file = decision_store.file_for_update(tx, file_id=intent.file_id, tenant_id=session.tenant_id)
    storage = (decision_store.storage_by_name(tx, tenant_id=session.tenant_id, name=session.storage_name)
               if file else None)
    assert file is not None and storage is not None
    return intent, session, file, storage


def _confirm(tx: Tx, *, intent: WriteIntent, file: File, storage: Storage, session: Session, now: int,
             fingerprint: str = "") -> tuple[int, list[int]]:
    """write_intents.confirm of a PutFile by the writer (by_edge, keep registered): returns the
    new version and the versions past retention."""
    expired: list[int] = []
    if intent.kept_version:
        expired = decision_store.keep_version(tx, file=file, version=intent.kept_version, size=intent.kept_size,
                                              reason="save", replaced_by=intent.actor.removeprefix("user:"),
                                              retention=storage.version_retention, now=now)
    before, version = file.version, file.version + 1
    undelete = file.deleted_time is not None or file.path != intent.target_path
    decision_store.save_file(tx, file_id=file.id, values={
        "version": version, "size": intent.size, "sha256": intent.sha256, "update_time": now,
        "fingerprint": fingerprint or intent.fingerprint,
        "path": intent.target_path if undelete else file.path,
        "deleted_time": None if undelete else file.deleted_time,
        "deleted_from": None if undelete else file.deleted_from})
    decision_store.resolve_intent(tx, intent_id=intent.id, state=write_intents.CONFIRMED, resolve_time=now,
                                  resolution="confirmed by the writer")
    decision_store.emit_event(tx, type="saved", session=session, now=now, version=version)
    # The intent's id ties the record to the write (and to a "failed" record of the same id, never both).
    audit_sync.append(tx, [audit.new_event(
        time=now, actor=intent.actor, operation=intent.operation, outcome="ok", tenant_id=file.tenant_id,
        session_id=intent.session_id or None, file_id=file.id, size=intent.size,
        detail=intent.detail.replace("{version}", str(version)) + f" intent={intent.id}",
        client_address=intent.client_address, correlation_id=intent.correlation_id, status=200,
        version_before=before, version_after=version, lock_hash=intent.lock_hash, editor=intent.editor)])
    return version, expired


def _new_intent(ctx: ServiceContext, session: Session, actor: str, file: File, caller: Caller,
                request: WriteRequest, now: int, *, detail: str, fingerprint: str, kept_version: int,
                kept_size: int) -> WriteIntent:
    """wopi_changes._intent / write_intents.new_intent of a PutFile, as a snapshot to insert."""
    return WriteIntent.model_construct(
        id="wi_" + secrets.token_urlsafe(12), file_id=file.id, tenant_id=file.tenant_id, session_id=session.id,
        operation=PUT.value, state=write_intents.PENDING, base_version=file.version, actor=actor,
        create_time=now, expire_time=now + ctx.write_intent_ttl_ms, detail=detail,
        lock_hash=audit.lock_hash_of(request.lock_id), editor=caller.editor, client_address=caller.client_address,
        correlation_id=caller.correlation_id, staged_path=request.staged.staged_path[:2000], source_path=file.path,
        target_path=file.path, size=request.staged.size, sha256=request.staged.sha256, fingerprint=fingerprint,
        kept_version=kept_version, kept_size=kept_size)


_INTENT_COLUMNS = tuple(c.name for c in WriteIntent.__table__.columns)  # type: ignore[attr-defined]


def _values(intent: WriteIntent) -> dict[str, Any]:
    return {name: getattr(intent, name) for name in _INTENT_COLUMNS}

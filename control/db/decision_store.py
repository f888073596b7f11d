"""Store functions of the writer thread's decisions (control.db.writer): Core statements on a
synchronous connection, built once with bound parameters. One statement each; never commit;
each write counts in Tx.writes (control.db.writer)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from control.db import audit_sync
from control.db.driver_calls import execute_many, first_row, rows_of
from control.db.models import File, FileVersion, Session, SessionEvent, Storage, WriteIntent
from control.db.snapshots import snapshot
from control.services import audit

if TYPE_CHECKING:
    from control.db.writer import Tx

_FILES = File.__table__  # type: ignore[attr-defined]
_EVENTS = SessionEvent.__table__  # type: ignore[attr-defined]

_FILE_IN_TENANT = select(_FILES.c.id).where(_FILES.c.id == bindparam("file_id"),
                                            _FILES.c.tenant_id == bindparam("tenant_id"))
_SET_LOCK = (update(_FILES).where(_FILES.c.id == bindparam("file_id"))
             .values(lock_id=bindparam("lock_id"), lock_expire_time=bindparam("lock_expire_time")))
_EVENT_FIELDS = ("tenant_id", "type", "time", "session_id", "file_id", "user_id", "version", "account", "origin_json")
_INSERT_EVENT = insert(_EVENTS).values({name: bindparam(name) for name in _EVENT_FIELDS})


def file_in_tenant(tx: Tx, *, file_id: str, tenant_id: str) -> bool:
    """Only in the token's tenant: another tenant's id must answer like a missing one. One
    primary-key lookup, so the refusal of a foreign file id stays cheap."""
    return tx.conn.execute(_FILE_IN_TENANT, {"file_id": file_id, "tenant_id": tenant_id}).first() is not None


def set_lock(tx: Tx, *, file_id: str, lock_id: str | None, lock_expire_time: int | None) -> None:
    """The file's row must be locked by this transaction (control.db.grant_reads.GRANT_QUERY_FOR_UPDATE)."""
    execute_many(tx.conn, _SET_LOCK, [{"file_id": file_id, "lock_id": lock_id, "lock_expire_time": lock_expire_time}])
    tx.writes += 1


def emit_event(tx: Tx, *, type: str, session: Session, now: int, version: int = 0) -> None:
    """control.services.events.emit's rule: the tenant's chain head is locked first, so that event
    ids are handed out in commit order per tenant. The row is inserted with the batch's others at
    flush_events (nothing in a batch reads events back)."""
    audit_sync.lock_head(tx, audit.chain_of(session.tenant_id))
    tx.events.append(dict(zip(_EVENT_FIELDS, (session.tenant_id, type, now, session.id, session.file_id,
                                              session.user_id, version, session.account, session.origin_json),
                              strict=True)))
    tx.emitted_events = True
    tx.writes += 1


def flush_events(tx: Tx) -> None:
    """The batch's session events in emit order, in one statement (one round trip on PostgreSQL
    instead of one per event), while their chains' heads are still locked; right before COMMIT."""
    if tx.events:
        execute_many(tx.conn, _INSERT_EVENT, tx.events)
        tx.events.clear()


# -- the write protocol (control.services.write_decisions) ---------------------------------------

_INTENTS = WriteIntent.__table__  # type: ignore[attr-defined]
_SESSIONS = Session.__table__  # type: ignore[attr-defined]
_STORAGES = Storage.__table__  # type: ignore[attr-defined]
_VERSIONS = FileVersion.__table__  # type: ignore[attr-defined]
_INTENT_NAMES = tuple(c.name for c in _INTENTS.columns)
_SESSION_NAMES = tuple(c.name for c in _SESSIONS.columns)
_FILE_NAMES = tuple(c.name for c in _FILES.columns)
_STORAGE_NAMES = tuple(c.name for c in _STORAGES.columns)

_INTENT_FOR_UPDATE = select(_INTENTS).where(_INTENTS.c.id == bindparam("intent_id")).with_for_update()
_SESSION_BY_TOKEN = select(_SESSIONS).where(_SESSIONS.c.token_hash == bindparam("token_hash"))
_FILE_FOR_UPDATE = (select(_FILES).where(_FILES.c.id == bindparam("file_id"),
                                         _FILES.c.tenant_id == bindparam("tenant_id")).with_for_update())
_STORAGE_BY_NAME = select(_STORAGES).where(_STORAGES.c.tenant_id == bindparam("tenant_id"),
                                           _STORAGES.c.name == bindparam("name"))
# CommitWrite's four rows in one round trip: the intent and the file locked (in that order, as
# when each was read alone), the session that began it by its token, the file's storage.
_COMMIT_ROWS = (select(*_INTENTS.columns, *_SESSIONS.columns, *_FILES.columns, *_STORAGES.columns)
                .select_from(_INTENTS
                             .join(_SESSIONS, _SESSIONS.c.id == _INTENTS.c.session_id)
                             .join(_FILES, and_(_FILES.c.id == _INTENTS.c.file_id,
                                                _FILES.c.tenant_id == _SESSIONS.c.tenant_id))
                             .join(_STORAGES, and_(_STORAGES.c.tenant_id == _SESSIONS.c.tenant_id,
                                                   _STORAGES.c.name == _SESSIONS.c.storage_name)))
                .where(_INTENTS.c.id == bindparam("intent_id"), _SESSIONS.c.token_hash == bindparam("token_hash"))
                .with_for_update(of=[_INTENTS, _FILES]))
_INSERT_INTENT = insert(_INTENTS)
_SET_PENDING = (update(_FILES).where(_FILES.c.id == bindparam("file_id"))
                .values(pending_intent_id=bindparam("intent_id")))
_CONFIRM_INTENT = (update(_INTENTS).where(_INTENTS.c.id == bindparam("intent_id"))
                   .values(state=bindparam("state"), resolve_time=bindparam("resolve_time"),
                           resolution=bindparam("resolution")))
_SAVED_FILE = (update(_FILES).where(_FILES.c.id == bindparam("file_id"))
               .values(version=bindparam("version"), size=bindparam("size"), sha256=bindparam("sha256"),
                       update_time=bindparam("update_time"), fingerprint=bindparam("fingerprint"),
                       path=bindparam("path"), deleted_time=bindparam("deleted_time"),
                       deleted_from=bindparam("deleted_from"), pending_intent_id=None))
_VERSION_FIELDS = ("size", "sha256", "reason", "replaced_by", "create_time")


def _keep_version(dialect: Any) -> Any:
    """A version kept again (a save whose version an earlier try kept) replaces its row: one
    statement either way, on the (file_id, version) unique constraint."""
    upsert = dialect.insert(_VERSIONS).values(file_id=bindparam("file_id"), version=bindparam("version"),
                                              **{field: bindparam(field) for field in _VERSION_FIELDS})
    return upsert.on_conflict_do_update(index_elements=["file_id", "version"],
                                        set_={field: getattr(upsert.excluded, field) for field in _VERSION_FIELDS})


_KEEP_VERSION = {"postgresql": _keep_version(postgresql), "sqlite": _keep_version(sqlite)}
_VERSIONS_NEWEST_FIRST = (select(_VERSIONS.c.version).where(_VERSIONS.c.file_id == bindparam("file_id"))
                          .order_by(_VERSIONS.c.version.desc()).limit(10_000))
_DELETE_VERSIONS = delete(_VERSIONS).where(_VERSIONS.c.file_id == bindparam("file_id"),
                                           _VERSIONS.c.version.in_(bindparam("versions", expanding=True)))


def commit_rows(tx: Tx, *, intent_id: str, token_hash: str) -> tuple[WriteIntent, Session, File, Storage] | None:
    """The intent, the session of `token_hash` that began it, its file and storage, with the intent
    and the file locked; None when any of them is missing or does not match (read them one by one
    to say which)."""
    values = first_row(tx.conn, _COMMIT_ROWS, {"intent_id": intent_id, "token_hash": token_hash})
    if values is None:
        return None
    at = [0, len(_INTENT_NAMES)]
    at.append(at[-1] + len(_SESSION_NAMES))
    at.append(at[-1] + len(_FILE_NAMES))
    return (snapshot(WriteIntent, _INTENT_NAMES, values[at[0]:at[1]]),
            snapshot(Session, _SESSION_NAMES, values[at[1]:at[2]]),
            snapshot(File, _FILE_NAMES, values[at[2]:at[3]]),
            snapshot(Storage, _STORAGE_NAMES, values[at[3]:]))


def intent_for_update(tx: Tx, *, intent_id: str) -> WriteIntent | None:
    row = first_row(tx.conn, _INTENT_FOR_UPDATE, {"intent_id": intent_id})
    return None if row is None else snapshot(WriteIntent, _INTENT_NAMES, row)


def session_by_token_hash(tx: Tx, *, token_hash: str) -> Session | None:
    row = first_row(tx.conn, _SESSION_BY_TOKEN, {"token_hash": token_hash})
    return None if row is None else snapshot(Session, _SESSION_NAMES, row)


def file_for_update(tx: Tx, *, file_id: str, tenant_id: str) -> File | None:
    row = first_row(tx.conn, _FILE_FOR_UPDATE, {"file_id": file_id, "tenant_id": tenant_id})
    return None if row is None else snapshot(File, _FILE_NAMES, row)


def storage_by_name(tx: Tx, *, tenant_id: str, name: str) -> Storage | None:
    row = first_row(tx.conn, _STORAGE_BY_NAME, {"tenant_id": tenant_id, "name": name})
    return None if row is None else snapshot(Storage, _STORAGE_NAMES, row)


def insert_intent(tx: Tx, *, values: dict[str, Any]) -> None:
    tx.conn.execute(_INSERT_INTENT, values)
    tx.writes += 1


def set_pending(tx: Tx, *, file_id: str, intent_id: str | None) -> None:
    execute_many(tx.conn, _SET_PENDING, [{"file_id": file_id, "intent_id": intent_id}])
    tx.writes += 1


def resolve_intent(tx: Tx, *, intent_id: str, state: str, resolve_time: int, resolution: str) -> None:
    execute_many(tx.conn, _CONFIRM_INTENT, [{"intent_id": intent_id, "state": state, "resolve_time": resolve_time,
                                            "resolution": resolution}])
    tx.writes += 1


def save_file(tx: Tx, *, file_id: str, values: dict[str, Any]) -> None:
    """A confirmed byte write's new state of the file (pending_intent_id cleared)."""
    execute_many(tx.conn, _SAVED_FILE, [{"file_id": file_id, **values}])
    tx.writes += 1


def keep_version(tx: Tx, *, file: File, version: int, size: int, reason: str, replaced_by: str,
                 retention: int, now: int) -> list[int]:
    """control.services.versions.keep in Core: registers the kept bytes, returns (and forgets) the
    versions past `retention`."""
    if retention <= 0:
        return []
    fields = {"size": size, "sha256": file.sha256 if file.size == size else "", "reason": reason,
              "replaced_by": replaced_by[:256], "create_time": now}
    execute_many(tx.conn, _KEEP_VERSION[tx.conn.dialect.name], [{"file_id": file.id, "version": version, **fields}])
    tx.writes += 1
    kept = [int(row[0]) for row in rows_of(tx.conn, _VERSIONS_NEWEST_FIRST, {"file_id": file.id})]
    expired = kept[retention:]
    if expired:
        tx.conn.execute(_DELETE_VERSIONS, {"file_id": file.id, "versions": expired})
    return expired

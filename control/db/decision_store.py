"""Store functions of the writer thread's decisions (control.db.writer): Core statements on a
synchronous connection, built once with bound parameters. One statement each; never commit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import bindparam, insert, select, update

from control.db import audit_sync
from control.db.models import File, Session, SessionEvent
from control.services import audit

if TYPE_CHECKING:
    from control.db.writer import Tx

_FILES = File.__table__  # type: ignore[attr-defined]
_EVENTS = SessionEvent.__table__  # type: ignore[attr-defined]

_FILE_EXISTS = select(_FILES.c.id).where(_FILES.c.id == bindparam("file_id"))
_SET_LOCK = (update(_FILES).where(_FILES.c.id == bindparam("file_id"))
             .values(lock_id=bindparam("lock_id"), lock_expire_time=bindparam("lock_expire_time")))
_INSERT_EVENT = insert(_EVENTS)


def file_exists(tx: Tx, *, file_id: str) -> bool:
    return tx.conn.execute(_FILE_EXISTS, {"file_id": file_id}).first() is not None


def set_lock(tx: Tx, *, file_id: str, lock_id: str | None, lock_expire_time: int | None) -> None:
    """The file's row must be locked by this transaction (control.db.grant_reads.GRANT_QUERY_FOR_UPDATE)."""
    tx.conn.execute(_SET_LOCK, {"file_id": file_id, "lock_id": lock_id, "lock_expire_time": lock_expire_time})


def emit_event(tx: Tx, *, type: str, session: Session, now: int, version: int = 0) -> None:
    """control.services.events.emit's rule: the tenant's chain head is locked first, so that event
    ids are handed out in commit order per tenant."""
    audit_sync.lock_head(tx, audit.chain_of(session.tenant_id))
    tx.conn.execute(_INSERT_EVENT, {
        "tenant_id": session.tenant_id, "type": type, "time": now, "session_id": session.id,
        "file_id": session.file_id, "user_id": session.user_id, "version": version,
        "account": session.account, "origin_json": session.origin_json})
    tx.emitted_events = True

"""The end of a writer batch on PostgreSQL in one round trip: the batch's session events, its audit
records with the chain heads they moved, and COMMIT, sent together as one psycopg pipeline.

Why: they were four round trips (events, records, heads, COMMIT), each ~0.2 ms of wall time on a
busy machine, paid once per batch: at one client, once per request of ~5 ms. The heads' new last
ids come from the records' INSERT inside one statement (control.db.audit_sync.closing_statement),
so nothing in the pipeline waits for an answer before COMMIT goes out.

What commits is unchanged: the same rows, in the same order, while the same heads are locked.
What a failure means is read as control.db.writer reads it. The writer marks the batch as
committing before the pipeline goes out. An error raised before COMMIT is handed to the driver
(psycopg refusing a value it cannot send) means nothing committed. A statement the server refuses
aborts the transaction, and PostgreSQL skips the rest of the pipeline, COMMIT included. The
connection is then left in a failed transaction, which proves that nothing committed. In both
cases `rolled_back` says so, and the batch's usual handling applies (its decisions one by one, or
its one caller fails). A connection lost once COMMIT went out leaves the outcome unknown, as a
lost COMMIT does: nothing runs again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from control.db import audit_sync, decision_store
from control.db.driver_calls import as_sqlalchemy_errors, driver_known

if TYPE_CHECKING:
    from control.db.writer import Tx


def closing(tx: Tx) -> tuple[str, list[Any]] | None:
    """The batch's closing statement and its values, when the pipeline applies: PostgreSQL through
    psycopg, and records in one statement's reach. None: the statements go one by one, and
    SQLAlchemy sends COMMIT."""
    if not (tx.postgres and driver_known(tx.conn)):
        return None
    return audit_sync.closing_statement(tx)


def commit(tx: Tx, statement: tuple[str, list[Any]]) -> None:
    """Events, then `statement` (closing()'s), then COMMIT, as one pipeline; the records get their
    ids. Raises the driver's error as SQLAlchemy's (control.db.driver_calls)."""
    import psycopg  # loaded already: the connection is psycopg's

    text, params = statement
    driver = tx.conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    if driver.info.transaction_status != psycopg.pq.TransactionStatus.INTRANS:
        # The batch's statements would have run one by one, each committed alone: never go on.
        raise RuntimeError("the batch's statements ran outside a transaction")
    with as_sqlalchemy_errors(tx.conn, text, params), psycopg.RawCursor(driver) as records:
        with driver.pipeline():
            decision_store.flush_events(tx)
            records.execute(text, params)
            tx.commit_sent = True  # from here the outcome may be unknown; before, COMMIT never left
            driver.execute("COMMIT")
        # The pipeline's end waited for every answer: the ids are here, COMMIT is done.
        audit_sync.settle_ids(tx, records.fetchall())


def rolled_back(tx: Tx) -> bool:
    """After commit() failed: True when nothing of the batch can have committed. Either COMMIT
    never reached the driver (an error raised before it, e.g. a value psycopg cannot send: what
    was queued ran, uncommitted, in the open transaction), or the database refused a statement
    before it (the connection is in a failed transaction, and PostgreSQL skipped COMMIT)."""
    import psycopg

    if not tx.commit_sent:
        return True
    if tx.conn.invalidated:  # the connection was lost after COMMIT went out: the outcome is unknown
        return False
    driver: Any = tx.conn.connection.driver_connection
    return (isinstance(driver, psycopg.Connection) and not driver.closed
            and driver.info.transaction_status == psycopg.pq.TransactionStatus.INERROR)

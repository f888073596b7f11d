"""The audit chain's append for the writer thread (control.db.writer): Core statements on a
synchronous connection, the chain's rules unchanged (control.services.audit's docstring).

Each record appended counts in Tx.writes (control.db.writer undoes a decision that fails after
writing by rolling the batch back). A batch transaction locks each chain's head once (SELECT ... FOR
UPDATE on PostgreSQL; SQLite's transaction is exclusive anyway) and keeps its last hash in Tx.heads
while its decisions append. The records are linked (previous hash, hash) as they are appended and
inserted together just before COMMIT (flush_heads): one multi-row INSERT sent to the driver
(control.db.driver_insert; the head's read and update go to the driver too, control.db.driver_calls) whose ids come back in the order the records were appended, while the
heads are still locked, so ids follow each chain's order as before; then each head row is written
once. One statement per batch instead of one per record: on PostgreSQL each was a round trip.
On PostgreSQL the records and their heads are one statement (closing_statement), sent with the
batch's events and COMMIT in one pipeline (control.db.pipelined_commit).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from control.db import driver_insert
from control.db.driver_calls import driver_known, driver_statement, execute_many
from control.db.models import AuditChainHead, AuditEvent
from control.services import audit

if TYPE_CHECKING:
    from control.db.writer import Tx

_HEADS = AuditChainHead.__table__  # type: ignore[attr-defined]
_EVENTS = AuditEvent.__table__  # type: ignore[attr-defined]
_EVENT_COLUMNS = tuple(c.name for c in _EVENTS.columns if c.name != "id")

# Built once, values bound per execution: compiled and cache-keyed once.
_HEAD = (select(_HEADS.c.last_event_id, _HEADS.c.last_hash)
         .where(_HEADS.c.tenant_id == bindparam("chain")))
_HEAD_FOR_UPDATE = _HEAD.with_for_update()
_UPDATE_HEAD = (update(_HEADS).where(_HEADS.c.tenant_id == bindparam("chain"))
                .values(last_event_id=bindparam("last_id"), last_hash=bindparam("last_hash")))
_CREATE_HEAD = {name: dialect.insert(_HEADS).values(tenant_id=bindparam("chain"))
                .on_conflict_do_nothing(index_elements=["tenant_id"])
                for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))}


class Head(NamedTuple):
    """A chain's head as the batch left it (immutable: a rolled-back decision restores the old one)."""

    last_event_id: int
    last_hash: str
    dirty: bool = False


def lock_head(tx: Tx, chain: str) -> Head:
    """The chain's head, locked until the batch's transaction ends (created on its first record)."""
    head = tx.heads.get(chain)
    if head is not None:
        return head
    query = _HEAD_FOR_UPDATE if tx.postgres else _HEAD
    row = _read_head(tx, query, chain)
    if row is None:
        tx.conn.execute(_CREATE_HEAD[tx.conn.dialect.name], {"chain": chain})
        tx.writes += 1
        row = _read_head(tx, query, chain)
        assert row is not None, "the head row made in this transaction"
    head = tx.heads[chain] = Head(int(row[0]), str(row[1]))
    return head


def _read_head(tx: Tx, query: Select[Any], chain: str) -> Sequence[Any] | None:
    if not driver_known(tx.conn):
        return tx.conn.execute(query, {"chain": chain}).first()
    rows = driver_statement(tx.conn.dialect, query).rows(tx.conn, {"chain": chain})
    return rows[0] if rows else None


def append(tx: Tx, records: Sequence[audit.AuditRecord]) -> None:
    """Links `records` into their chains in list order (audit.append's rules), in tx's transaction."""
    by_chain: dict[str, list[audit.AuditRecord]] = {}
    for record in records:
        by_chain.setdefault(audit.chain_of(record.tenant_id), []).append(record)
    for chain in sorted(by_chain):  # a fixed order: two writers never wait on each other's heads
        head = lock_head(tx, chain)
        previous = head.last_hash
        for record in by_chain[chain]:
            record.previous_hash = previous
            record.hash = previous = audit.compute_hash(record)
            tx.audit.append((chain, record))
            tx.writes += 1
        tx.heads[chain] = Head(head.last_event_id, previous, dirty=True)


def flush_heads(tx: Tx) -> None:
    """Inserts the batch's records in the order they were appended, then writes the heads they
    moved (called once, right before COMMIT)."""
    if tx.audit:
        rows = [[getattr(record, name) for name in _EVENT_COLUMNS] for _, record in tx.audit]
        ids = driver_insert.insert_rows(tx.conn, _EVENTS, _EVENT_COLUMNS, rows)
        for (chain, record), event_id in zip(tx.audit, ids):
            record.id = event_id
            head = tx.heads[chain]
            tx.heads[chain] = Head(max(head.last_event_id, event_id), head.last_hash, dirty=True)
        tx.audit.clear()
    moved = [{"chain": chain, "last_id": head.last_event_id, "last_hash": head.last_hash}
             for chain, head in tx.heads.items() if head.dirty]
    if not moved:
        return
    execute_many(tx.conn, _UPDATE_HEAD, moved)  # psycopg pipelines it: one round trip for all the batch's tenants


# -- PostgreSQL: the records and their heads in one statement -----------------------------------


def closing_statement(tx: Tx) -> tuple[str, list[Any]] | None:
    """PostgreSQL: the batch's records and the heads they moved as one statement, which gives the
    records' ids back in their order (control.db.pipelined_commit sends it with COMMIT). The heads'
    last ids come from the INSERT inside the statement, so nothing waits for the ids; None when
    the batch moved no chain, or has more records than one statement takes (flush_heads then)."""
    moved = [(chain, head.last_hash) for chain, head in tx.heads.items() if head.dirty]
    if not tx.audit or not moved or len(tx.audit) > driver_insert.ROWS_PER_STATEMENT:
        return None
    params = [getattr(record, name) for _, record in tx.audit for name in _EVENT_COLUMNS]
    params += [value for pair in moved for value in pair]
    return _closing_text(len(tx.audit), len(moved)), params


def settle_ids(tx: Tx, rows: Sequence[Sequence[Any]]) -> None:
    """The ids closing_statement's INSERT drew, in the records' order (as flush_heads sets them)."""
    ids = [int(row[0]) for row in rows]
    if len(ids) != len(tx.audit):
        raise RuntimeError(f"{len(tx.audit)} audit records inserted, {len(ids)} ids returned")
    for (chain, record), event_id in zip(tx.audit, ids):
        record.id = event_id
        head = tx.heads[chain]
        tx.heads[chain] = Head(max(head.last_event_id, event_id), head.last_hash)
    tx.audit.clear()


@lru_cache(maxsize=256)  # per (records, heads): each text built once, each prepared by psycopg in turn
def _closing_text(records: int, heads: int) -> str:
    first = records * len(_EVENT_COLUMNS) + 1
    moved = ", ".join(f"(${first + 2 * n}::VARCHAR, ${first + 2 * n + 1}::VARCHAR)" for n in range(heads))
    table = _HEADS.name
    # A chain is its tenant's id, "" for the deployment's records (audit.chain_of). GREATEST skips
    # the NULL of a head none of these records moved, as max() did in flush_heads.
    return (f"WITH ins AS ({driver_insert.postgres_insert(_EVENTS, _EVENT_COLUMNS, records)} RETURNING id, tenant_id), "
            f"moved AS (UPDATE {table} AS h SET last_hash = m.last_hash, last_event_id = GREATEST(h.last_event_id, "
            f"(SELECT max(ins.id) FROM ins WHERE COALESCE(ins.tenant_id, '') = h.tenant_id)) "
            f"FROM (VALUES {moved}) AS m(chain, last_hash) WHERE h.tenant_id = m.chain) "
            f"SELECT id FROM ins ORDER BY id")

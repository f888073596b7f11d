"""The audit chain's append for the writer thread (control.db.writer): Core statements on a
synchronous connection, the chain's rules unchanged (control.services.audit's docstring).

Each record appended counts in Tx.writes (control.db.writer undoes a decision that fails after
writing by rolling the batch back). A batch transaction locks each chain's head once (SELECT ... FOR
UPDATE on PostgreSQL; SQLite's transaction is exclusive anyway) and keeps its last hash in Tx.heads
while its decisions append. The records are linked (previous hash, hash) as they are appended and
inserted together just before COMMIT (flush_heads): one multi-row INSERT whose ids come back in
the order the records were appended, while the heads are still locked, so ids follow each chain's
order as before; then each head row is written once. One statement per batch instead of one per
record: on PostgreSQL each was a round trip.

On PostgreSQL the records go as one array per column (unnest ... WITH ORDINALITY, ORDER BY the
position), so the statement's text is the same for every batch size: psycopg parses it once and
prepares it, PostgreSQL plans it once. A multi-row VALUES was a new text for each size, over 50
parameters, which psycopg never caches: it parsed the whole text again on every batch (~5 % of
the process's CPU under CheckFileInfo at 32 connections). The ids come back sorted with their
records' hashes, and each must match the record appended at that position, so a batch never
commits ids out of its chain's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import String, TextClause, bindparam, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeDecorator, TypeEngine

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


_INSERT_EVENTS = insert(_EVENTS).returning(_EVENTS.c.id, sort_by_parameter_order=True)


def _plain(type_: TypeEngine[Any]) -> TypeEngine[Any]:
    """The type under a decorator (SQLModel's AutoString is a String)."""
    return type_.impl_instance if isinstance(type_, TypeDecorator) else type_


def _insert_events_from_arrays() -> TextClause:
    """PostgreSQL: the batch's records as one array per column, inserted in their order."""
    dialect = postgresql.dialect()
    quote = dialect.identifier_preparer.quote
    columns = [_EVENTS.c[name] for name in _EVENT_COLUMNS]
    names = ", ".join(quote(column.name) for column in columns)
    # Strings as TEXT: a cast to VARCHAR(n) would cut a longer value short, where the INSERT into
    # the column refuses it (as the VALUES form did).
    arrays = ", ".join(f"CAST(:{column.name} AS "
                       f"{'TEXT' if isinstance(_plain(column.type), String) else column.type.compile(dialect)}[])"
                       for column in columns)
    return text(f"INSERT INTO {quote(_EVENTS.name)} ({names}) SELECT {names} FROM unnest({arrays}) "
                f"WITH ORDINALITY AS batch({names}, position) ORDER BY position "
                f"RETURNING {quote(_EVENTS.c.id.name)}, {quote(_EVENTS.c.hash.name)}")


_INSERT_EVENTS_PG = _insert_events_from_arrays()


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
    row = tx.conn.execute(query, {"chain": chain}).first()
    if row is None:
        tx.conn.execute(_CREATE_HEAD[tx.conn.dialect.name], {"chain": chain})
        tx.writes += 1
        row = tx.conn.execute(query, {"chain": chain}).one()
    head = tx.heads[chain] = Head(int(row[0]), str(row[1]))
    return head


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
        records = [record for _, record in tx.audit]
        ids = _insert_pg(tx, records) if tx.postgres else _insert(tx, records)
        if len(ids) != len(records):
            raise RuntimeError(f"{len(records)} audit records inserted, {len(ids)} ids returned")
        for (chain, record), event_id in zip(tx.audit, ids):
            record.id = event_id
            head = tx.heads[chain]
            tx.heads[chain] = Head(max(head.last_event_id, event_id), head.last_hash, dirty=True)
        tx.audit.clear()
    moved = [{"chain": chain, "last_id": head.last_event_id, "last_hash": head.last_hash}
             for chain, head in tx.heads.items() if head.dirty]
    if moved:  # one executemany: psycopg pipelines it (one round trip for all the batch's tenants)
        tx.conn.execute(_UPDATE_HEAD, moved)


def _insert(tx: Tx, records: list[audit.AuditRecord]) -> list[int]:
    rows = [{name: getattr(record, name) for name in _EVENT_COLUMNS} for record in records]
    return [int(row[0]) for row in tx.conn.execute(_INSERT_EVENTS, rows)]


def _insert_pg(tx: Tx, records: list[audit.AuditRecord]) -> list[int]:
    """The records' ids, in the order given (each checked against its record's hash)."""
    arrays = {name: [getattr(record, name) for record in records] for name in _EVENT_COLUMNS}
    returned = sorted((int(event_id), str(hash_)) for event_id, hash_ in tx.conn.execute(_INSERT_EVENTS_PG, arrays))
    if [hash_ for _, hash_ in returned] != [record.hash for record in records]:
        raise RuntimeError("the audit records' ids do not follow the order they were appended in")
    return [event_id for event_id, _ in returned]

"""Many rows inserted in one statement sent to the database driver itself, ids back in row order.

Why: the writer thread inserts a batch's audit records in one statement (control.db.audit_sync).
Through SQLAlchemy's "insertmanyvalues", each batch paid for compiling the statement's parameters
by name and, on PostgreSQL, for psycopg parsing the whole text again (its cache of parsed queries
skips statements of over 50 parameters): ~2.7 ms of CPU for 32 records against ~0.4 ms here (bench/
README, twelfth round). Here the text for each row count is built once, with positional
placeholders the driver does not parse (psycopg's RawCursor: $1, $2 ...; sqlite3: ?), and the
driver's errors are raised as SQLAlchemy's, as the writer's failure handling expects
(control.db.writer: DBAPIError, connection_invalidated).

Ids follow the rows' order as SQLAlchemy's sort_by_parameter_order made them: on PostgreSQL the
rows go through INSERT ... SELECT ... ORDER BY their position (the sequence is drawn in that
order), on SQLite through one multi-row VALUES (rowids are given in order); the ids returned are
sorted, since RETURNING's order is not promised.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Table, insert

from control.db.driver_calls import driver_known, execute_raw

ROWS_PER_STATEMENT = 100  # bounds a statement's text and parameters (SQLite allows 32,766, PostgreSQL 65,535)


def insert_rows(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                *, id_column: str = "id") -> list[int]:
    """Inserts `rows` (values in `columns`' order) in list order; returns their ids in that order."""
    if not driver_known(conn):  # another driver: SQLAlchemy's own way
        statement = insert(table).returning(table.c[id_column], sort_by_parameter_order=True)
        return [int(row[0]) for row in conn.execute(statement, [dict(zip(columns, row)) for row in rows])]
    ids: list[int] = []
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start:start + ROWS_PER_STATEMENT]
        text = _statement(conn.dialect.name, table, tuple(columns), id_column, len(chunk))
        params = [value for row in chunk for value in row]
        returned = sorted(int(row[0]) for row in execute_raw(conn, text, params))
        if len(returned) != len(chunk):
            raise RuntimeError(f"{len(chunk)} rows inserted into {table.name}, {len(returned)} ids returned")
        ids += returned
    return ids


@lru_cache(maxsize=2 * ROWS_PER_STATEMENT)  # per database kind, table and row count: each built once
def _statement(dialect: str, table: Table, columns: tuple[str, ...], id_column: str, count: int) -> str:
    names = ", ".join(columns)
    if dialect == "sqlite":
        row = "(" + ", ".join("?" * len(columns)) + ")"
        return f"INSERT INTO {table.name} ({names}) VALUES {', '.join([row] * count)} RETURNING {id_column}"
    return f"{postgres_insert(table, columns, count)} RETURNING {id_column}"


def postgres_insert(table: Table, columns: tuple[str, ...], count: int) -> str:
    """`count` rows into `table` with positional parameters $1 ... (row after row, in `columns`'
    order), drawing the table's ids in the rows' order; without RETURNING (the caller's)."""
    from sqlalchemy.dialects import postgresql

    # Each column's type without its length: a cast to VARCHAR(n) would cut a longer value short
    # where the column refuses it (and the batch with it, as a record must be stored as hashed).
    types = [type(table.c[name].type)().compile(dialect=postgresql.dialect()) for name in columns]
    width = len(columns)
    values = ", ".join(
        "(" + ", ".join(f"${n * width + i + 1}::{kind}" for i, kind in enumerate(types)) + f", {n})"
        for n in range(count))
    aliases = ", ".join(f"p{i}" for i in range(width))
    return (f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {aliases} FROM (VALUES {values}) "
            f"AS v({aliases}, position) ORDER BY position")

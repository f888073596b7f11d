"""Statements sent to the database driver itself, with SQLAlchemy's errors and values.

Why: on the writer thread (control.db.writer) a statement's trip through SQLAlchemy (compiled-cache
lookup, execution context, result object, row processing) costs more CPU than the driver's own
work for the hot path's small statements. Two kinds go around it: a multi-row INSERT whose text is
built once per row count (control.db.driver_insert), and statements compiled once
(`DriverStatement`: the grant's read, the audit chain head's lock and update). Both only for the drivers whose placeholders they know (`DRIVERS`); the callers use
SQLAlchemy's own statements for any other.

What SQLAlchemy would have done is kept: the driver's errors are raised as SQLAlchemy's
(`DBAPIError`, `connection_invalidated` and the connection invalidated when it was lost: the
writer's failure handling reads exactly that), and each column's result processor (SQLite's
booleans, decrypted columns) is applied to the values as SQLAlchemy applies it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Executable, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

DRIVERS = {("sqlite", "pysqlite"), ("postgresql", "psycopg")}
PENDING_BEGIN = "wopi_proxy.pending_begin"  # Connection.info key of the transaction's PendingBegin


@dataclass
class PendingBegin:
    """The statements that open a PostgreSQL transaction (BEGIN, its timeouts), sent with its first
    statement: one pipeline, one round trip instead of two. `sent` once the database answered
    them. A statement through SQLAlchemy's own execution sends them first, on their own (the
    writer's before_cursor_execute hook, control.db.writer)."""

    statements: tuple[str, ...]
    sent: bool = False


def pending_begin(conn: Connection) -> PendingBegin | None:
    begin = conn.info.get(PENDING_BEGIN)
    return None if begin is None or begin.sent else begin  # type: ignore[no-any-return]


def _send(conn: Connection, cursor: Any, text: str, params: Any, *, many: bool = False) -> None:
    """cursor.execute (executemany), with the transaction's pending BEGIN in the same pipeline."""
    begin = pending_begin(conn)
    if begin is None:
        cursor.executemany(text, params) if many else cursor.execute(text, params)
        return
    driver = conn.connection.driver_connection
    with driver.pipeline():  # type: ignore[union-attr]
        for statement in begin.statements:
            driver.execute(statement)  # type: ignore[union-attr]
        cursor.executemany(text, params) if many else cursor.execute(text, params)
    begin.sent = True  # the pipeline's end waited for every answer


def driver_known(conn: Connection) -> bool:
    return (conn.dialect.name, conn.dialect.driver) in DRIVERS


def execute_raw(conn: Connection, text: str, params: list[Any]) -> list[Any]:
    """`text` with positional placeholders ($1 on PostgreSQL, ? on SQLite), its rows as the driver
    gives them."""
    with as_sqlalchemy_errors(conn, text, params):
        if conn.dialect.name == "postgresql":
            import psycopg  # loaded already: the connection is psycopg's

            driver = conn.connection.driver_connection
            assert isinstance(driver, psycopg.Connection)
            with psycopg.RawCursor(driver) as raw:
                _send(conn, raw, text, params)
                return raw.fetchall()
        return _fetch_all(conn, text, params)


def _fetch_all(conn: Connection, text: str, params: Any) -> list[Any]:
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        _send(conn, cursor, text, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


@dataclass(frozen=True)
class DriverStatement:
    """A statement compiled once for one dialect: its text, its parameters' names in the order a
    positional driver takes them, and the result processors of its columns (by position)."""

    text: str
    names: tuple[str, ...]
    named: bool  # pyformat (psycopg: a mapping) or qmark (sqlite3: a tuple in `names`' order)
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]
    required: frozenset[str]  # the bindparam()s without a value: the caller gives each
    fixed: Mapping[str, Any]  # the statement's own values (a LIMIT, a column set to a constant)

    def _params(self, values: Mapping[str, Any]) -> Any:
        if missing := self.required - values.keys():
            raise KeyError(f"no value for the parameters {sorted(missing)}")
        if self.fixed:
            values = {**self.fixed, **values}
        return values if self.named else tuple(values[name] for name in self.names)

    def rows(self, conn: Connection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The statement's rows, each value as SQLAlchemy's execution would give it."""
        params = self._params(values)
        with as_sqlalchemy_errors(conn, self.text, params):
            found = _fetch_all(conn, self.text, params)
        if not self.processors:
            return [tuple(row) for row in found]
        processed = []
        for row in found:
            converted = list(row)
            for at, process in self.processors:
                converted[at] = process(converted[at])
            processed.append(tuple(converted))
        return processed

    def run_many(self, conn: Connection, many: Sequence[Mapping[str, Any]]) -> None:
        """The statement once per mapping (psycopg pipelines them: one round trip)."""
        params = [self._params(values) for values in many]
        with as_sqlalchemy_errors(conn, self.text, params):
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                _send(conn, cursor, self.text, params, many=True)
            finally:
                cursor.close()


@lru_cache(maxsize=32)  # per dialect (one per engine) and statement: each compiled once
def driver_statement(dialect: Dialect, statement: Executable) -> DriverStatement:
    """`statement` (bound parameters only, no literal values) as the driver of `dialect` takes it."""
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    if dialect.paramstyle == "pyformat":
        names: tuple[str, ...] = tuple(compiled.params)
    elif dialect.paramstyle == "qmark" and compiled.positiontup is not None:
        names = tuple(compiled.positiontup)
    else:
        raise ValueError(f"cannot send this statement to the driver as is ({dialect.paramstyle})")
    if "POSTCOMPILE" in str(compiled):  # an expanding IN list: SQLAlchemy writes its text per execution
        raise ValueError("an expanding parameter")
    converted = [name for name, bind in compiled.binds.items() if bind.type._cached_bind_processor(dialect)]
    if converted:  # SQLAlchemy would convert these values before sending them: not done here
        raise ValueError(f"parameters {converted} need SQLAlchemy's conversion")
    columns = statement.selected_columns if isinstance(statement, Select) else ()
    processors = tuple((at, process) for at, column in enumerate(columns)
                       if (process := column.type._cached_result_processor(dialect, None)) is not None)
    binds = [(name, compiled.binds[name]) for name in names]
    required = frozenset(name for name, bind in binds if bind.required)
    fixed = {name: bind.value for name, bind in binds if not bind.required}
    if any(bind.callable is not None for _, bind in binds):
        raise ValueError("a parameter whose value is computed per execution")
    return DriverStatement(text=str(compiled), names=names, named=dialect.paramstyle == "pyformat",
                           processors=processors, required=required, fixed=fixed)


@lru_cache(maxsize=64)
def _statement_or_none(dialect: Dialect, statement: Executable) -> DriverStatement | None:
    try:
        return driver_statement(dialect, statement)
    except ValueError:
        return None  # SQLAlchemy's own execution, every time (decided once)


def rows_of(conn: Connection, statement: Executable, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """`statement`'s rows as SQLAlchemy gives them: through the driver when it can go there."""
    compiled = _statement_or_none(conn.dialect, statement) if driver_known(conn) else None
    if compiled is None:
        return [tuple(row) for row in conn.execute(statement, dict(values))]
    return compiled.rows(conn, values)


def first_row(conn: Connection, statement: Executable, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
    rows = rows_of(conn, statement, values)
    return rows[0] if rows else None


def execute_many(conn: Connection, statement: Executable, many: Sequence[Mapping[str, Any]]) -> None:
    """`statement` (no result rows) once per mapping: through the driver when it can go there."""
    compiled = _statement_or_none(conn.dialect, statement) if driver_known(conn) else None
    if compiled is None:
        conn.execute(statement, list(many))
    else:
        compiled.run_many(conn, many)


@contextmanager
def as_sqlalchemy_errors(conn: Connection, text: str, params: Any) -> Iterator[None]:
    """The driver's error as SQLAlchemy would have raised it (a lost connection invalidated)."""
    dialect = conn.dialect
    base = dialect.loaded_dbapi.Error
    try:
        yield
    except base as error:
        lost = dialect.is_disconnect(error, conn.connection.dbapi_connection, None)
        wrapped = DBAPIError.instance(text, params, error, base, hide_parameters=True, connection_invalidated=lost,
                                      dialect=dialect)
        if lost:
            conn.invalidate(error)
        raise wrapped from error

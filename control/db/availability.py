"""Whether a database error means the database cannot be reached (stopped, restarting, the
connection lost), as opposed to a refused statement or a bug. An outage is answered "unavailable,
try again" and logged as one line now and then; anything else stays an internal error with its
traceback. The rule lives here so that requests and background jobs tell the two apart alike."""

from __future__ import annotations

import logging
import math
import threading
import time

from sqlalchemy.exc import DBAPIError, OperationalError

# PostgreSQL's SQLSTATEs of a server going away or not there yet, besides class 08 (connection
# exception): 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now. A connection
# refused at start-up (too many connections included) has no SQLSTATE in psycopg.
_GONE = ("57P01", "57P02", "57P03")
WARN_EVERY_S = 10.0  # an outage fails every request: one line per what-failed per this long

_last_warned: dict[str, float] = {}
_warned_lock = threading.Lock()


def unreachable(error: BaseException) -> bool:
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if not isinstance(error, OperationalError):
        # An InterfaceError that is no lost connection (SQLAlchemy invalidates it for those) is
        # a misuse of the driver: a bug, with its traceback.
        return False
    # psycopg's errors carry `sqlstate`, None when no server answered at all (refused, lost);
    # sqlite3's carry none, and SQLite (a file) has no outage of this kind.
    state = getattr(error.orig, "sqlstate", "")
    return state is None or str(state).startswith("08") or state in _GONE


def describe(error: BaseException) -> str:
    """The driver's first line (SQLAlchemy's own text adds the statement and a link)."""
    original = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    text = str(original).strip().splitlines()
    return text[0] if text else type(original).__name__


def log_failure(log: logging.Logger, what: str, error: BaseException) -> None:
    """`what failed`: a warning line (at most every WARN_EVERY_S per `what`) when the database
    cannot be reached, else an error with the traceback."""
    if not unreachable(error):
        log.error("%s failed", what, exc_info=error)
        return
    now = time.monotonic()
    with _warned_lock:
        if now - _last_warned.get(what, -math.inf) < WARN_EVERY_S:
            return
        _last_warned[what] = now
    log.warning("%s failed: the database cannot be reached (%s)", what, describe(error))

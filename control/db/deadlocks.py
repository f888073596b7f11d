"""Deletions that sweep many rows cannot always take their locks in the order every other writer
takes them (a commit that inserts a session waits for its tenant row through the foreign key).
When PostgreSQL picks such a transaction as a deadlock's victim, nothing of it was committed, so it
is simply run again; any other error, or a deadlock on the last attempt, goes to the caller."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

ATTEMPTS = 3
PG_DEADLOCK = "40P01"
T = TypeVar("T")


def is_deadlock(error: DBAPIError) -> bool:
    return getattr(error.orig, "sqlstate", None) == PG_DEADLOCK


async def retried_on_deadlock(work: Callable[[], Awaitable[T]], what: str) -> T:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await work()
        except DBAPIError as error:
            if not is_deadlock(error) or attempt == ATTEMPTS:
                raise
            log.info("%s met a deadlock; running it again", what)
    raise AssertionError("unreachable")

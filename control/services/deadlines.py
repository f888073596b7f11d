"""The caller's deadline, carried into the service layer: work whose caller gave up never commits.

The gRPC boundary (control/api/errors.py) opens a budget per call from context.time_remaining()
and marks it abandoned when the caller cancels; ServiceContext.transaction() checks it right
before committing (DeadlineExceeded rolls the transaction back) and bounds SQLite's wait for
its write lock (BEGIN IMMEDIATE) by the time left. Code outside any call (background tasks,
tests) runs without a budget: nothing is checked.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from dataclasses import dataclass

from shared.errors import DeadlineExceeded

# Committing takes a moment: a transaction that reaches its commit with less than this left
# might commit after the caller has stopped waiting.
COMMIT_MARGIN_S = 0.05


@dataclass
class Budget:
    deadline: float | None  # time.monotonic() value; None: the caller set no deadline
    abandoned: bool = False  # the caller cancelled (went away)

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def check(self, what: str = "commit") -> None:
        if self.abandoned:
            raise DeadlineExceeded(f"the caller went away before the {what}")
        left = self.remaining()
        if left is not None and left < COMMIT_MARGIN_S:
            raise DeadlineExceeded(f"the caller's deadline passed before the {what}")


_budget: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("call_budget", default=None)


def current() -> Budget | None:
    return _budget.get()


@contextlib.contextmanager
def budget(time_remaining: float | None) -> Iterator[Budget]:
    """Opens the budget of one call; tasks created inside share it (they copy the context)."""
    opened = Budget(deadline=None if time_remaining is None else time.monotonic() + time_remaining)
    token = _budget.set(opened)
    try:
        yield opened
    finally:
        _budget.reset(token)


def check(what: str = "commit") -> None:
    found = _budget.get()
    if found is not None:
        found.check(what)


def lock_wait_ms(default_ms: int) -> int:
    """How long a transaction may wait for SQLite's write lock: the time left, at most `default_ms`."""
    found = _budget.get()
    left = found.remaining() if found is not None else None
    if left is None:
        return default_ms
    return max(1, min(default_ms, int(left * 1000)))

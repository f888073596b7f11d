"""The caller's deadline, carried into the service layer: work whose caller gave up never commits.

The gRPC boundary (control/api/errors.py) opens a budget per call from context.time_remaining()
and marks it abandoned when the caller cancels; ServiceContext.transaction() checks it right
before committing (DeadlineExceeded rolls the transaction back) and bounds SQLite's wait for
its write lock (BEGIN IMMEDIATE) by the time left. A call waiting for its turn at something
shared (turn()) leaves the queue as soon as its caller gives up. Code outside any call
(background tasks, tests) runs without a budget: nothing is checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from shared.errors import DeadlineExceeded

# Committing takes a moment: a transaction that reaches its commit with less than this left
# might commit after the caller has stopped waiting.
COMMIT_MARGIN_S = 0.05


@dataclass
class Budget:
    deadline: float | None  # time.monotonic() value; None: the caller set no deadline
    _gone: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def abandoned(self) -> bool:
        """The caller cancelled (went away). Set on the event loop; other threads only read it."""
        return self._gone.is_set()

    @abandoned.setter
    def abandoned(self, value: bool) -> None:
        if value:
            self._gone.set()
        else:
            self._gone.clear()

    async def gone(self) -> None:
        """Returns once the caller has gone away."""
        await self._gone.wait()

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


@contextlib.asynccontextmanager
async def turn(semaphore: asyncio.Semaphore, what: str) -> AsyncIterator[None]:
    """Holds a place of `semaphore` for the block. The wait for it lasts no longer than the
    caller does: when its deadline passes or it goes away first, DeadlineExceeded, and its place
    in the queue is given up (the shielded work of a cancelled call would otherwise still be
    waiting, and then run for nobody)."""
    await _acquire(semaphore, what)
    try:
        yield
    finally:
        semaphore.release()


async def _acquire(semaphore: asyncio.Semaphore, what: str) -> None:
    found = _budget.get()
    if found is None:
        await semaphore.acquire()
        return
    found.check(what)
    acquiring = asyncio.ensure_future(semaphore.acquire())
    gone = asyncio.ensure_future(found.gone())
    try:
        await asyncio.wait((acquiring, gone), timeout=found.remaining(), return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        _give_up(semaphore, acquiring)
        raise
    finally:
        gone.cancel()
    if acquiring.done():
        acquiring.result()  # its place, even if the caller left meanwhile: its own checks come next
        return
    _give_up(semaphore, acquiring)
    found.check(what)
    raise DeadlineExceeded(f"the caller's deadline passed before the {what}")


def _give_up(semaphore: asyncio.Semaphore, acquiring: asyncio.Future[Any]) -> None:
    if not acquiring.done():
        acquiring.cancel()  # Semaphore.acquire passes a place it was just given on to the next waiter
    elif not acquiring.cancelled() and acquiring.exception() is None:
        semaphore.release()


def lock_wait_ms(default_ms: int) -> int:
    """How long a transaction may wait for SQLite's write lock: the time left, at most `default_ms`."""
    found = _budget.get()
    left = found.remaining() if found is not None else None
    if left is None:
        return default_ms
    return max(1, min(default_ms, int(left * 1000)))

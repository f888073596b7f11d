"""Concurrent control-plane calls of one kind share one gRPC call.

Why: under load the fixed cost of a gRPC call (both processes: the call object, metadata, the
completion-queue wake-ups, interceptors) is a large share of a WOPI request's CPU. A request goes
out at once, alone, while fewer than `max_in_flight` calls are out, so an idle edge answers
exactly as before. When that many are out, requests wait, and as soon as one call comes back
everything waiting goes out as one batch call (at most `max_batch` items). Nothing waits for a
timer: a request waits at most for one call in flight to come back.

Each item keeps its own outcome (a grant or its own domain error) and its own deadline: a batch
goes out with the earliest deadline of its items, so no item waits past its own. An error of the
batch call itself (the control plane unreachable, the deadline) is every item's error. A caller that
goes away while waiting is dropped from its batch; one whose batch is already out gets no answer,
as with a call of its own that the control plane finished after the caller left.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# send_one(item, deadline) and send_many(items, deadline): deadline is time.monotonic()-based.
SendOne = Callable[[Item, float], Awaitable[Result]]
SendMany = Callable[[Sequence[Item], float], Awaitable[Sequence["Result | BaseException"]]]


@dataclass
class _Waiting(Generic[Item, Result]):
    item: Item
    deadline: float
    future: asyncio.Future[Result]


class CallBatcher(Generic[Item, Result]):
    """One per kind of call (its deadline class and retry rule are the sender's)."""

    def __init__(self, send_one: SendOne[Item, Result], send_many: SendMany[Item, Result], *,
                 max_in_flight: int, max_batch: int) -> None:
        if max_in_flight < 1 or max_batch < 1:
            raise ValueError("max_in_flight and max_batch must be at least 1")
        self._send_one = send_one
        self._send_many = send_many
        self._max_in_flight = max_in_flight
        self._max_batch = max_batch
        self._in_flight = 0
        self._waiting: deque[_Waiting[Item, Result]] = deque()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def call(self, item: Item, timeout_s: float) -> Result:
        deadline = time.monotonic() + timeout_s
        if self._max_batch == 1 or (self._in_flight < self._max_in_flight and not self._waiting):
            self._in_flight += 1
            try:
                return await self._send_one(item, deadline)
            finally:
                self._in_flight -= 1
                self._dispatch()
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(item, deadline, future))
        self._dispatch()
        return await future

    def _dispatch(self) -> None:
        while self._waiting and self._in_flight < self._max_in_flight:
            batch: list[_Waiting[Item, Result]] = []
            while self._waiting and len(batch) < self._max_batch:
                waiting = self._waiting.popleft()
                if not waiting.future.done():  # done: its caller went away
                    batch.append(waiting)
            if not batch:
                return
            self._in_flight += 1
            task = asyncio.ensure_future(self._send(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[_Waiting[Item, Result]]) -> None:
        deadline = min(waiting.deadline for waiting in batch)
        try:
            if len(batch) == 1:
                outcomes: Sequence[Result | BaseException] = [await self._send_one(batch[0].item, deadline)]
            else:
                outcomes = await self._send_many([waiting.item for waiting in batch], deadline)
                if len(outcomes) != len(batch):
                    raise RuntimeError(f"batch of {len(batch)} answered with {len(outcomes)} results")
        except asyncio.CancelledError:  # the edge is stopping
            for waiting in batch:
                waiting.future.cancel()
            raise
        except Exception as error:  # the whole call failed: every item's error
            outcomes = [error] * len(batch)
        finally:
            self._in_flight -= 1
            self._dispatch()
        for waiting, outcome in zip(batch, outcomes):
            if waiting.future.done():
                continue
            if isinstance(outcome, BaseException):
                waiting.future.set_exception(outcome)
            else:
                waiting.future.set_result(outcome)

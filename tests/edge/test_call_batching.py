"""edge.call_batching: concurrent grant calls share one gRPC call, and each keeps its own outcome.

The sender here is a stand-in for the gRPC stub (the batcher is pure asyncio); the real calls are
covered end to end in tests/e2e/test_grant_batching.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from edge.call_batching import CallBatcher


@dataclass
class Sender:
    """Records what went out; each call waits until the test releases it."""

    singles: list[str] = field(default_factory=list)
    batches: list[list[str]] = field(default_factory=list)
    deadlines: list[float] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    fail_batch: Exception | None = None

    async def one(self, item: str, deadline: float) -> str:
        self.singles.append(item)
        self.deadlines.append(deadline)
        await self.release.wait()
        if item.startswith("bad"):
            raise ValueError(item)
        return item.upper()

    async def many(self, items: Sequence[str], deadline: float) -> list[str | BaseException]:
        self.batches.append(list(items))
        self.deadlines.append(deadline)
        await self.release.wait()
        if self.fail_batch is not None:
            raise self.fail_batch
        return [ValueError(i) if i.startswith("bad") else i.upper() for i in items]


def batcher(sender: Sender, *, in_flight: int = 1, max_batch: int = 64) -> CallBatcher[str, str]:
    return CallBatcher(sender.one, sender.many, max_in_flight=in_flight, max_batch=max_batch)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_a_lone_call_goes_out_at_once_on_its_own() -> None:
    async def scenario() -> None:
        sender = Sender()
        sender.release.set()
        assert await batcher(sender).call("a", 5) == "A"
        assert sender.singles == ["a"] and sender.batches == []
    run(scenario())


def test_calls_arriving_while_the_limit_is_out_go_together_in_one_call() -> None:
    async def scenario() -> None:
        sender = Sender()
        calls = batcher(sender, in_flight=1)
        first = asyncio.ensure_future(calls.call("a", 5))
        await settle()
        rest = [asyncio.ensure_future(calls.call(x, 5)) for x in "bcd"]
        await settle()
        assert sender.singles == ["a"] and sender.batches == []  # nothing goes out while one is out
        sender.release.set()
        assert await asyncio.gather(first, *rest) == ["A", "B", "C", "D"]
        assert sender.batches == [["b", "c", "d"]]
    run(scenario())


def test_each_item_of_a_batch_gets_its_own_error_or_result() -> None:
    async def scenario() -> None:
        sender = Sender()
        calls = batcher(sender)
        first = asyncio.ensure_future(calls.call("a", 5))
        await settle()
        good, bad = asyncio.ensure_future(calls.call("b", 5)), asyncio.ensure_future(calls.call("bad-c", 5))
        sender.release.set()
        assert await first == "A" and await good == "B"
        with pytest.raises(ValueError, match="bad-c"):
            await bad
    run(scenario())


def test_a_failed_batch_call_is_every_items_error() -> None:
    async def scenario() -> None:
        sender = Sender(fail_batch=ConnectionError("control plane down"))
        calls = batcher(sender)
        first = asyncio.ensure_future(calls.call("a", 5))
        await settle()
        waiting = [asyncio.ensure_future(calls.call(x, 5)) for x in "bc"]
        sender.release.set()
        assert await first == "A"
        for task in waiting:
            with pytest.raises(ConnectionError):
                await task
    run(scenario())


def test_a_caller_gone_while_waiting_is_left_out_of_its_batch() -> None:
    async def scenario() -> None:
        sender = Sender()
        calls = batcher(sender)
        first = asyncio.ensure_future(calls.call("a", 5))
        await settle()
        gone = asyncio.ensure_future(calls.call("b", 5))
        kept = [asyncio.ensure_future(calls.call(x, 5)) for x in "cd"]
        await settle()
        gone.cancel()
        sender.release.set()
        assert await first == "A" and await asyncio.gather(*kept) == ["C", "D"]
        assert sender.batches == [["c", "d"]]
    run(scenario())


def test_a_batch_goes_out_with_the_earliest_deadline_of_its_items() -> None:
    async def scenario() -> None:
        sender = Sender()
        calls = batcher(sender)
        first = asyncio.ensure_future(calls.call("a", 50))
        await settle()
        started = time.monotonic()
        waiting = [asyncio.ensure_future(calls.call("b", 40)), asyncio.ensure_future(calls.call("c", 5))]
        sender.release.set()
        await asyncio.gather(first, *waiting)
        assert started + 4 <= sender.deadlines[-1] <= time.monotonic() + 5
    run(scenario())


def test_a_batch_carries_at_most_max_batch_items() -> None:
    async def scenario() -> None:
        sender = Sender()
        calls = batcher(sender, max_batch=3)
        first = asyncio.ensure_future(calls.call("a", 5))
        await settle()
        waiting = [asyncio.ensure_future(calls.call(x, 5)) for x in "bcdefg"]
        sender.release.set()
        assert await asyncio.gather(first, *waiting) == list("ABCDEFG")
        assert [len(b) for b in sender.batches] == [3, 3]
    run(scenario())


def test_max_batch_one_gives_every_call_its_own() -> None:
    async def scenario() -> None:
        sender = Sender()
        calls = batcher(sender, max_batch=1)
        tasks = [asyncio.ensure_future(calls.call(x, 5)) for x in "abc"]
        await settle()
        assert sender.singles == ["a", "b", "c"]
        sender.release.set()
        assert await asyncio.gather(*tasks) == ["A", "B", "C"]
        assert sender.batches == []
    run(scenario())


def test_calls_up_to_the_in_flight_limit_go_out_on_their_own() -> None:
    async def scenario() -> None:
        sender = Sender()
        calls = batcher(sender, in_flight=2)
        tasks = [asyncio.ensure_future(calls.call(x, 5)) for x in "abcd"]
        await settle()
        assert sender.singles == ["a", "b"] and sender.batches == []
        sender.release.set()
        assert await asyncio.gather(*tasks) == list("ABCD")
        assert sender.batches == [["c", "d"]]
    run(scenario())

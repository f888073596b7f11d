"""edge.tenant_fairness: a lone tenant may use every grant slot; while other tenants are active,
none holds more than `lead` beyond the busiest other one, and a freed slot goes to the waiting
tenant holding the fewest.

FairSlots is pure asyncio and takes a clock, so these run without servers or sleeps; the wiring
into real grants is covered in tests/security/test_grant_batches.py."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest

from edge.tenant_fairness import NEW_TOKENS, FairSlots, TenantHints
from edge.wopi.flood import token_digest


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Holder:
    """Tasks that take a slot of a share and hold it until released one by one."""

    def __init__(self, slots: FairSlots) -> None:
        self.slots = slots
        self.admitted: list[str] = []
        self._releases: dict[int, asyncio.Event] = {}
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, share: str) -> int:
        number = len(self.tasks)
        release = self._releases[number] = asyncio.Event()

        async def hold() -> None:
            async with self.slots.slot(share):
                self.admitted.append(f"{share}{number}")
                await release.wait()

        self.tasks.append(asyncio.ensure_future(hold()))
        return number

    def release(self, number: int) -> None:
        self._releases[number].set()


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 30))


def test_a_lone_tenant_may_hold_every_slot_but_the_lead() -> None:
    async def scenario() -> None:
        holder = Holder(FairSlots(8, 2, clock=Clock()))
        for _ in range(10):
            holder.start("a")
        await settle()
        assert len(holder.admitted) == 6
        assert holder.slots.waiting == 4

    run(scenario())


def test_a_tenant_arriving_during_a_flood_is_let_in_at_once() -> None:
    async def scenario() -> None:
        holder = Holder(FairSlots(8, 2, clock=Clock()))
        for _ in range(10):
            holder.start("flood")
        await settle()
        holder.start("quiet")  # no flood grant has come back
        await settle()
        assert holder.admitted[-1] == "quiet10"

    run(scenario())


def test_while_another_tenant_is_active_a_tenant_holds_at_most_lead_beyond_it() -> None:
    async def scenario() -> None:
        holder = Holder(FairSlots(8, 2, clock=Clock()))
        holder.start("b")
        await settle()
        for _ in range(5):
            holder.start("a")
        await settle()
        assert holder.admitted == ["b0", "a1", "a2", "a3"]  # b holds 1, so a up to 1 + 2
        assert holder.slots.waiting == 2

    run(scenario())


def test_an_active_tenant_holding_nothing_still_holds_the_flood_to_its_lead() -> None:
    async def scenario() -> None:
        holder = Holder(FairSlots(8, 2, clock=Clock()))
        quiet = holder.start("quiet")
        await settle()
        holder.release(quiet)  # between two of its requests: active, holding none
        await settle()
        for _ in range(5):
            holder.start("flood")
        await settle()
        assert holder.slots.taken == 2

    run(scenario())


def test_equally_busy_tenants_are_not_held_back() -> None:
    async def scenario() -> None:
        holder = Holder(FairSlots(32, 2, clock=Clock()))
        for n in range(24):
            holder.start(f"t{n % 4}-")
        await settle()
        assert holder.slots.taken == 24 and holder.slots.waiting == 0

    run(scenario())


def test_another_tenants_request_is_let_in_before_a_floods_waiting_ones() -> None:
    async def scenario() -> None:
        holder = Holder(FairSlots(4, 1, clock=Clock()))
        for _ in range(6):
            holder.start("flood")
        await settle()
        holder.start("quiet")  # takes the one slot left free
        holder.start("quiet")  # all slots taken, flood requests waiting before it
        await settle()
        assert holder.slots.taken == 4
        holder.release(0)
        await settle()
        assert holder.admitted[-1] == "quiet7"

    run(scenario())


def test_a_tenant_past_its_lead_waits_until_it_is_back_within_it() -> None:
    async def scenario() -> None:
        holder = Holder(FairSlots(8, 2, clock=Clock()))
        first = [holder.start("flood") for _ in range(5)]
        await settle()
        holder.start("quiet")  # holds 1: the flood may hold 3
        late = holder.start("flood")
        await settle()
        holder.release(first[0])
        holder.release(first[1])
        await settle()
        assert f"flood{late}" not in holder.admitted  # still holds 3
        holder.release(first[2])
        await settle()
        assert f"flood{late}" in holder.admitted

    run(scenario())


def test_a_tenant_alone_again_after_the_window_is_no_longer_held_to_its_lead() -> None:
    async def scenario() -> None:
        clock = Clock()
        holder = Holder(FairSlots(8, 2, active_window_s=0.5, clock=clock))
        quiet = holder.start("quiet")
        flood = [holder.start("flood") for _ in range(6)]
        await settle()
        assert holder.slots.taken == 4  # quiet's 1, the flood's 1 + 2
        holder.release(quiet)
        await settle()
        clock.now += 0.6  # the other tenant has been quiet for longer than the window
        holder.release(flood[0])
        await settle()
        assert holder.slots.taken == 5  # the five other flood requests, none waiting

    run(scenario())


def test_waiting_tenants_holding_the_same_are_let_in_first_come_first() -> None:
    async def scenario() -> None:
        holder = Holder(FairSlots(2, 1, clock=Clock()))
        holder.start("a")
        holder.start("b")
        await settle()
        holder.start("c")
        holder.start("d")
        await settle()
        holder.release(0)
        await settle()
        assert holder.admitted[-1] == "c2"

    run(scenario())


def test_the_slots_are_never_exceeded_with_many_tenants() -> None:
    async def scenario() -> None:
        holder = Holder(FairSlots(5, 3, clock=Clock()))
        for n in range(40):
            holder.start(f"t{n % 7}-")
        await settle()
        for n in range(40):
            assert holder.slots.taken <= 5
            holder.release(n)
            await settle()
        assert holder.slots.taken == 0 and holder.slots.waiting == 0
        assert len(holder.admitted) == 40

    run(scenario())


def test_a_waiter_that_goes_away_gives_up_its_place_and_takes_no_slot() -> None:
    async def scenario() -> None:
        holder = Holder(FairSlots(1, 1, clock=Clock()))
        holder.start("a")
        gone = holder.start("b")
        holder.start("c")
        await settle()
        holder.tasks[gone].cancel()
        await settle()
        holder.release(0)
        await settle()
        assert holder.admitted == ["a0", "c2"]
        holder.release(2)
        await settle()
        assert holder.slots.taken == 0 and holder.slots.waiting == 0

    run(scenario())


def test_a_waiter_let_in_as_it_goes_away_hands_the_slot_on() -> None:
    async def scenario() -> None:
        slots = FairSlots(1, 1, clock=Clock())
        first = slots.slot("a")
        await first.__aenter__()
        holder = Holder(slots)
        gone = holder.start("b")
        holder.start("c")
        await settle()
        await first.__aexit__(None, None, None)  # lets "b" in, before its task runs again
        holder.tasks[gone].cancel()
        await settle()
        assert holder.admitted == ["c1"]
        assert slots.taken == 1

    run(scenario())


def test_slots_and_share_must_be_positive() -> None:
    with pytest.raises(ValueError):
        FairSlots(0, 1)
    with pytest.raises(ValueError):
        FairSlots(4, 0)


def test_a_token_not_granted_yet_queues_with_the_other_new_tokens() -> None:
    hints = TenantHints()
    assert hints.share(token_digest("made-up-1")) == hints.share(token_digest("made-up-2")) == NEW_TOKENS


def test_a_granted_token_queues_as_its_tenant() -> None:
    hints = TenantHints()
    hints.learn(token_digest("token-a"), "tenant-1")
    hints.learn(token_digest("token-b"), "tenant-1")
    assert hints.share(token_digest("token-a")) == hints.share(token_digest("token-b")) == "tenant:tenant-1"


def test_the_hints_forget_the_least_recently_granted_tokens_first() -> None:
    hints = TenantHints(max_tokens=2)
    hints.learn("old", "t1")
    hints.learn("middle", "t2")
    hints.learn("old", "t1")
    hints.learn("new", "t3")
    assert hints.share("middle") == NEW_TOKENS
    assert hints.share("old") == "tenant:t1" and hints.share("new") == "tenant:t3"


def _held_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "edge.tenant_fairness"]


def test_a_tenant_held_to_its_lead_is_logged_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="edge.tenant_fairness")
    clock = Clock()

    async def scenario() -> None:
        holder = Holder(FairSlots(8, 2, clock=clock))
        holder.start("tenant:b")
        await settle()
        for _ in range(5):
            holder.start("tenant:a")
        await settle()
        lines = _held_lines(caplog)
        assert len(lines) == 1, lines
        assert "tenant:a is held to 3 grants out while other shares are active (1;" in lines[0]  # b's 1 + 2
        clock.now += 30
        holder.start("tenant:b")  # keeps b active
        holder.start("tenant:a")
        await settle()
        assert len(_held_lines(caplog)) == 1, "not again within the minute"
        clock.now += 31
        holder.start("tenant:b")
        holder.start("tenant:a")
        await settle()
        assert len(_held_lines(caplog)) == 2
        for task in holder.tasks:
            task.cancel()

    run(scenario())


def test_a_lone_tenant_waiting_for_a_slot_is_not_logged_as_held(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="edge.tenant_fairness")

    async def scenario() -> None:
        holder = Holder(FairSlots(8, 2, clock=Clock()))
        for _ in range(10):
            holder.start("tenant:a")
        await settle()
        assert holder.slots.waiting == 4
        assert _held_lines(caplog) == []
        for task in holder.tasks:
            task.cancel()

    run(scenario())

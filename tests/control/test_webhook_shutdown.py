"""A control plane stopping while a webhook is on its way (a slow receiver holds a POST for up to
15 s) gives that POST up and records what the round delivered before it: nothing is cancelled
inside a transaction (a delivery cancelled there once held SQLite's write lock past shutdown, and
the leases could not be released), and events delivered before the stop are not sent again."""

from __future__ import annotations

import asyncio

import pytest

from control.db.models import SessionEvent, Tenant, WebhookState
from control.services.context import ServiceContext
from control.services import webhooks
from control.services.webhooks import WebhookDispatcher
from tests.control.helpers import TENANT


class SecondHangs(WebhookDispatcher):
    """The receiver answers the first event and never the second."""

    def __init__(self, ctx: ServiceContext) -> None:
        super().__init__(ctx)
        self.posted: list[str] = []
        self.second_sent = asyncio.Event()

    async def _send(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self.posted.append(headers["X-Wopi-Proxy-Event-Id"])
        if len(self.posted) == 1:
            return 200
        self.second_sent.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def _tenant_with_events(ctx: ServiceContext, count: int) -> list[int]:
    async with ctx.transaction() as db:
        row = await db.get(Tenant, TENANT)
        row.webhook_url = "https://hooks.example/acme"
        db.add(row)
        db.add(WebhookState(tenant_id=TENANT, delivered_event_id=0))
        events = [SessionEvent(tenant_id=TENANT, type="opened", time=1, session_id=f"s-{i}") for i in range(count)]
        db.add_all(events)
    return [event.id for event in events if event.id is not None]


async def _stop_mid_delivery(ctx: ServiceContext) -> SecondHangs:
    dispatcher = SecondHangs(ctx)
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run(stop))
    await asyncio.wait_for(dispatcher.second_sent.wait(), 30)
    stop.set()
    await asyncio.wait_for(running, 30)
    return dispatcher


async def test_a_stop_mid_delivery_records_the_events_delivered_before_it(
    ctx: ServiceContext, acme: Tenant,
) -> None:
    ids = await _tenant_with_events(ctx, 3)
    await _stop_mid_delivery(ctx)
    async with ctx.sessions() as db:
        state = await db.get(WebhookState, TENANT)
    assert state.delivered_event_id == ids[0], "the event delivered before the stop would be sent again"


async def test_a_delivery_given_up_at_shutdown_is_not_counted_as_the_receivers_failure(
    ctx: ServiceContext, acme: Tenant,
) -> None:
    await _tenant_with_events(ctx, 3)
    await _stop_mid_delivery(ctx)
    async with ctx.sessions() as db:
        state = await db.get(WebhookState, TENANT)
    assert (state.attempts, state.last_error, state.next_attempt_time) == (0, "", 0)


async def test_an_idle_dispatcher_ends_when_stopped_without_waiting_out_its_idle_wait(
    ctx: ServiceContext, acme: Tenant, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Between rounds the dispatcher waits for new events; a stop ends that wait, so its lease is
    released at once (it waited out the idle second at every shutdown)."""
    monkeypatch.setattr(webhooks, "IDLE_S", 3600.0)
    dispatcher = WebhookDispatcher(ctx)
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run(stop))
    await asyncio.sleep(0)  # the first round starts (stopped before or during its wait: the same)
    stop.set()
    await asyncio.wait_for(running, 30)

"""Per-tenant webhooks: session events POSTed with an HMAC signature, retried with backoff.

Delivery runs in its own task of the control plane and reads events the WOPI transactions
already committed, so a slow or dead receiver never delays an editor. Progress is kept in the
database (webhook_states): a restart resumes where delivery stopped, in order, at least once.

Delivery runs on one control-plane replica at a time (the "webhooks" lease, control.services.leases),
so an event is normally POSTed once. A replica that dies between a POST and recording it leaves the
event to be sent again by the next lease holder: every POST carries the event's id in
X-Wopi-Proxy-Event-Id (the idempotency key; also the payload's "cursor"), so receivers de-duplicate.

At shutdown, a POST under way is given up (it is sent again later, as an event not yet
delivered) and each tenant's progress so far is recorded: deliveries are never cancelled inside
their transaction, and what was delivered before the stop is not sent twice.

A disabled tenant's deliveries are held (its events are kept) and resume, in order, when it is
enabled again: an operator who disables a tenant stops everything sent on its behalf.

Signature: header X-Wopi-Proxy-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from typing import Any

import httpx
from sqlmodel import col, select

from control.db import availability
from control.db.models import SessionEvent, Tenant, WebhookState
from control.services import events
from control.services.context import ServiceContext
from shared.outbound_tls import verifying_context

log = logging.getLogger(__name__)

BATCH = 50
TIMEOUT_S = 10.0  # each connect, read and write
DELIVERY_S = 15.0  # one delivery in all: a receiver that trickles its answer is cut off
MAX_ANSWER_BYTES = 64 << 10  # of the receiver's answer read (only its status matters); the rest is dropped
MAX_BACKOFF_S = 300.0
IDLE_S = 1.0
STOP_WAIT_S = 4.0  # at shutdown, for deliveries to record their progress (within the lease's stop grace)
# Rounds start at most this often: each commit that wrote session events wakes the dispatcher,
# and each round reads the tenants from the database; under load (a LOCK/UNLOCK storm, a busy host's
# saves: dozens of commit batches a second) a round per wake-up was a read per batch for nothing.
# Events committed meanwhile wait for the next round.
MIN_ROUND_INTERVAL_S = 0.25


def backoff_s(attempts: int) -> float:
    """1, 2, 4, ... seconds, at most five minutes."""
    return min(MAX_BACKOFF_S, 2.0 ** max(0, attempts - 1))


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def payload(row: SessionEvent, cursor: str) -> dict[str, Any]:
    return {
        "cursor": cursor, "type": row.type, "time_ms": row.time, "tenant_id": row.tenant_id,
        "session_id": row.session_id, "file_id": row.file_id, "user_id": row.user_id, "version": row.version,
        "account": row.account, "origin": events.origin(row),
    }


async def start_from_now(db: Any, tenant_id: str) -> None:
    """A webhook set now receives the events from now on, not the tenant's whole history."""
    last = (await db.exec(select(SessionEvent.id).where(SessionEvent.tenant_id == tenant_id)
                          .order_by(col(SessionEvent.id).desc()).limit(1))).first() or 0
    state = await db.get(WebhookState, tenant_id) or WebhookState(tenant_id=tenant_id)
    state.delivered_event_id, state.attempts, state.next_attempt_time, state.last_error = last, 0, 0, ""
    db.add(state)


async def _same_tenant(db: Any, tenant: Tenant, *, enabled: bool = False) -> bool:
    """Not deleted (or deleted and created again) since `tenant` was read; with `enabled`, not disabled either."""
    current = await db.get(Tenant, tenant.id, populate_existing=True)
    return (current is not None and current.incarnation == tenant.incarnation
            and (current.enabled or not enabled))


class WebhookDispatcher:
    def __init__(self, ctx: ServiceContext, client: httpx.AsyncClient | None = None) -> None:
        self._ctx = ctx
        self._client = client or httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False,
                                                     verify=verifying_context(trust_env=True))
        self._running: dict[str, asyncio.Task[None]] = {}  # one delivery task per tenant at a time
        self._stopping = asyncio.Event()  # set at shutdown: POSTs under way are given up

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                await self.deliver_due()
            except Exception as error:  # a broken round must not end delivery for good
                availability.log_failure(log, "webhook delivery round", error)
            await self._ctx.events.wait(IDLE_S, stop=stop)
            rest = MIN_ROUND_INTERVAL_S - (time.monotonic() - started)
            if rest > 0 and not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), rest)
        await self._finish()

    async def _finish(self) -> None:
        """Deliveries end at their POST and record what they delivered; only one still running
        after STOP_WAIT_S (a database that does not answer) is cancelled."""
        self._stopping.set()
        running = [task for task in self._running.values() if not task.done()]
        if running:
            _done, late = await asyncio.wait(running, timeout=STOP_WAIT_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self._client.aclose()

    async def deliver_due(self) -> None:
        """Each tenant's delivery runs on its own: a slow receiver only delays its own tenant."""
        async with self._ctx.read() as db:  # SQLite: a reader connection, not the write lock
            tenants = (await db.exec(select(Tenant).where(Tenant.webhook_url != "",
                                                          col(Tenant.enabled).is_(True)))).all()
        for tenant in tenants:
            task = self._running.get(tenant.id)
            if task is None or task.done():
                self._running[tenant.id] = asyncio.create_task(self._deliver_logged(tenant))

    async def _deliver_logged(self, tenant: Tenant) -> None:
        try:
            await self._deliver_tenant(tenant)
        except Exception as error:
            availability.log_failure(log, f"webhook delivery of tenant {tenant.id}", error)

    async def _deliver_tenant(self, tenant: Tenant) -> None:
        now = self._ctx.clock()
        async with self._ctx.read() as db:
            if not await _same_tenant(db, tenant, enabled=True):
                return  # deleted (or deleted and created again) or disabled since the round began
            state = await db.get(WebhookState, tenant.id)
            if state is None or state.next_attempt_time > now:
                return
            pending = await events.after(db, tenant_id=tenant.id, event_id=state.delivered_event_id, limit=BATCH)
        delivered, error = state.delivered_event_id, ""
        for row in pending:
            if self._stopping.is_set():
                break
            async with self._ctx.read() as db:  # disabled (or deleted) since: nothing more is sent for it
                if not await _same_tenant(db, tenant, enabled=True):
                    break
            outcome = await self._post(tenant, row)
            if outcome is None:  # given up at shutdown: not the receiver's failure
                break
            if outcome:
                error = outcome
                break
            assert row.id is not None
            delivered = row.id
        if not pending or (delivered == state.delivered_event_id and not error):
            return
        async with self._ctx.transaction() as db:
            current = await db.get(WebhookState, tenant.id)
            if current is None or not await _same_tenant(db, tenant):
                return  # the tenant was deleted meanwhile: its progress must not pass to a new one
            current.delivered_event_id = max(current.delivered_event_id, delivered)
            if error:
                current.attempts += 1
                current.next_attempt_time = self._ctx.clock() + int(backoff_s(current.attempts) * 1000)
                current.last_error = error[:1000]
                log.warning("webhook of tenant %s failed (attempt %d, next in %.0fs): %s", tenant.id,
                            current.attempts, backoff_s(current.attempts), error)
            else:
                current.attempts, current.next_attempt_time, current.last_error = 0, 0, ""
            db.add(current)

    async def _post(self, tenant: Tenant, row: SessionEvent) -> str | None:
        """Returns "" on success, None when given up at shutdown, else why it failed."""
        assert row.id is not None
        cursor = self._ctx.event_cursors.encode(row.id)  # opaque: see control.services.event_cursors
        body = json.dumps(payload(row, cursor), separators=(",", ":")).encode()
        stamp = int(time.time())
        headers = {"Content-Type": "application/json", "X-Wopi-Proxy-Event": row.type,
                   "X-Wopi-Proxy-Event-Id": cursor, "X-Wopi-Proxy-Delivery": cursor}
        if tenant.webhook_secret:
            headers["X-Wopi-Proxy-Signature"] = sign(tenant.webhook_secret, stamp, body)
        sending = asyncio.ensure_future(self._send(tenant.webhook_url, body, headers))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait([sending, stopping], timeout=DELIVERY_S, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not sending.done():
                sending.cancel()
                await asyncio.gather(sending, return_exceptions=True)
        if sending.cancelled():
            return None if self._stopping.is_set() else f"no answer within {DELIVERY_S:g} s"
        try:
            status = sending.result()
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if 200 <= status < 300:
            return ""
        return f"HTTP {status}"

    async def _send(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """The receiver's status. Its answer is the receiver's to choose (the tenant's server):
        at most MAX_ANSWER_BYTES of it are read, so a huge or endless one cannot fill this process."""
        async with self._client.stream("POST", url, content=body, headers=headers) as reply:
            read = 0
            async for chunk in reply.aiter_raw():
                read += len(chunk)
                if read >= MAX_ANSWER_BYTES:
                    break
            return reply.status_code

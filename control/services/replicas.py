"""What a control-plane replica learns from the others through the database, a few times a second.

One cheap read every REPLICA_POLL_S: the "auth" change counter (keys revoked, tenants disabled
or deleted anywhere: the Authenticator's cache forgets) and the newest session event's id (an
event committed by another replica wakes this replica's event watchers and webhook delivery,
which the in-process EventSignal only does for this replica's own commits). Polling works the
same on SQLite and PostgreSQL and costs one round trip per replica, whatever the load.
"""

from __future__ import annotations

import asyncio
import logging
import time

from control.db import replica_store
from control.services.context import ServiceContext
from control.services.keys import AUTH_COUNTER, Authenticator

log = logging.getLogger(__name__)

REPLICA_POLL_S = 0.25


class ReplicaWatch:
    def __init__(self, ctx: ServiceContext, authenticator: Authenticator, *,
                 interval_s: float = REPLICA_POLL_S) -> None:
        self._ctx = ctx
        self._authenticator = authenticator
        self._interval_s = interval_s
        self._last_event_id: int | None = None

    async def poll(self) -> None:
        started = time.monotonic()
        async with self._ctx.read() as db:  # SQLite: a reader connection, not the write lock
            counter = await replica_store.read_counter(db, name=AUTH_COUNTER)
            last_event_id = await replica_store.last_event_id(db)
        self._authenticator.confirm(counter, started)
        if self._last_event_id is not None and last_event_id != self._last_event_id:
            self._ctx.events.notify()
        self._last_event_id = last_event_id

    async def run(self, stop: asyncio.Event) -> None:
        failing = False
        while not stop.is_set():
            try:
                await asyncio.wait_for(self.poll(), max(1.0, self._interval_s * 4))
                if failing:
                    log.info("replica watch: the database answers again")
                failing = False
            except Exception as exc:  # the Authenticator stops trusting its cache by itself meanwhile
                if not failing:
                    log.warning("replica watch: cannot read the database (%s: %s)", type(exc).__name__, exc)
                failing = True
            try:
                await asyncio.wait_for(stop.wait(), self._interval_s)
            except TimeoutError:
                pass

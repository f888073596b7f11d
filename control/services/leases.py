"""Background jobs that must run on one control-plane replica at a time hold a lease in the
database (the `leases` table): webhook delivery (each event delivered once), audit retention,
discovery refresh, the launch-code purge, session expiry and the staging sweep.

Each replica tries to take each job's lease every ttl/3; the holder renews it as often. The job
runs only while its lease is held: it is stopped when a renewal finds another holder, and, when
the database cannot be reached, before the lease could have expired (the deadline is measured
from before the renewal was sent, so it never ends later than the database's expiry). A killed
replica's leases expire after the TTL and another replica takes them over; a replica that stops
cleanly releases its leases, so the hand-over is immediate.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable

from control.db import availability, replica_store
from control.services.context import ServiceContext

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 15.0
STOP_GRACE_S = 5.0  # a job asked to stop at shutdown gets this long (within its lease) before it is cancelled
Job = Callable[[asyncio.Event], Awaitable[None]]  # runs until its event is set


def new_holder_id() -> str:
    """Names this process in the leases table: host and pid for people, random bits for uniqueness."""
    return f"{socket.gethostname()[:100]}:{os.getpid()}:{secrets.token_hex(4)}"


class Leases:
    """This replica's side of the leases table."""

    def __init__(self, ctx: ServiceContext, *, holder: str | None = None, ttl_s: float = DEFAULT_TTL_S) -> None:
        if ttl_s <= 0:
            raise ValueError("the lease TTL must be positive")
        self._ctx = ctx
        self.holder = holder or new_holder_id()
        self.ttl_s = ttl_s

    async def take(self, name: str) -> bool:
        """Takes or renews `name`; True while this replica holds it."""
        async with self._ctx.sessions() as db, db.begin():
            expiry = await replica_store.take_lease(db, name=name, holder=self.holder,
                                                    ttl_ms=int(self.ttl_s * 1000))
        return expiry is not None

    async def release(self, name: str) -> None:
        async with self._ctx.sessions() as db, db.begin():
            await replica_store.release_lease(db, name=name, holder=self.holder)

    async def run(self, name: str, stop: asyncio.Event, job: Job) -> None:
        """Runs `job` while this replica holds the lease `name`, until `stop` is set."""
        renew_every = self.ttl_s / 3
        running: tuple[asyncio.Task[None], asyncio.Event] | None = None
        held_until = 0.0  # monotonic; the lease is surely ours until then
        while not stop.is_set():
            sent = time.monotonic()
            try:
                held = await asyncio.wait_for(self.take(name), renew_every)
                if held:
                    held_until = sent + self.ttl_s
            except Exception as exc:  # the database is away: keep the job only while the lease surely lasts
                held = time.monotonic() < held_until - renew_every
                log.warning("lease %s: renewal failed (%s: %s)%s", name, type(exc).__name__, exc,
                            "" if held or running is None else "; stopping the job")
            if held and running is None:
                log.info("lease %s taken by %s: running the job here", name, self.holder)
                job_stop = asyncio.Event()
                running = (asyncio.create_task(self._logged(name, job, job_stop), name=f"lease:{name}"), job_stop)
            elif not held and running is not None:
                log.info("lease %s lost by %s: stopping the job here", name, self.holder)
                await _stop_job(*running, grace_s=0.0)  # another replica may run it already
                running = None
            elif running is not None and running[0].done():
                running = None  # the job ended by itself: start it again next round
            try:
                await asyncio.wait_for(stop.wait(), max(0.0, renew_every - (time.monotonic() - sent)))
            except TimeoutError:
                pass
        if running is not None:
            await _stop_job(*running, grace_s=min(STOP_GRACE_S, held_until - time.monotonic()))
            try:
                await self.release(name)
            except Exception as exc:  # it expires by itself then
                log.warning("lease %s: release failed: %s", name, exc)

    @staticmethod
    async def _logged(name: str, job: Job, job_stop: asyncio.Event) -> None:
        try:
            await job(job_stop)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            availability.log_failure(log, f"job {name} (it starts again at the next lease renewal)", error)


async def _stop_job(task: asyncio.Task[None], job_stop: asyncio.Event, *, grace_s: float) -> None:
    """Asks the job to stop, and cancels it when it has not after `grace_s` (at once when <= 0)."""
    job_stop.set()
    try:
        if grace_s <= 0:
            raise TimeoutError
        await asyncio.wait_for(asyncio.shield(task), grace_s)
    except TimeoutError:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    except Exception as exc:  # _logged has logged the job's own failure
        log.debug("stopped job ended with %s", exc)

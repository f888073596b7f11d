"""The control plane's gRPC health follows its database: NOT_SERVING while a `SELECT 1` cannot
be answered in time, SERVING again as soon as it can (edges' /readyz reads this status)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from grpc_health.v1 import health, health_pb2
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 5.0


class DatabaseHealth:
    def __init__(self, engine: AsyncEngine, servicer: health.aio.HealthServicer,  # type: ignore[name-defined]
                 services: Sequence[str], *, timeout_s: float = PROBE_TIMEOUT_S) -> None:
        self._engine = engine
        self._servicer = servicer
        self._services = ["", *services]
        self._timeout_s = timeout_s
        self.serving = True
        self._pending: asyncio.Future[None] | None = None

    async def _select_one(self) -> None:
        async with self._engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def _database_answers(self) -> bool:
        # The probe is not cancelled at the timeout: a cancelled SQLite call still holds the
        # connection until the driver returns. A probe still pending means: not answering.
        if self._pending is None or self._pending.done():
            self._pending = asyncio.ensure_future(self._select_one())
        done, _ = await asyncio.wait({self._pending}, timeout=self._timeout_s)
        if not done:
            log.warning("database health check: no answer within %g s", self._timeout_s)
            return False
        error = self._pending.exception()
        if error is not None:
            log.warning("database health check failed: %s", error)
            return False
        return True

    async def probe(self) -> None:
        """One check; changes the served status only when it changes."""
        serving = await self._database_answers()
        if serving == self.serving:
            return
        self.serving = serving
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in self._services:
            await self._servicer.set(name, status)
        log.warning("control plane is %s: the database %s", "SERVING" if serving else "NOT_SERVING",
                    "answers again" if serving else "does not answer")

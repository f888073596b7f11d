"""The control plane's Prometheus series, in a registry of its own per server (tests start several
in one process).

Labels: gRPC service, method and code names of the methods this server registered (an unknown
method a client makes up never gets a label). Never a tenant, user, file or key.

The gauges are counted by queries when a scrape asks (at most every REFRESH_MIN_INTERVAL_S,
each query bounded by REFRESH_TIMEOUT_S), so idle deployments cost nothing:

- wopi_proxy_control_sessions_open: sessions neither closed nor past their expiry.
- wopi_proxy_control_webhook_backlog_events: session events committed but not yet delivered to
  the webhooks of the tenants that have one (the delivery queue; grows while a receiver is
  down). The audit trail has no backlog: each record is written in the transaction of the
  change it records (control/services/audit.py).
"""

from __future__ import annotations

import asyncio
import logging
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import func, or_
from sqlmodel import col, select

from control.db.models import Session, SessionEvent, Tenant, WebhookState
from control.services.context import ServiceContext

log = logging.getLogger(__name__)

RPC_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
REFRESH_MIN_INTERVAL_S = 5.0
REFRESH_TIMEOUT_S = 5.0


class ControlMetrics:
    """Every series the control plane exports; `refresh()` recounts the gauges."""

    def __init__(self, ctx: ServiceContext | None = None) -> None:
        self._ctx = ctx
        self._refreshed = 0.0
        self._lock = asyncio.Lock()
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.rpc_duration = Histogram("wopi_proxy_control_rpc_duration_seconds",
                                      "Time the control plane took to answer an RPC, by service and method.",
                                      ["service", "method"], buckets=RPC_BUCKETS, registry=r)
        self.rpcs = Counter("wopi_proxy_control_rpcs", "RPCs answered, by service, method and gRPC code.",
                            ["service", "method", "code"], registry=r)
        self.sessions_open = Gauge("wopi_proxy_control_sessions_open",
                                   "Editing sessions open now (neither closed nor expired).", registry=r)
        self.webhook_backlog = Gauge("wopi_proxy_control_webhook_backlog_events",
                                     "Session events not yet delivered to tenants' webhooks.", registry=r)
        self.refresh_errors = Counter("wopi_proxy_control_metrics_refresh_errors",
                                      "Gauge refreshes that failed (the gauges keep their last value).",
                                      registry=r)

    async def refresh(self) -> None:
        """Recounts the gauges unless they were counted moments ago."""
        if self._ctx is None:
            return
        async with self._lock:
            if time.monotonic() - self._refreshed < REFRESH_MIN_INTERVAL_S:
                return
            try:
                await asyncio.wait_for(self._count(self._ctx), REFRESH_TIMEOUT_S)
            except Exception as error:  # noqa: BLE001 (a scrape must answer even when the database does not)
                self.refresh_errors.inc()
                log.warning("metrics: counting sessions and backlog failed: %s", type(error).__name__)
            self._refreshed = time.monotonic()

    async def _count(self, ctx: ServiceContext) -> None:
        now = ctx.clock()
        async with ctx.sessions() as db:
            open_sessions = (await db.exec(select(func.count()).select_from(Session).where(
                col(Session.close_time).is_(None), col(Session.expire_time) > now))).one()
            backlog = (await db.exec(
                select(func.count()).select_from(SessionEvent)
                .join(Tenant, col(Tenant.id) == col(SessionEvent.tenant_id))
                .outerjoin(WebhookState, col(WebhookState.tenant_id) == col(SessionEvent.tenant_id))
                .where(col(Tenant.webhook_url) != "", col(Tenant.enabled).is_(True),
                       or_(col(WebhookState.tenant_id).is_(None),
                           col(SessionEvent.id) > col(WebhookState.delivered_event_id)))
            )).one()
        self.sessions_open.set(int(open_sessions))
        self.webhook_backlog.set(int(backlog))

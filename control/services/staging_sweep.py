"""Removes staging objects that crashed saves left behind (`.wopi-staging/` of every storage).

The control plane does it because it knows every storage (edges only know those they served);
with several control planes the sweeps overlap harmlessly. Only objects older than the age
limit go: a younger one may be a save in progress on some edge.
"""

from __future__ import annotations

import logging

from sqlmodel import select

from control.db.models import Storage
from control.services.context import ServiceContext
from control.services.storages import open_storage
from shared.errors import WopiProxyError

log = logging.getLogger(__name__)

SWEEP_TIMEOUT_S = 60.0  # per storage: a dead S3 endpoint must not hold the sweep


async def sweep_all(ctx: ServiceContext, *, older_than_s: float) -> int:
    async with ctx.sessions() as db:
        rows = (await db.exec(select(Storage))).all()
    removed = 0
    for row in rows:
        try:
            count = await open_storage(ctx, row).sweep_staging(older_than_s=older_than_s, timeout_s=SWEEP_TIMEOUT_S)
        except (WopiProxyError, OSError, TimeoutError) as exc:
            log.warning("staging sweep of storage %s/%s skipped: %s", row.tenant_id, row.name, exc)
            continue
        if count:
            log.info("staging sweep removed %d abandoned object(s) in storage %s/%s", count, row.tenant_id, row.name)
        removed += count
    return removed

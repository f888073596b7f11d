"""Building audit records. Nothing here may receive a token or file content."""

from __future__ import annotations

import hashlib

from control.db import stores
from control.db.models import AuditEvent
from sqlmodel.ext.asyncio.session import AsyncSession


async def record(
    db: AsyncSession,
    *,
    time: int,
    actor: str,
    operation: str,
    outcome: str,
    tenant_id: str | None = None,
    session_id: str | None = None,
    file_id: str | None = None,
    detail: str = "",
    size: int | None = None,
    client_address: str = "",
    correlation_id: str = "",
) -> None:
    await stores.append_audit(db, event=AuditEvent(
        time=time, actor=actor[:300], operation=operation[:64], outcome=outcome, tenant_id=tenant_id,
        session_id=session_id, file_id=file_id, detail=detail, size=size,
        client_address=client_address[:64], correlation_id=correlation_id[:128],
    ))


def lock_digest(lock_id: str) -> str:
    """Lock ids can be long and editor-specific; the audit keeps a short hash ("-" when unlocked)."""
    return hashlib.sha256(lock_id.encode()).hexdigest()[:12] if lock_id else "-"

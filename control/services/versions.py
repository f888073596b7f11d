"""Kept versions: registering one, and applying a storage's retention."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from control.db import stores
from control.db.models import File, FileVersion


async def keep(db: AsyncSession, *, file: File, version: int, size: int, reason: str, replaced_by: str,
               retention: int, now: int) -> list[int]:
    """Registers the bytes kept for `version` and returns the versions past `retention` (their rows
    are gone; the caller removes their objects)."""
    if retention <= 0:
        return []
    existing = await stores.get_version(db, file_id=file.id, version=version, tenant_id=file.tenant_id)
    row = existing or FileVersion(file_id=file.id, version=version, create_time=now, reason=reason)
    row.size = size
    # The recorded hash describes the kept bytes only if nothing changed them behind our back.
    row.sha256 = file.sha256 if file.size == size else ""
    row.reason, row.replaced_by, row.create_time = reason, replaced_by[:256], now
    db.add(row)
    await db.flush()
    kept = await stores.list_versions(db, file_id=file.id, before=None, limit=10_000, tenant_id=file.tenant_id)
    expired = [v.version for v in kept[retention:]]
    await stores.delete_versions(db, file_id=file.id, versions=expired)
    return expired

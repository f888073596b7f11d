"""File identity: one stable, opaque WOPI file id per (tenant, storage, path), made only here.

Two sessions on the same file get the same id (and WOPISrc), so editors co-author and locks
collide as they must; a rename keeps the id. Ids are random (128 bits, url-safe base64, which
is what Collabora asks of file ids), never derived from the path: they reveal nothing.
"""

from __future__ import annotations

import secrets

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from control.db import stores
from control.db.models import File, Storage


def new_file_id() -> str:
    """Never one that starts with "-": operators type ids into the CLI, where such an id read as an
    option (`wopi-proxy files versions -Peg...` failed, one id in 64)."""
    while True:
        file_id = secrets.token_urlsafe(16)
        if not file_id.startswith("-"):
            return file_id


def new_file(*, tenant_id: str, storage_id: int, path: str, now: int) -> File:
    return File(id=new_file_id(), tenant_id=tenant_id, storage_id=storage_id, path=path, version=1,
                create_time=now, update_time=now)


async def file_identity(db: AsyncSession, *, tenant_id: str, storage: Storage, path: str, now: int) -> File:
    """The one File row of (tenant, storage, path), made on first use."""
    assert storage.id is not None
    existing = await stores.file_by_path(db, tenant_id=tenant_id, storage_id=storage.id, path=path)
    if existing is not None:
        return existing
    row = new_file(tenant_id=tenant_id, storage_id=storage.id, path=path, now=now)
    try:
        async with db.begin_nested():
            await stores.add(db, row)
    except IntegrityError:  # another transaction made it first (PostgreSQL; SQLite serialises)
        existing = await stores.file_by_path(db, tenant_id=tenant_id, storage_id=storage.id, path=path)
        assert existing is not None
        return existing
    return row

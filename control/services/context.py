"""What every service needs: the database, the clock, and a few settings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

if TYPE_CHECKING:
    from control.services.invalid_tokens import InvalidTokenTally
from control.services.storage_policy import StoragePolicy
from shared.egress import EgressPolicy


def system_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Principal:
    """Who is calling the gRPC API: an operator's admin key (trusted), a tenant's key (untrusted:
    its own tenant only), or an edge's key (the internal EdgeService only)."""

    key_id: str
    role: str  # "admin" | "tenant" | "edge"
    tenant_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_edge(self) -> bool:
        return self.role == "edge"

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}"


class EventSignal:
    """Wakes in-process event watchers after a commit instead of making them poll fast."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Event] = set()

    def notify(self) -> None:
        for waiter in self._waiters:
            waiter.set()

    async def wait(self, timeout: float) -> None:
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        try:
            await asyncio.wait_for(waiter.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            self._waiters.discard(waiter)


@dataclass(frozen=True)
class ServiceContext:
    sessions: async_sessionmaker[AsyncSession]
    wopi_base_url: str  # public URL of the edge, e.g. https://wopi.example.com
    clock: Callable[[], int] = field(default=system_clock_ms)
    default_session_ttl_s: int = 10 * 3600
    events: EventSignal = field(default_factory=EventSignal)
    launch_code_ttl_s: int = 300  # a host page's launch code is usable this long
    # Refusals of invalid tokens are counted here and audited per address and minute; None: one
    # audit record per refusal (the services' unit tests).
    invalid_tokens: InvalidTokenTally | None = None
    # Which storages may be made and opened (control.services.storage_policy).
    storage_policy: StoragePolicy = field(default_factory=StoragePolicy)
    # What URLs set by tenant keys may connect to (discovery URLs, S3 endpoints).
    egress: EgressPolicy = field(default_factory=EgressPolicy)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One database transaction; committed when the block ends without an exception."""
        async with self.sessions() as db:
            async with db.begin():
                yield db
        self.events.notify()

    def wopi_src(self, file_id: str) -> str:
        return f"{self.wopi_base_url.rstrip('/')}/wopi/files/{file_id}"

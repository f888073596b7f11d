"""Test doubles and names shared by the control plane's tests."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import psycopg

from control.db.models import File, Tenant
from control.db.writer import DecisionWriter, Tx
from control.services.context import ServiceContext
from control.services.sessions import OpenedSession
from control.services.wopi_access import Caller
from shared.errors import WopiProxyError

T = TypeVar("T")

TENANT = "acme"
OTHER_TENANT = "globex"
STORAGE = "docs"
START_MS = 1_700_000_000_000  # 2023-11-14T22:13:20Z: any fixed instant will do

# open_session(**overrides): create_session with defaults for everything (see conftest.py).
OpenSession = Callable[..., Awaitable[OpenedSession]]


class FakeClock:
    """The services' clock (milliseconds since the epoch), moved only by the test."""

    def __init__(self, now_ms: int = START_MS) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, *, seconds: float = 0, ms: int = 0) -> None:
        self.now_ms += int(seconds * 1000) + ms


def caller(opened: OpenedSession, **overrides: str) -> Caller:
    fields = {"access_token": opened.access_token, "file_id": opened.session.row.file_id}
    fields.update(overrides)
    return Caller(**fields)


async def file_row(ctx: ServiceContext, file_id: str) -> File:
    async with ctx.sessions() as db:
        row = await db.get(File, file_id)
    assert row is not None
    return row


async def disable_tenant(ctx: ServiceContext, tenant_id: str) -> None:
    """Flips the column directly, so that the tests of who may do what do not depend on UpdateTenant."""
    async with ctx.transaction() as db:
        tenant = await db.get(Tenant, tenant_id)
        assert tenant is not None
        tenant.enabled = False
        db.add(tenant)


async def outcomes(values: Iterable[T], attempt: Callable[[T], Awaitable[object]]) -> dict[T, str]:
    """What each value led to: "ok", or the domain error's class and field ("InvalidArgument:id"),
    so that one assertion over a dict names every value that misbehaved."""
    result: dict[T, str] = {}
    for value in values:
        try:
            await attempt(value)
        except WopiProxyError as error:
            field = getattr(error, "field", "")
            result[value] = f"{type(error).__name__}:{field}" if field else type(error).__name__
        else:
            result[value] = "ok"
    return result


async def write(ctx: ServiceContext, who: Caller, *, size: int = 1, sha256: str = "") -> int:
    """A PutFile through the write protocol (BeginWrite, then CommitWrite), on a file the edge saw
    empty, keeping no previous version; retried while another write of the file is pending, as an
    editor would. Returns the new version."""
    from control.services import wopi_changes
    from shared.errors import WriteInProgress
    from shared.wopi_operation import WopiOperation

    request = wopi_changes.WriteRequest(operation=WopiOperation.PUT_FILE,
                                        staged=wopi_changes.Staged(size=size, sha256=sha256))
    for _ in range(1000):
        try:
            begun = await wopi_changes.begin(ctx, who, request)
        except WriteInProgress:
            await asyncio.sleep(0.005)
            continue
        return (await wopi_changes.commit(ctx, who, intent_id=begun.intent_id)).version
    raise AssertionError("the file stayed busy")


async def with_writer_thread(ctx: ServiceContext, database_url: str, engine: object):  # type: ignore[no-untyped-def]
    """`ctx` with the writer thread of start_control (control.db.writer): the hot path's grants,
    lock changes and PutFile's BeginWrite/CommitWrite run there instead of in transactions.
    An async generator: the fixture's body (`async for ... in`)."""
    import dataclasses

    from control import secrets as secret_boxes
    from control.db.writer import DecisionWriter

    decisions = DecisionWriter(database_url, on_commit=ctx.events.notify)
    secret_boxes.bind_engine(decisions.engine, secret_boxes._box(engine.sync_engine.dialect))  # type: ignore[attr-defined]
    try:
        yield dataclasses.replace(ctx, decisions=decisions)
    finally:
        await asyncio.to_thread(decisions.close)


def terminate_backend(url: str, pid: int) -> None:
    """Ends a PostgreSQL backend from another connection (a connection lost under a statement), and
    waits until it is gone."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        ends = time.monotonic() + 30
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
            assert time.monotonic() < ends, f"backend {pid} still there"
            time.sleep(0.01)


async def one_batch(writer: DecisionWriter, works: list[Callable[[Tx], Any]]) -> list[Any]:
    """Runs `works` as one batch of the writer thread: they queue while it is held by a decision
    of its own. Each outcome is its result or its exception."""
    entered, held = threading.Event(), threading.Event()

    def hold(tx: Tx) -> None:
        entered.set()
        held.wait(30)

    holder = asyncio.ensure_future(writer.run(hold))
    assert await asyncio.to_thread(entered.wait, 30)
    runs: list[Awaitable[Any]] = [asyncio.ensure_future(writer.run(work)) for work in works]
    await asyncio.sleep(0)  # the tasks put their decisions on the writer's queue
    held.set()
    await holder
    return await asyncio.gather(*runs, return_exceptions=True)

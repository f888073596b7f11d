"""The registry parses an editor's stored discovery once per fetch (control.services.editors:
EditorRegistry.discovery, keyed by the row and its fetch time). A refresh must still reach every
reader at once, even one in the same millisecond as the fetch before it, and the grant path reads
the document only when this process has not parsed it yet."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from control.db.models import Editor, Session
from control.editors.discovery import Discovery
from control.services import editors
from control.services.context import Principal, ServiceContext
from control.services.editors import EditorRegistry, ProofHeaders
from shared.errors import ProofInvalid
from tests.control.helpers import TENANT, FakeClock

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "discovery"
COLLABORA = (FIXTURES / "collabora.xml").read_bytes()
ONLYOFFICE = (FIXTURES / "onlyoffice.xml").read_bytes()
VALIDATOR = (FIXTURES / "validator.xml").read_bytes()  # carries proof keys


@pytest.fixture
def served() -> list[bytes]:
    """The document the stand-in editor serves now (the last of the list)."""
    return [COLLABORA]


@pytest.fixture
async def registry(ctx: ServiceContext, served: list[bytes]) -> AsyncIterator[EditorRegistry]:
    transport = httpx.MockTransport(lambda _request: httpx.Response(200, stream=httpx.ByteStream(served[-1]),
                                                                     headers={"Content-Type": "text/xml"}))
    found = EditorRegistry(ctx, client=httpx.AsyncClient(transport=transport))
    yield found
    await found.close()


async def make_editor(ctx: ServiceContext, registry: EditorRegistry, admin: Principal) -> Editor:
    return await editors.create_editor(ctx, registry, admin, name="mine", tenant_id=TENANT,
                                       discovery_url="http://editor.test/hosting/discovery", proof_policy="off")


async def test_a_refresh_in_the_same_millisecond_replaces_the_parsed_document(
    ctx: ServiceContext, registry: EditorRegistry, admin: Principal, clock: FakeClock, served: list[bytes], docs: object
) -> None:
    row = await make_editor(ctx, registry, admin)
    assert row.id is not None
    before = registry.discovery(row)
    assert before is not None and before.product == "collabora"

    served.append(ONLYOFFICE)  # the editor's document changes; the clock does not move
    refreshed = await registry.refresh(row.id)

    assert refreshed.fetch_time > row.fetch_time
    after = registry.discovery(refreshed)
    assert after is not None and after.product == "onlyoffice"
    [listed] = [e for e in await editors.list_editors(ctx, registry, admin, tenant_id=TENANT) if e.id == row.id]
    assert registry.discovery(listed) is after


async def test_listing_reads_a_document_only_until_it_is_parsed(
    ctx: ServiceContext, engine: AsyncEngine, registry: EditorRegistry, admin: Principal, docs: object
) -> None:
    await make_editor(ctx, registry, admin)
    fresh = EditorRegistry(ctx)  # another process's registry: nothing parsed yet
    try:
        loads: list[str] = []

        def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            if "discovery_xml" in statement:
                loads.append(statement)

        sync_engine = engine.sync_engine
        event.listen(sync_engine, "before_cursor_execute", count)
        try:
            first = await editors.list_editors(ctx, fresh, admin, tenant_id=TENANT)
            after_first = len(loads)
            second = await editors.list_editors(ctx, fresh, admin, tenant_id=TENANT)
        finally:
            event.remove(sync_engine, "before_cursor_execute", count)
        assert after_first == 1, loads  # the one editor's document, once
        assert len(loads) == after_first, "a second listing read the document again"
        assert [fresh.discovery(row) is not None for row in first + second] == [True, True]
    finally:
        await fresh.close()


class QuietKeys:
    """The registry's parsed documents, without the background refresh a failed proof asks for."""

    def __init__(self, registry: EditorRegistry) -> None:
        self.registry = registry

    def discovery(self, editor: Editor, load: Callable[[], str] | None = None) -> Discovery | None:
        return self.registry.discovery(editor, load)

    def refresh_soon(self, editor_id: int, why: str) -> None:
        pass


async def test_a_grants_proof_check_reads_the_document_once_per_fetch(registry: EditorRegistry) -> None:
    """The grant's editor row comes without its document (control.db.grant_reads); the proof check
    reads it when this process has not parsed it, and not again until the next fetch."""
    keys = QuietKeys(registry)
    editor = Editor.model_construct(id=7, tenant_id=TENANT, name="signed", kind="wopi", proof_policy="required",
                                    discovery_url="http://editor.test/hosting/discovery", discovery_xml="",
                                    fetch_time=1_000)
    session = Session.model_construct(id="s-1", tenant_id=TENANT, editor_id=7)
    unsigned = ProofHeaders(proof="", proof_old="", timestamp="", url="http://wopi.test/wopi/files/x")
    reads: list[int] = []

    def load() -> str:
        reads.append(1)
        return VALIDATOR.decode()

    for _ in range(3):
        with pytest.raises(ProofInvalid):  # unsigned, against the document's proof key
            editors.check_proof_of(editor, keys, session=session, access_token="t", headers=unsigned,
                                   now_ms=1_000, load_discovery=load)
    assert reads == [1]

    moved = editor.model_copy(update={"fetch_time": 2_000})  # refreshed (by any replica)
    with pytest.raises(ProofInvalid):
        editors.check_proof_of(moved, keys, session=session, access_token="t", headers=unsigned,
                               now_ms=2_000, load_discovery=load)
    assert reads == [1, 1]

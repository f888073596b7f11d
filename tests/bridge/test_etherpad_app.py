"""edge/bridge/apps/etherpad.py against a real Etherpad 1.8.14: what the worker and the host page
rely on (exact texts, revisions, attribution, private entry, revocation, never overwriting a live pad)."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

from edge.bridge.apps.base import AppRefused
from edge.bridge.apps.etherpad import EtherpadApp, changeset_authors, clean_text, pad_text
from tests.support.etherpad import EtherpadServer, PadUser


def _document(tenant: str = "", name: str = "") -> edge_pb.BridgedDocumentRef:
    return edge_pb.BridgedDocumentRef(document_id="d1", tenant_id=tenant or "t-" + secrets.token_hex(3),
                                      app_doc_id=name or secrets.token_hex(8))


def _participant(user: str, name: str) -> edge_pb.BridgeParticipant:
    return edge_pb.BridgeParticipant(session_id="s-" + user, user_id=user, user_name=name, can_write=True)


@pytest.fixture
async def app(etherpad: EtherpadServer) -> AsyncIterator[EtherpadApp]:
    async with httpx.AsyncClient(trust_env=False) as http:
        yield EtherpadApp(edge_pb.BridgeApp(kind="etherpad", url=etherpad.url, api_key=etherpad.api_key,
                                            webhook_secret="s"), http)


def test_clean_text_is_what_etherpad_does() -> None:
    assert clean_text("a\r\nb\rc\td\u00a0e") == "a\nb\nc        d e"
    assert pad_text("") == "\n" and pad_text("x\n") == "x\n" and pad_text("x") == "x\n"


def test_changeset_authors_reads_insertions_not_deletions() -> None:
    pool = {"0": ["author", "a.ann"], "1": ["bold", "true"], "2": ["author", "a.bob"]}
    assert changeset_authors("Z:5>3|1=4*0+3$abc", pool) == {"a.ann"}
    assert changeset_authors("Z:9<2=3*2-2$", pool) == set()
    assert changeset_authors("Z:5>0=1*0*1=2$", pool) == {"a.ann"}
    assert changeset_authors("not a changeset", pool) == set()


def test_changeset_authors_reads_an_answer_of_attributes_without_ops_in_one_pass() -> None:
    """A tenant's Etherpad answered "*a*a*a..." with no op after: the pattern for a whole op
    restarted at each `*` (44 s of the event loop for 64 KB, hours for 1 MiB); read token by
    token it is one pass (this test would outlast its timeout on the old pattern)."""
    pool = {"10": ["author", "a.ann"]}
    assert changeset_authors("Z:1>1" + "*a" * (1 << 19), pool) == set()
    assert changeset_authors("Z:1>1" + "*a" * (1 << 19) + "+1$x", pool) == {"a.ann"}
    assert changeset_authors("Z:1>1*" + "z" * 5000 + "*a+1$x", pool) == {"a.ann"}


@pytest.mark.parametrize("text", ["héllo 👋 wörld\nline 2\n", "no final newline", "", "a\n\n\nb\n"])
async def test_load_gives_the_pad_exactly_the_text(app: EtherpadApp, etherpad: EtherpadServer, text: str) -> None:
    document = _document()
    loaded = await app.load(document, text)
    content = await app.read(document, loaded.rev, loaded.rev)
    assert content.text == pad_text(text)
    assert content.authors == []
    assert loaded.read_only_id.startswith("r.")
    assert (await app.head(document)).rev == loaded.rev


async def test_a_pad_of_an_earlier_generation_with_nobody_in_it_is_replaced(app: EtherpadApp) -> None:
    document = _document()
    await app.load(document, "old text\n")
    loaded = await app.load(document, "new text\n")
    assert (await app.read(document, loaded.rev, loaded.rev)).text == "new text\n"


async def test_a_live_pad_is_never_overwritten_by_a_load(app: EtherpadApp, etherpad: EtherpadServer,
                                                         join_pad: Callable[..., PadUser]) -> None:
    document = _document()
    await app.load(document, "shared\n")
    entry = await app.enter(document, _participant("ann", "Ann"), True, int(time.time()) + 600)
    ann = join_pad(entry.target, session_id=entry.app_session_id, name="Ann")
    ann.type(" typed")
    loaded = await app.load(document, "the file changed meanwhile\n")
    text = (await app.read(document, loaded.rev, loaded.rev)).text
    assert "typed" in text and "meanwhile" not in text
    assert loaded.kept  # so the worker's baseline is the file, and the pad's text gets saved


async def test_read_names_the_authors_of_the_new_revisions(app: EtherpadApp, join_pad: Callable[..., PadUser]) -> None:
    document = _document()
    loaded = await app.load(document, "base\n")
    until = int(time.time()) + 600
    ann_entry = await app.enter(document, _participant("ann", "Ann"), True, until)
    bob_entry = await app.enter(document, _participant("bob", "Bob"), True, until)
    ann = join_pad(ann_entry.target, session_id=ann_entry.app_session_id, name="Ann")
    bob = join_pad(bob_entry.target, session_id=bob_entry.app_session_id, name="Bob")
    ann_rev = ann.type(" A")
    bob.wait_for_text("A")
    bob_rev = bob.type(" B")
    head = await app.head(document)
    assert head.rev == bob_rev
    assert set(head.present_authors) == {ann_entry.author_id, bob_entry.author_id}
    both = await app.read(document, head.rev, loaded.rev)
    assert set(both.authors) == {ann_entry.author_id, bob_entry.author_id}
    only_bob = await app.read(document, head.rev, ann_rev)
    assert only_bob.authors == [bob_entry.author_id]
    at_ann = await app.read(document, ann_rev, loaded.rev)
    assert "A" in at_ann.text and "B" not in at_ann.text  # exactly that revision, never newer


async def test_a_viewer_enters_the_live_read_only_pad(app: EtherpadApp, join_pad: Callable[..., PadUser]) -> None:
    document = _document()
    loaded = await app.load(document, "read me\n")
    entry = await app.enter(document, _participant("vic", "Vic"), False, int(time.time()) + 600)
    assert entry.target == loaded.read_only_id
    viewer = join_pad(entry.target, session_id=entry.app_session_id, name="Vic")
    assert viewer.readonly and "read me" in viewer.text


async def test_without_a_session_the_private_pad_is_refused(app: EtherpadApp, join_pad: Callable[..., PadUser]) -> None:
    document = _document()
    await app.load(document, "private\n")
    entry = await app.enter(document, _participant("ann", "Ann"), True, int(time.time()) + 600)
    assert join_pad(entry.target, session_id=None, name="Mallory").denied


async def test_a_revoked_session_can_change_nothing_more(app: EtherpadApp, join_pad: Callable[..., PadUser]) -> None:
    document = _document()
    await app.load(document, "x\n")
    entry = await app.enter(document, _participant("ann", "Ann"), True, int(time.time()) + 600)
    ann = join_pad(entry.target, session_id=entry.app_session_id, name="Ann")
    ann.type("1")
    await app.revoke(document, entry.app_session_id)
    await app.revoke(document, entry.app_session_id)  # twice: already gone is done
    with pytest.raises(AssertionError):
        ann.type("2", timeout=5)
    assert "2" not in (await app.read(document, (await app.head(document)).rev, 0)).text


async def test_remove_deletes_the_pad_its_group_and_sessions(app: EtherpadApp, etherpad: EtherpadServer) -> None:
    document = _document()
    await app.load(document, "bye\n")
    entry = await app.enter(document, _participant("ann", "Ann"), True, int(time.time()) + 600)
    group = entry.target.split("$", 1)[0]
    await app.remove(document)
    await app.remove(document)  # already gone is done
    # Asked of the group itself: Etherpad's list of all groups is a read-modify-write record that
    # concurrent creates and deletes (other tests' pads) can overwrite with a stale copy.
    with pytest.raises(Exception, match="groupID does not exist"):
        etherpad.api("listPads", groupID=group)
    with pytest.raises(Exception, match="does not exist"):
        etherpad.api("getRevisionsCount", padID=entry.target)
    with pytest.raises(Exception, match="does not exist"):
        etherpad.api("getSessionInfo", sessionID=entry.app_session_id)


async def test_a_wrong_api_key_is_a_lasting_refusal(etherpad: EtherpadServer) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        bad = EtherpadApp(edge_pb.BridgeApp(kind="etherpad", url=etherpad.url, api_key="wrong"), http)
        with pytest.raises(AppRefused) as refused:
            await bad.load(_document(), "x")
    assert "wrong" not in refused.value.detail


async def test_tenants_get_separate_groups(app: EtherpadApp, etherpad: EtherpadServer) -> None:
    one, other = _document(tenant="t-one", name="same"), _document(tenant="t-other", name="same")
    await app.load(one, "one\n")
    await app.load(other, "other\n")
    assert (await app.read(one, (await app.head(one)).rev, 0)).text == "one\n"
    assert (await app.read(other, (await app.head(other)).rev, 0)).text == "other\n"


async def test_a_session_of_one_document_does_not_open_another(app: EtherpadApp,
                                                               join_pad: Callable[..., PadUser]) -> None:
    """Same tenant, same user, two documents: the browser holds both sessions, but the one of
    document A (closed: deleteSession) must not let it on into A with B's session."""
    tenant = "t-" + secrets.token_hex(3)
    a, b = _document(tenant=tenant), _document(tenant=tenant)
    await app.load(a, "a\n")
    await app.load(b, "b\n")
    until = int(time.time()) + 600
    entry_a = await app.enter(a, _participant("ann", "Ann"), True, until)
    entry_b = await app.enter(b, _participant("ann", "Ann"), True, until)
    await app.revoke(a, entry_a.app_session_id)
    assert join_pad(entry_a.target, session_id=entry_b.app_session_id, name="Ann").denied


async def test_a_text_longer_than_create_pad_takes_is_loaded_exactly(app: EtherpadApp) -> None:
    """createPad refuses 100,000 characters or more: such a file would never open."""
    text = "".join(f"line {n} \U0001F600\n" for n in range(12_000))  # ~130k UTF-16 units
    document = _document()
    loaded = await app.load(document, text)
    assert (await app.read(document, loaded.rev, loaded.rev)).text == text

"""edge/bridge/apps/codimd.py against the CodiMD/HedgeDoc stand-in (tests/support/codimd_standin.py),
both profiles. The end-to-end path through `wopi-proxy serve` is in test_codimd_bridge.py."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

from edge.bridge.apps.base import AppRefused, AppUnavailable
from edge.bridge.apps.codimd import CodimdApp, updatetime_ms
from tests.support.codimd_standin import CodimdStandin

API_KEY = "codimd-api-key"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 24  # image bytes as CodiMD checks them (magic number)
_ids = itertools.count()


@pytest.fixture(params=["codimd-cs3", "hedgedoc1"])
def standin(request: pytest.FixtureRequest) -> Iterator[CodimdStandin]:
    server = CodimdStandin(request.param, api_key=API_KEY).start()
    yield server
    server.stop()


@pytest.fixture
def cs3() -> Iterator[CodimdStandin]:
    server = CodimdStandin("codimd-cs3", api_key=API_KEY).start()
    yield server
    server.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, follow_redirects=False) as client:
        yield client


def _app(server: CodimdStandin, http: httpx.AsyncClient, key: str = API_KEY) -> CodimdApp:
    return CodimdApp(edge_pb.BridgeApp(kind="codimd", url=server.url, api_key=key), http)


def _document(**fields: object) -> edge_pb.BridgedDocumentRef:
    return edge_pb.BridgedDocumentRef(document_id="bd_1", app_doc_id=f"wp{next(_ids):032x}", **fields)  # type: ignore[arg-type]


async def test_a_markdown_file_is_loaded_into_its_note_and_read_back(standin: CodimdStandin,
                                                                    http: httpx.AsyncClient) -> None:
    app, document = _app(standin, http), _document()
    text = "# Notes\n\ncaf\u00e9 \U0001F600\n"
    loaded = await app.load(document, text)
    assert not loaded.kept
    note = standin.note(document.app_doc_id)
    assert note["content"] == text, standin.dump()
    assert loaded.rev == updatetime_ms(note["updatetime"])
    head = await app.head(document)
    assert head.rev == loaded.rev
    assert (await app.read(document, head.rev, 0)).text == text


async def test_an_edit_moves_the_revision_on(standin: CodimdStandin, http: httpx.AsyncClient) -> None:
    app, document = _app(standin, http), _document()
    loaded = await app.load(document, "v1\n")
    standin.join(document.app_doc_id, "ann")
    standin.edit(document.app_doc_id, "v1\nmore\n")
    head = await app.head(document)
    assert head.rev >= loaded.rev
    assert (await app.read(document, head.rev, loaded.rev)).text == "v1\nmore\n"


async def test_a_retried_load_keeps_its_own_note(standin: CodimdStandin, http: httpx.AsyncClient) -> None:
    app, document = _app(standin, http), _document()
    await app.load(document, "same\n")
    again = await app.load(document, "same\n")
    assert not again.kept
    assert len(standin.dump()["notes"]) == 1


async def test_a_note_in_use_is_kept_and_its_text_saved_later(cs3: CodimdStandin, http: httpx.AsyncClient) -> None:
    """CodiMD refuses PUT while someone is online (403): the note's text is kept, never overwritten,
    and the baseline is below the note's revision so that the next save writes the note's text."""
    app, document = _app(cs3, http), _document()
    cs3.create_note("placeholder")  # an unrelated note: ids never collide
    await app.load(document, "file v1\n")
    cs3.join(document.app_doc_id, "ann")
    cs3.edit(document.app_doc_id, "file v1\nann's edit\n")
    loaded = await app.load(document, "file v2\n")
    assert loaded.kept
    assert cs3.note(document.app_doc_id)["content"] == "file v1\nann's edit\n"
    assert (await app.head(document)).rev == loaded.rev  # the worker steps a kept copy one revision back


async def test_hedgedoc1_without_an_update_api_keeps_an_existing_note(http: httpx.AsyncClient) -> None:
    server = CodimdStandin("hedgedoc1", api_key=API_KEY).start()
    try:
        app, document = _app(server, http), _document()
        await app.load(document, "first\n")
        server.edit(document.app_doc_id, "first\nedited\n")
        loaded = await app.load(document, "first\n")  # a retried load: POST 409, PUT 404 → kept
        assert loaded.kept
        assert server.note(document.app_doc_id)["content"] == "first\nedited\n"
    finally:
        server.stop()


async def test_a_viewer_is_never_given_the_note_id(standin: CodimdStandin, http: httpx.AsyncClient) -> None:
    """The note id is the key to edit; CodiMD publishes aliased notes under that very id."""
    app, document = _app(standin, http), _document()
    await app.load(document, "secret plans\n")
    viewer = edge_pb.BridgeParticipant(session_id="s-view", can_write=False)
    with pytest.raises(AppRefused):
        await app.enter(document, viewer, False, 0)
    writer = await app.enter(document, edge_pb.BridgeParticipant(session_id="s-w"), True, 0)
    assert writer.target == document.app_doc_id and writer.app_session_id == ""


async def test_a_wrong_api_key_is_a_lasting_refusal(cs3: CodimdStandin, http: httpx.AsyncClient) -> None:
    with pytest.raises(AppRefused, match="API key"):
        await _app(cs3, http, key="wrong").load(_document(), "x\n")


async def test_a_file_longer_than_a_note_is_refused(cs3: CodimdStandin, http: httpx.AsyncClient) -> None:
    with pytest.raises(AppRefused):
        await _app(cs3, http).load(_document(), "x" * 100_001)


async def test_a_lost_note_is_a_lasting_refusal(cs3: CodimdStandin, http: httpx.AsyncClient) -> None:
    with pytest.raises(AppRefused, match="lost"):
        await _app(cs3, http).head(_document())


async def test_an_unreachable_app_is_transient(http: httpx.AsyncClient) -> None:
    app = CodimdApp(edge_pb.BridgeApp(kind="codimd", url="http://127.0.0.1:9", api_key="k"), http)
    with pytest.raises(AppUnavailable):
        await app.head(_document())


def test_updatetime_accepts_iso_dates_and_numbers() -> None:
    assert updatetime_ms("2026-12-01T18:00:00.123Z") == 1796148000123
    assert updatetime_ms(1796148000123) == 1796148000123
    assert updatetime_ms(1796148000) == 1796148000000
    assert updatetime_ms(None) == 0 and updatetime_ms("garbage") == 0


async def test_a_bundle_puts_its_pictures_into_the_app_and_gets_them_back(standin: CodimdStandin,
                                                                         http: httpx.AsyncClient) -> None:
    """cs3 keeps upload names (generateFilename=false); HedgeDoc renames every upload: links follow."""
    from edge.bridge import bundles, zmd

    picture = "upload_" + "0123456789abcdef" * 2 + ".png"
    app = _app(standin, http)
    document = _document(file_name="trip.zmd")
    assert bundles.applies(app, document)
    data = zmd.pack(f"# Trip\n![map]({standin.url}/uploads/{picture})\n", "trip.md", {picture: PNG})
    text = await bundles.open_bundle(app, document, data)
    [name] = zmd.upload_names(text)
    assert (name == picture) == (standin.profile == "codimd-cs3"), text
    assert standin.dump()["uploads"] == {name: len(PNG)}
    again = await bundles.save_bundle(app, document, text)
    assert zmd.unpack(again) == zmd.Bundle(markdown=text, pictures={name: PNG})
    assert await bundles.save_bundle(app, document, text) == again  # unchanged: the same bytes


async def test_a_bundle_never_overwrites_another_notes_picture(cs3: CodimdStandin, http: httpx.AsyncClient) -> None:
    from edge.bridge import bundles, zmd

    picture = "upload_" + "f" * 32 + ".png"
    app, document = _app(cs3, http), _document(file_name="a.zmd")
    await app.import_pictures(document, {picture: PNG + b"someone else's"})
    text = await bundles.open_bundle(app, document, zmd.pack(f"![](/uploads/{picture})", "a.md", {picture: PNG + b"mine"}))
    [name] = zmd.upload_names(text)
    assert name != picture
    assert (await app.export_pictures(document, [picture, name])) == {picture: PNG + b"someone else's", name: PNG + b"mine"}


async def test_a_bundle_with_a_file_the_app_will_not_hold_is_refused_whole(standin: CodimdStandin,
                                                                          http: httpx.AsyncClient) -> None:
    """CodiMD and HedgeDoc take images only: a bundle holding anything else is not opened (the next
    save would drop what the app refused)."""
    from edge.bridge import bundles, zmd

    name = "upload_" + "e" * 32 + ".png"
    data = zmd.pack(f"![](/uploads/{name})", "x.md", {name: b"%PDF-1.7 not an image"})
    with pytest.raises(AppRefused, match="refuses"):
        await bundles.open_bundle(_app(standin, http), _document(file_name="x.zmd"), data)


@pytest.mark.parametrize("profile", ["codimd-cs3", "hedgedoc1"])
async def test_notes_are_created_with_the_key_where_anonymous_creation_is_off(profile: str,
                                                                              http: httpx.AsyncClient) -> None:
    server = CodimdStandin(profile, api_key=API_KEY, allow_anonymous=False).start()
    try:
        document = _document()
        await _app(server, http).load(document, "private\n")
        assert server.note(document.app_doc_id)["content"] == "private\n"
        with pytest.raises(AppRefused):
            await _app(server, http, key="wrong").load(_document(), "x\n")
    finally:
        server.stop()

"""Keeps tests/support/codimd_standin.py honest: one test per upstream behaviour it imitates, each citing
the upstream source it mirrors (BRIDGE-NOTES §3.2/§3.3; CMD = hackmdio/codimd 2.6.0, HD1 = hedgedoc 1.12.0,
CS3 = cs3org/wopiserver v11.5.0). The bridge is tested against the stand-in; these say why that is fair."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import httpx
import pytest

from shared.signatures import HEADER, verify
from tests.support.codimd_standin import CodimdStandin
from tests.support.http_stub import HttpStub, Recorded

API_KEY = "codimd-api-key"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 24
SECRET = "codimd-webhook-secret"
BEARER = {"Authorization": f"Bearer {API_KEY}"}
MARKDOWN = {"Content-Type": "text/markdown"}


@pytest.fixture(scope="module")
def edge() -> Iterator[HttpStub]:
    stub = HttpStub(routes={"/bridge/codimd/webhook": (202, "application/json", b"{}")}).start()
    yield stub
    stub.stop()


@pytest.fixture(scope="module")
def codimd(edge: HttpStub) -> Iterator[CodimdStandin]:
    standin = CodimdStandin("codimd-cs3", API_KEY, webhook_url=edge.url + "/bridge/codimd/webhook",
                            webhook_secret=SECRET).start()
    yield standin
    standin.stop()


@pytest.fixture(scope="module")
def hedgedoc() -> Iterator[CodimdStandin]:
    standin = CodimdStandin("hedgedoc1", API_KEY).start()
    yield standin
    standin.stop()


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False, timeout=30) as http:
        yield http


def new_note(client: httpx.Client, standin: CodimdStandin, content: str) -> str:
    response = client.post(f"{standin.url}/new", content=content.encode(), headers=MARKDOWN)
    assert response.status_code == 302, response.text
    return response.headers["Location"].rsplit("/", 1)[-1]


def upload(client: httpx.Client, standin: CodimdStandin, filename: str, data: bytes,
           **params: str) -> httpx.Response:
    return client.post(f"{standin.url}/uploadimage", params=params, files={"image": (filename, data)})


# -- probing ----------------------------------------------------------------------------------------------

def test_codimd_answers_the_metrics_probe(codimd: CodimdStandin, client: httpx.Client) -> None:
    """CS3 src/bridge/codimd.py init(): `HEAD /metrics/codimd` must be 200 for a CodiMD instance (CMD's
    status router: `appRouter.get('/metrics/codimd', …)`; app.js excludes it from the router metrics)."""
    assert client.head(f"{codimd.url}/metrics/codimd").status_code == 200


def test_hedgedoc1_has_no_codimd_metrics(hedgedoc: CodimdStandin, client: httpx.Client) -> None:
    """HD1 lib/web/statusRouter.js has `/_health` (`{ready}`) and `/status`, no `/metrics/codimd`: a bridge
    can tell the two apart."""
    assert client.head(f"{hedgedoc.url}/metrics/codimd").status_code == 404
    health = client.get(f"{hedgedoc.url}/_health")
    assert health.status_code == 200 and health.json() == {"ready": True}


# -- creating notes ------------------------------------------------------------------------------------------

def test_post_new_redirects_to_a_22_character_id(codimd: CodimdStandin, client: httpx.Client) -> None:
    """CMD lib/response.js L92-120 (newNote): 302 to `<serverURL>/<Note.encodeNoteId(id)>`, a UUID in 22
    URL-safe base64 characters; the note holds the posted Markdown."""
    response = client.post(f"{codimd.url}/new", content="# Hello\n".encode(), headers=MARKDOWN)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(codimd.url + "/")
    note_id = location.rsplit("/", 1)[-1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", note_id)
    assert codimd.note(note_id)["content"] == "# Hello\n"


def test_post_new_strips_carriage_returns(codimd: CodimdStandin, client: httpx.Client) -> None:
    """CMD lib/response.js L92-120: `body.replace(/[\\r]/g, '')` — a CRLF file comes back LF-only."""
    note_id = new_note(client, codimd, "a\r\nb\r\n")
    assert codimd.note(note_id)["content"] == "a\nb\n"


def test_post_new_over_document_max_length_is_413(codimd: CodimdStandin, client: httpx.Client) -> None:
    """CMD lib/response.js L92-120: `req.body.length > config.documentMaxLength` (100000) → errorTooLong (413);
    exactly 100000 characters is accepted."""
    assert client.post(f"{codimd.url}/new", content=b"x" * 100_000, headers=MARKDOWN).status_code == 302
    assert client.post(f"{codimd.url}/new", content=b"x" * 100_001, headers=MARKDOWN).status_code == 413


def test_post_new_mode_locked_makes_a_locked_note(codimd: CodimdStandin, client: httpx.Client) -> None:
    """CS3 src/bridge/codimd.py loadfromstorage: read-only copies are posted to `/new?mode=locked` (the fork)."""
    response = client.post(f"{codimd.url}/new", params={"mode": "locked"}, content=b"ro", headers=MARKDOWN)
    assert response.status_code == 302
    assert codimd.note(response.headers["Location"].rsplit("/", 1)[-1])["permission"] == "locked"


def test_get_new_creates_an_empty_note(codimd: CodimdStandin, client: httpx.Client) -> None:
    """CMD lib/routes.js L65-88: `GET /new` is newNote without a body: an empty note, 302 to it."""
    response = client.get(f"{codimd.url}/new")
    assert response.status_code == 302
    assert codimd.note(response.headers["Location"].rsplit("/", 1)[-1])["content"] == ""


def test_anonymous_creation_is_refused_unless_allowed(client: httpx.Client) -> None:
    """CMD lib/response.js L92-120: `!config.allowAnonymous` and not logged in → 403 (the fork's API key
    counts as logged in)."""
    standin = CodimdStandin("codimd-cs3", API_KEY, allow_anonymous=False).start()
    try:
        assert client.post(f"{standin.url}/new", content=b"x", headers=MARKDOWN).status_code == 403
        assert client.post(f"{standin.url}/new", content=b"x", headers={**MARKDOWN, **BEARER}).status_code == 302
        assert client.get(f"{standin.url}/free-url-note").status_code == 403
    finally:
        standin.stop()


def test_free_url_creates_a_note_with_that_alias(codimd: CodimdStandin, client: httpx.Client) -> None:
    """CMD lib/note/index.js L54-80 (showNote): an unknown id with allowFreeURL creates the note with that
    alias and renders it (200); cs3 reserves its docid this way with HEAD."""
    assert client.head(f"{codimd.url}/reserved-by-bridge").status_code == 200
    note = codimd.note("reserved-by-bridge")
    assert note["alias"] == "reserved-by-bridge" and note["content"] == ""
    assert client.get(f"{codimd.url}/reserved-by-bridge").status_code == 200


def test_hedgedoc1_free_url_redirects_to_the_new_alias(hedgedoc: CodimdStandin, client: httpx.Client) -> None:
    """HD1 lib/web/note/util.js L8-35/L53-98 (findNote → newNote): the unknown id becomes an alias and the
    answer is a 302 to it."""
    response = client.get(f"{hedgedoc.url}/hd-free-url")
    assert response.status_code == 302
    assert response.headers["Location"] == f"{hedgedoc.url}/hd-free-url"
    assert hedgedoc.note("hd-free-url")["alias"] == "hd-free-url"


def test_non_canonical_id_redirects_to_the_alias(codimd: CodimdStandin, client: httpx.Client) -> None:
    """CMD lib/note/index.js L54-80: `noteId !== note.alias` → redirect to `<serverURL>/<alias>` (cs3
    follows that 302 to learn the real docid)."""
    client.head(f"{codimd.url}/aliased-note")
    note_id = codimd.note("aliased-note")["id"]
    response = client.head(f"{codimd.url}/{note_id}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"{codimd.url}/aliased-note"


# -- the update API (cs3's fork / CodiMD 2.x) ----------------------------------------------------------------

def test_put_updates_the_note_and_saves_a_revision(codimd: CodimdStandin, client: httpx.Client) -> None:
    """CMD lib/note/index.js L270-330 (updateNote): content and lastchangeAt updated, a revision saved,
    `{"status": "ok"}`."""
    note_id = new_note(client, codimd, "before")
    response = client.put(f"{codimd.url}/api/notes/{note_id}", json={"content": "after"}, headers=BEARER)
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    note = codimd.note(note_id)
    assert (note["content"], note["db_content"], note["revisions"]) == ("after", "after", 1)


def test_put_does_not_strip_carriage_returns(codimd: CodimdStandin, client: httpx.Client) -> None:
    """CMD lib/note/index.js L270-330 stores `req.body.content` as is (unlike /new): CR survives a PUT."""
    note_id = new_note(client, codimd, "")
    client.put(f"{codimd.url}/api/notes/{note_id}", json={"content": "a\r\nb"}, headers=BEARER)
    assert codimd.note(note_id)["content"] == "a\r\nb"


def test_put_without_the_bearer_key_is_refused(codimd: CodimdStandin, client: httpx.Client) -> None:
    """The fork's bearer-apikey check (BRIDGE-NOTES §3.1): no key or a wrong key → 401, note unchanged."""
    note_id = new_note(client, codimd, "keep")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": API_KEY}):
        response = client.put(f"{codimd.url}/api/notes/{note_id}", json={"content": "x"}, headers=headers)
        assert response.status_code == 401
    assert client.put(f"{codimd.url}/api/notes/{note_id}?apiKey={API_KEY}", json={"content": "x"}).status_code == 401
    assert codimd.note(note_id)["content"] == "keep"


def test_put_unknown_note_is_404(codimd: CodimdStandin, client: httpx.Client) -> None:
    """CMD lib/note/index.js L270-330: `Note.findOne` finds nothing → errorNotFound (404)."""
    assert client.put(f"{codimd.url}/api/notes/no-such-note", json={"content": "x"},
                      headers=BEARER).status_code == 404


def test_put_while_users_are_online_is_403(codimd: CodimdStandin, client: httpx.Client) -> None:
    """CMD lib/note/index.js L270-330: `realtime.isNoteExistsInPool(noteId)` → 403 'Update API can only be
    used when no users is online'; accepted again once they left."""
    note_id = new_note(client, codimd, "live")
    codimd.join(note_id, "ann")
    response = client.put(f"{codimd.url}/api/notes/{note_id}", json={"content": "x"}, headers=BEARER)
    assert response.status_code == 403
    assert response.json()["message"] == "Update API can only be used when no users is online"
    assert codimd.note(note_id)["content"] == "live"
    codimd.leave(note_id, "ann")
    assert client.put(f"{codimd.url}/api/notes/{note_id}", json={"content": "x"}, headers=BEARER).status_code == 200


def test_put_over_document_max_length_is_413(codimd: CodimdStandin, client: httpx.Client) -> None:
    """CS3 src/bridge/codimd.py loadfromstorage handles 413 from the update API (TOOLARGE): the fork caps
    PUT at documentMaxLength as /new does."""
    note_id = new_note(client, codimd, "")
    response = client.put(f"{codimd.url}/api/notes/{note_id}", json={"content": "x" * 100_001}, headers=BEARER)
    assert response.status_code == 413


def test_delete_removes_the_note_and_disconnects_its_users(codimd: CodimdStandin, client: httpx.Client) -> None:
    """CMD lib/note/index.js deleteNote (BRIDGE-NOTES §3.2 `DELETE /api/notes/:noteId`, login = the fork's
    key): the note is destroyed and `realtime.disconnectSocketOnNote` drops its users; `{"status": "ok"}`;
    without the key 401, unknown 404."""
    note_id = new_note(client, codimd, "bye")
    codimd.join(note_id, "ann")
    assert client.delete(f"{codimd.url}/api/notes/{note_id}").status_code == 401
    response = client.delete(f"{codimd.url}/api/notes/{note_id}", headers=BEARER)
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert note_id not in codimd.dump()["notes"]
    assert client.get(f"{codimd.url}/{note_id}/download").status_code == 404
    assert client.delete(f"{codimd.url}/api/notes/{note_id}", headers=BEARER).status_code == 404


def test_hedgedoc1_has_no_update_api(hedgedoc: CodimdStandin, client: httpx.Client) -> None:
    """HD1 lib/web/note/router.js L20-39: no `PUT /api/notes/:id` (BRIDGE-NOTES §3.3): 404."""
    note_id = new_note(client, hedgedoc, "x")
    assert client.put(f"{hedgedoc.url}/api/notes/{note_id}", json={"content": "y"},
                      headers=BEARER).status_code == 404


def test_hedgedoc1_new_with_alias_then_409(hedgedoc: CodimdStandin, client: httpx.Client) -> None:
    """HD1 lib/web/note/router.js L20-39 `POST /new/:noteId` + util.js L53-98: creates the note under that
    alias (302 to it); the same alias again → 409."""
    response = client.post(f"{hedgedoc.url}/new/generation-1", content=b"# G1\r\n", headers=MARKDOWN)
    assert response.status_code == 302
    assert response.headers["Location"] == f"{hedgedoc.url}/generation-1"
    assert hedgedoc.note("generation-1")["content"] == "# G1\n"
    again = client.post(f"{hedgedoc.url}/new/generation-1", content=b"other", headers=MARKDOWN)
    assert again.status_code == 409
    assert hedgedoc.note("generation-1")["content"] == "# G1\n"


def test_codimd_has_no_new_with_alias(codimd: CodimdStandin, client: httpx.Client) -> None:
    """hackmdio/codimd#1550: CodiMD has no `/new/<id>` (FreeURL goes through GET /<id>): 404."""
    assert client.post(f"{codimd.url}/new/some-alias", content=b"x", headers=MARKDOWN).status_code == 404


# -- reading notes back ------------------------------------------------------------------------------------

def test_download_serves_markdown(codimd: CodimdStandin, client: httpx.Client) -> None:
    """CMD lib/note/noteActions.js L24-38 (actionDownload): the DB content, `text/markdown; charset=UTF-8`,
    attachment `<title>.md`."""
    note_id = new_note(client, codimd, "# Report\nzwei 🐙\n")
    response = client.get(f"{codimd.url}/{note_id}/download")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/markdown; charset=UTF-8"
    assert response.headers["Content-Disposition"] == "attachment; filename=Report.md"
    assert response.content.decode() == "# Report\nzwei 🐙\n"


def test_unknown_note_actions_are_404(codimd: CodimdStandin, client: httpx.Client) -> None:
    """CMD lib/note/index.js noteActions: `!note` → errorNotFound, for download and info alike."""
    assert client.get(f"{codimd.url}/no-such-note/download").status_code == 404
    assert client.get(f"{codimd.url}/no-such-note/info").status_code == 404


def test_db_copy_lags_the_live_text(codimd: CodimdStandin, client: httpx.Client) -> None:
    """CMD lib/realtime/realtimeUpdateDirtyNoteJob.js L14: typed text reaches the DB (what /download and
    /info read) on a 1 s job, so a save right after typing can read the previous text."""
    note_id = new_note(client, codimd, "old")
    codimd.join(note_id, "ann")
    started = time.monotonic()
    codimd.edit(note_id, "new", lag=True)
    assert client.get(f"{codimd.url}/{note_id}/download").text == "old"
    deadline = started + 10
    while client.get(f"{codimd.url}/{note_id}/download").text != "new":
        assert time.monotonic() < deadline, codimd.dump()
        time.sleep(0.05)
    assert time.monotonic() - started >= 0.5


def test_last_leave_flushes_the_db_copy(codimd: CodimdStandin, client: httpx.Client) -> None:
    """CMD lib/realtime/realtime.js L541-556: when the last user leaves, the note is written at once."""
    note_id = new_note(client, codimd, "old")
    codimd.join(note_id, "ann")
    codimd.edit(note_id, "typed", lag=True)
    codimd.leave(note_id, "ann")
    assert client.get(f"{codimd.url}/{note_id}/download").text == "typed"


def test_info_updatetime_follows_the_db_copy(codimd: CodimdStandin, client: httpx.Client) -> None:
    """CMD lib/note/noteActions.js actionInfo: `updatetime` is `note.lastchangeAt` (ISO date), which moves
    when the content is written; a bridge polls it to learn of changes."""
    note_id = new_note(client, codimd, "v1")
    first = client.get(f"{codimd.url}/{note_id}/info").json()
    assert set(first) >= {"title", "createtime", "updatetime"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["updatetime"])
    time.sleep(0.01)  # not synchronisation: only makes the millisecond clock move
    codimd.edit(note_id, "v2")
    assert client.get(f"{codimd.url}/{note_id}/info").json()["updatetime"] > first["updatetime"]


def test_publish_and_slide_redirect_to_short_urls(codimd: CodimdStandin, client: httpx.Client) -> None:
    """CMD lib/note/noteActions.js L15-21: publish → 302 `/s/<alias or shortid>`, slide → `/p/…`; cs3's
    read-only path follows the publish redirect."""
    note_id = new_note(client, codimd, "# Shown\n")
    publish = client.get(f"{codimd.url}/{note_id}/publish")
    assert publish.status_code == 302
    assert re.fullmatch(re.escape(codimd.url) + r"/s/[A-Za-z0-9_-]+", publish.headers["Location"])
    assert client.get(publish.headers["Location"]).status_code == 200
    assert "/p/" in client.get(f"{codimd.url}/{note_id}/slide").headers["Location"]


# -- uploads -----------------------------------------------------------------------------------------------

def test_upload_with_generate_filename_false_keeps_the_name(codimd: CodimdStandin, client: httpx.Client) -> None:
    """CS3 src/bridge/codimd.py _unzipattachments: `POST /uploadimage?generateFilename=false` with the
    bundle's own name (the fork), answered `{"link"}`."""
    name = "upload_0123456789abcdef0123456789abcdef.png"
    response = upload(client, codimd, name, PNG, generateFilename="false")
    assert response.status_code == 200
    assert response.json() == {"link": f"{codimd.url}/uploads/{name}"}


def test_upload_names_are_upload_hex_by_default(codimd: CodimdStandin, client: httpx.Client) -> None:
    """CMD lib/imageRouter/index.js (formidable, keepExtensions) + filesystem.js (basename under /uploads/):
    `upload_<32 hex>.<ext>` — the names CS3's `upload_re` (src/bridge/codimd.py L23) finds to bundle."""
    link = upload(client, codimd, "photo.JPG", JPEG).json()["link"]
    assert re.fullmatch(re.escape(codimd.url) + r"/uploads/upload_[0-9a-f]{32}\.jpg", link)


def test_upload_refuses_path_names(codimd: CodimdStandin, client: httpx.Client) -> None:
    """A kept file name must stay a file name (the fork writes it into its upload folder)."""
    assert upload(client, codimd, "../../etc/x.png", PNG, generateFilename="false").status_code == 400


def test_codimd_refuses_uploads_that_are_not_images(codimd: CodimdStandin, client: httpx.Client) -> None:
    """CMD lib/imageRouter/index.js checkImageValid: bytes and extension must be allowed image types
    (image-type does not detect SVG) → else errorForbidden (403)."""
    assert upload(client, codimd, "notes.png", b"plain text").status_code == 403
    assert upload(client, codimd, "x.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>").status_code == 403
    assert upload(client, codimd, "x.exe", PNG).status_code == 403
    assert upload(client, codimd, "x.jpg", PNG).status_code == 200  # both allowed: no match needed


def test_hedgedoc1_refuses_mismatched_uploads(hedgedoc: CodimdStandin, client: httpx.Client) -> None:
    """HD1 lib/web/imageRouter/index.js checkUploadType: the extension must match the detected type (SVG
    included) → else errorBadRequest (400)."""
    assert upload(client, hedgedoc, "x.jpg", PNG).status_code == 400
    assert upload(client, hedgedoc, "x.png", b"text").status_code == 400
    assert upload(client, hedgedoc, "x.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>").status_code == 200


def test_uploads_are_served_with_their_length(codimd: CodimdStandin, client: httpx.Client) -> None:
    """CS3 src/bridge/codimd.py _unzipattachments: `HEAD /uploads/<name>` 200 with Content-Length decides
    whether an attachment is already there; GET returns it; unknown names 404."""
    link = upload(client, codimd, "pic.png", PNG).json()["link"]
    head = client.head(link)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(PNG))
    assert client.get(link).content == PNG
    assert client.head(f"{codimd.url}/uploads/upload_{'0' * 32}.png").status_code == 404


def test_hedgedoc1_upload_names_are_uuids(hedgedoc: CodimdStandin, client: httpx.Client) -> None:
    """HD1 lib/web/imageRouter/index.js (formidable `filename: uuidv4() + ext`): uploads are named
    `<uuidv4>.<ext>` whatever generateFilename says."""
    link = upload(client, hedgedoc, "x.png", PNG, generateFilename="false").json()["link"]
    assert re.fullmatch(re.escape(hedgedoc.url) + r"/uploads/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}"
                        r"-[0-9a-f]{12}\.png", link)


# -- the fork's save webhook ---------------------------------------------------------------------------------

def test_fire_webhook_posts_the_signed_id_and_close(codimd: CodimdStandin, edge: HttpStub) -> None:
    """The fork's CMD_SAVE_WEBHOOK (BRIDGE-NOTES §3.1) as BRIDGE-CONTRACT accepts it: POST
    `{"id","close"}` signed X-WopiProxy-Signature with the configured secret."""
    note_id = codimd.create_note("x")
    assert codimd.fire_webhook(note_id, close=True) == 202
    assert codimd.fire_webhook(note_id, close=False) == 202
    posted: list[Recorded] = [r for r in edge.requests if r.path == "/bridge/codimd/webhook"][-2:]
    assert [json.loads(r.body) for r in posted] == [{"id": note_id, "close": True}, {"id": note_id, "close": False}]
    for request in posted:
        headers = {name.lower(): value for name, value in request.headers.items()}
        verify(SECRET.encode(), request.body, headers[HEADER.lower()])
    assert codimd.dump()["webhooks"][-1] == {"id": note_id, "close": False, "status": 202}


def test_dump_route_shows_notes_uploads_and_webhooks(codimd: CodimdStandin, client: httpx.Client) -> None:
    """The test-only `GET /_standin/dump` (what assertions read): live and DB copy, online users, uploads."""
    note_id = new_note(client, codimd, "one")
    codimd.join(note_id, "ann")
    codimd.edit(note_id, "two", lag=True)
    dump = client.get(f"{codimd.url}/_standin/dump").json()
    note = dump["notes"][note_id]
    assert (note["content"], note["db_content"], note["online"]) == ("two", "one", ["ann"])
    assert dump["profile"] == "codimd-cs3" and isinstance(dump["uploads"], dict)
    assert client.post(f"{codimd.url}/_standin/join", json={"id": "no-such-note", "user": "x"}).status_code == 404

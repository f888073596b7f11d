"""CodiMD (the cs3 fork's contract, BRIDGE-NOTES §3.1/3.2/3.6) as a BridgedApp, with HedgeDoc 1.x
as a degraded mode.

Loading: note ids are the documents' app_doc_ids (HMACs, new for every generation: unguessable,
and knowing one is all it takes to edit, notes are anonymous here). HedgeDoc 1.x (profile
`hedgedoc1`, BRIDGE-NOTES §3.3) creates a note with its text in one call, `POST /new/<alias>` (409
if it exists); CodiMD (profile `codimd-cs3`, §3.1/3.2/3.6) has no such route (404) but FreeURL
(`GET /<id>` creates the note) and `PUT /api/notes/<id>` (Bearer API key) to set the text, which it
refuses with 403 while anyone is in the note (`note/index.js` L270-330): the note is then kept as it
is (Loaded.kept). So both are served by one path, tried in that order; HedgeDoc 1.x, which cannot
update a note, only ever gets each generation's note once. Old notes stay behind in either (deleting
needs a logged-in owner): remove() is a no-op.

Saving reads `GET /<id>/download` (the database copy, at most ~1 s behind the live text) and
`GET /<id>/info` (`updatetime`, the note's last change, is the revision, in ms). The cs3 fork's save
webhook (`{"id", "close"}`, signed) tells the edge a note changed; it carries no presence, so head()
echoes the participants the control plane holds.

Read-only participants never learn the note id (knowing it is enough to edit, notes are anonymous
here): their target is the note's published view `s/<shortid>`, resolved server to server. CodiMD
publishes aliased notes (ours all are) under `s/<alias>`, i.e. the id itself: then read-only entry is
refused (AppRefused) rather than handing out the key to edit.

HedgeDoc 1.x sends no webhook: its changes are found by the reconcile poll (updatetime) only.
`.zmd` bundles: import_pictures/export_pictures (edge/bridge/bundles.py packs and unpacks): pictures
go to `/uploadimage` when a bundle is opened and are fetched back from `/uploads/<name>` on every save.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from edge.bridge.apps._http import call, unavailable_if_transient
from edge.bridge.apps.base import AppRefused, AppUnavailable, Content, Entry, Head, Loaded
from shared import bounded_json
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

log = logging.getLogger(__name__)

# CodiMD's note aliases (FreeURL) are path segments; ours are HMACs. Refuse anything else early.
_NOTE_ID = re.compile(r"^[A-Za-z0-9_-]{1,120}$")
_PUBLISHED = re.compile(r"^/s/[A-Za-z0-9_-]{1,64}$")
_UPLOAD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
MAX_DOCUMENT_LENGTH = 100_000  # CodiMD's default documentMaxLength (characters)


def updatetime_ms(value: Any) -> int:
    """/info's `updatetime` (an ISO date as CodiMD serialises lastchangeAt, or a number) in ms."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int | float):
        # Seconds or milliseconds: 10^11 ms is 1973, 10^11 s is year 5138.
        return int(value if value > 1e11 else value * 1000)
    if isinstance(value, str) and value:
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            return 0
    return 0


class CodimdApp:
    """One CodiMD (or HedgeDoc 1.x) instance (an editor row of kind codimd)."""

    kind = "codimd"

    def __init__(self, app: edge_pb.BridgeApp, http: httpx.AsyncClient) -> None:
        self._url = app.url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {app.api_key}"} if app.api_key else {}
        self._http = http

    def _note(self, document: edge_pb.BridgedDocumentRef) -> str:
        """The note's id: the document's app_doc_id (new for every generation, an HMAC)."""
        if not _NOTE_ID.match(document.app_doc_id):
            raise AppRefused("the document's id is not one CodiMD accepts as a note alias")
        return document.app_doc_id

    async def _request(self, method: str, path: str, *, what: str, **kwargs: Any) -> httpx.Response:
        reply = await call(self._http, method, f"{self._url}{path}", what=f"codimd {what}", **kwargs)
        unavailable_if_transient(reply, what=f"codimd {what}")
        return reply

    # -- BridgedApp --

    async def load(self, document: edge_pb.BridgedDocumentRef, text: str) -> Loaded:
        if len(text) > MAX_DOCUMENT_LENGTH:
            raise AppRefused(f"codimd: the file is longer than CodiMD's {MAX_DOCUMENT_LENGTH} characters")
        note = self._note(document)
        # HedgeDoc 1.x (and any fork with its FreeURL route): create the note with its text at once.
        # The key goes along wherever notes are created: deployments that turn anonymous creation off
        # accept the bridge's key instead (the cs3 fork's apiKey).
        reply = await self._request("POST", f"/new/{quote(note)}", what="POST /new/<alias>",
                                    headers={**self._auth, "Content-Type": "text/markdown"}, content=text.encode())
        if reply.status_code in (200, 201, 302):
            return Loaded(rev=await self._updatetime(note))
        if reply.status_code == 413:
            raise AppRefused("codimd: the file is too large for a note")
        if reply.status_code == 409:
            # The note exists: an earlier attempt of this load made it (ids are new per generation).
            live = await self._download(note)
            if live.replace("\r", "") == text:
                return Loaded(rev=await self._updatetime(note))
        elif reply.status_code not in (404, 405):
            raise AppRefused(f"codimd: POST /new/<alias> answered HTTP {reply.status_code}")
        else:
            # CodiMD (cs3 fork): FreeURL creates the note on GET /<id> (200; 302 when the id is an alias).
            reply = await self._request("GET", f"/{quote(note)}", what="open note", headers=self._auth)
            if reply.status_code == 404:
                raise AppRefused("codimd: GET /<id> answered 404: FreeURL (CMD_ALLOW_FREEURL) must be on")
            if reply.status_code not in (200, 302):
                raise AppRefused(f"codimd: GET /<id> answered HTTP {reply.status_code}")
        return await self._replace(document, note, text)

    async def _replace(self, document: edge_pb.BridgedDocumentRef, note: str, text: str) -> Loaded:
        reply = await self._request("PUT", f"/api/notes/{quote(note)}", what="PUT /api/notes",
                                    headers={**self._auth, "Content-Type": "application/json"},
                                    json={"content": text})
        if reply.status_code == 403:
            return await self._kept_live(document, note, text)
        if reply.status_code == 404:
            # HedgeDoc 1.x has no update API: a note it holds cannot be given the file's text. Its text
            # is kept (and saved); ids are new per generation, so this is a retried load's own note.
            log.warning("codimd app %s has no PUT /api/notes (HedgeDoc 1.x?): note of document %s kept",
                        self._url, document.document_id)
            return await self._kept_live(document, note, text)
        self._refused_unless_ok(reply, "PUT /api/notes")
        return Loaded(rev=await self._updatetime(note))

    async def _kept_live(self, document: edge_pb.BridgedDocumentRef, note: str, text: str) -> Loaded:
        """CodiMD refuses to replace a note while anyone is in it (403): keep the note as it is (never
        overwrite what people are typing). If it holds other text it is Loaded.kept: the worker
        takes the file's bytes as the baseline, one revision back, so the first save finds a newer
        revision and other bytes and writes the note's text over the file (the file's previous
        content stays a version): neither side's edits are lost."""
        live = await self._download(note)
        rev = await self._updatetime(note)
        if live.replace("\r", "") == text:
            return Loaded(rev=rev)
        log.warning("codimd note of document %s is in use with other text: kept, saved on the next save",
                    document.document_id)
        return Loaded(rev=rev, kept=True)

    @staticmethod
    def _refused_unless_ok(reply: httpx.Response, what: str) -> None:
        if reply.status_code == 401:
            raise AppRefused(f"codimd {what}: the API key was refused")
        if reply.status_code == 413:
            raise AppRefused(f"codimd {what}: the file is too large for the note")
        if reply.status_code != 200:
            raise AppRefused(f"codimd {what}: HTTP {reply.status_code}")

    async def _updatetime(self, note: str) -> int:
        reply = await self._request("GET", f"/{quote(note)}/info", what="info")
        if reply.status_code == 404:
            raise AppRefused("codimd lost the note")
        self._refused_unless_ok(reply, "info")
        try:
            body = bounded_json.loads(reply.content)
        except ValueError as error:
            raise AppUnavailable(f"codimd info: {bounded_json.why(error)}") from None
        if not isinstance(body, dict):
            raise AppUnavailable("codimd info: not a JSON object")
        return updatetime_ms(body.get("updatetime")) or updatetime_ms(body.get("createtime"))

    async def _download(self, note: str) -> str:
        reply = await self._request("GET", f"/{quote(note)}/download", what="download")
        if reply.status_code == 404:
            raise AppRefused("codimd lost the note")
        self._refused_unless_ok(reply, "download")
        return reply.content.decode("utf-8", errors="replace")

    async def head(self, document: edge_pb.BridgedDocumentRef) -> Head:
        rev = await self._updatetime(self._note(document))
        # No presence in CodiMD's API: the control plane's view stands (the save webhook's close=true
        # and session closes change it).
        present = sorted({p.app_author_id for p in document.participants if p.present and p.app_author_id})
        return Head(rev=rev, present_authors=present)

    async def read(self, document: edge_pb.BridgedDocumentRef, rev: int, since_rev: int) -> Content:
        # /download is the database copy: never newer than the live text, at most ~1 s older; a
        # newer edit moves updatetime on and is read at the next save.
        text = await self._download(self._note(document))
        return Content(rev=rev, text=text.replace("\r", ""), authors=[])

    async def enter(self, document: edge_pb.BridgedDocumentRef, participant: edge_pb.BridgeParticipant,
                    can_write: bool, valid_until_s: int) -> Entry:
        note = self._note(document)
        author = participant.app_author_id or participant.session_id
        if can_write:
            return Entry(author_id=author, app_session_id="", target=note)
        return Entry(author_id=author, app_session_id="", target=await self._published(note))

    async def _published(self, note: str) -> str:
        """`s/<shortid>`: the note's read-only published view (GET /<id>/publish redirects there)."""
        reply = await self._request("GET", f"/{quote(note)}/publish", what="publish")
        location = urlsplit(reply.headers.get("Location", "")).path if reply.status_code in (301, 302, 303) else ""
        if not _PUBLISHED.match(location):
            raise AppRefused(f"codimd publish: no published view (HTTP {reply.status_code})")
        if location.rsplit("/", 1)[-1] == note:
            # CodiMD publishes a note that has an alias under `/s/<alias>` (noteActions.js): for our
            # notes that is the id itself, which would let a viewer edit. No live view, then.
            raise AppRefused("codimd: the note's published view names the note itself; no read-only view")
        return location.lstrip("/")

    # -- .zmd bundles (BundleApp; edge/bridge/bundles.py) --

    async def import_pictures(self, document: edge_pb.BridgedDocumentRef,
                              pictures: dict[str, bytes]) -> dict[str, str]:
        """Each picture under its own name when that name is free or already holds these bytes;
        under a new name from the app otherwise (never overwrite another note's picture)."""
        names: dict[str, str] = {}
        for name, data in pictures.items():
            existing = await self._request("GET", f"/uploads/{quote(name)}", what="GET /uploads")
            if existing.status_code == 200 and existing.content == data:
                names[name] = name
                continue
            keep_name = existing.status_code == 404
            reply = await self._request(
                "POST", "/uploadimage" + ("?generateFilename=false" if keep_name else ""), what="uploadimage",
                headers=self._auth, files={"image": (name, data, "application/octet-stream")})
            if reply.status_code == 413:
                raise AppRefused("codimd uploadimage: a picture of the bundle is too large for the app")
            if reply.status_code in (400, 403, 415):
                # CodiMD (403) and HedgeDoc (400) take images only, typed by their bytes: a bundle
                # with anything else is not opened, since the next save would leave that part out.
                raise AppRefused(f"codimd uploadimage: the app refuses a file of the bundle (HTTP {reply.status_code}: "
                                 "not an image type it accepts)")
            self._refused_unless_ok(reply, "uploadimage")
            try:
                link = bounded_json.loads(reply.content).get("link", "")
            except (ValueError, AttributeError):
                raise AppUnavailable("codimd uploadimage: no link in the answer") from None
            stored = urlsplit(link if isinstance(link, str) else "").path.rsplit("/", 1)[-1]
            if not _UPLOAD_NAME.match(stored):
                raise AppRefused("codimd uploadimage: the app named the picture unexpectedly")
            names[name] = stored
        return names

    async def export_pictures(self, document: edge_pb.BridgedDocumentRef, names: list[str]) -> dict[str, bytes]:
        """Only ever from this app's own /uploads/, by a name that matched zmd.UPLOAD_LINK: a link in
        the text never makes the edge fetch another URL."""
        pictures: dict[str, bytes] = {}
        for name in names:
            if not _UPLOAD_NAME.match(name):
                continue
            reply = await self._request("GET", f"/uploads/{quote(name)}", what="GET /uploads")
            if reply.status_code == 200:
                pictures[name] = reply.content
            elif reply.status_code != 404:
                raise AppRefused(f"codimd GET /uploads: HTTP {reply.status_code}")
        return pictures

    async def revoke(self, document: edge_pb.BridgedDocumentRef, app_session_id: str) -> None:
        """No per-user sessions in CodiMD: the note id is the only key, and it stays valid."""

    async def remove(self, document: edge_pb.BridgedDocumentRef) -> None:
        """Nothing upstream: deleting a note needs a logged-in owner (CodiMD and HedgeDoc alike)."""

    async def notify(self, document: edge_pb.BridgedDocumentRef, message: str) -> None:
        log.info("codimd document %s: %s", document.document_id, message[:200])

    async def aclose(self) -> None:
        """The HTTP client belongs to whoever made this app."""

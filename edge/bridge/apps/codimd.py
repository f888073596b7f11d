"""CodiMD (the cs3 fork's contract, BRIDGE-NOTES §3.1/3.2/3.6) as a BridgedApp, with HedgeDoc 1.x
as a degraded mode.

cs3 fork (profile `codimd-cs3`): FreeURL on, so `GET /<id>` creates a note named by the control
plane (app_doc_id, an HMAC: unguessable, and it is the only thing that lets a browser edit); the
text is set with `PUT /api/notes/<id>` (Bearer API key), which CodiMD refuses with 403 while anyone
is in the note (`note/index.js` L270-330). The save path reads `GET /<id>/download` (the database
copy, at most ~1 s behind the live text) and `GET /<id>/info` (`updatetime`: the note's last change,
used as the revision, in ms). The fork's save webhook (`{"id", "close"}`, signed) tells the edge a
note changed; it carries no presence, so head() echoes the participants the control plane holds.

HedgeDoc 1.x (profile `hedgedoc1`): no update API (PUT answers 404), but `POST /new/<alias>` creates
a note with content (409 if it exists). The bridge then loads each generation into its own note
`<app_doc_id>-g<generation>`; it cannot replace a note's text, and cannot delete old notes (that
needs a login): they stay behind in HedgeDoc. Detected on first use and remembered per app.

Read-only participants never learn the note id (knowing it is enough to edit, notes are anonymous
here): their target is the note's published view `s/<shortid>`, resolved server to server.

Nothing is deleted upstream on close (neither API offers it to us): remove() is a no-op.
`.zmd` bundles (pictures) are not handled: only the Markdown text goes through.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from enum import Enum
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from edge.bridge.apps._http import call, unavailable_if_transient
from edge.bridge.apps.base import AppRefused, AppUnavailable, Content, Entry, Head, Loaded
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

log = logging.getLogger(__name__)

# CodiMD's note aliases (FreeURL) are path segments; ours are HMACs. Refuse anything else early.
_NOTE_ID = re.compile(r"^[A-Za-z0-9_-]{1,120}$")
_PUBLISHED = re.compile(r"^/s/[A-Za-z0-9_-]{1,64}$")
MAX_DOCUMENT_LENGTH = 100_000  # CodiMD's default documentMaxLength (characters)


class Mode(Enum):
    CS3 = "codimd-cs3"  # PUT /api/notes/<id> replaces a note's text
    HEDGEDOC1 = "hedgedoc1"  # no update API: one note per generation via POST /new/<alias>


def generation_alias(document: edge_pb.BridgedDocumentRef) -> str:
    return f"{document.app_doc_id}-g{document.generation}"


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
        self._mode: Mode | None = None

    # -- notes and modes --

    def _base_id(self, document: edge_pb.BridgedDocumentRef) -> str:
        if not _NOTE_ID.match(document.app_doc_id):
            raise AppRefused("the document's id is not one CodiMD accepts as a note alias")
        return document.app_doc_id

    async def _note(self, document: edge_pb.BridgedDocumentRef) -> str:
        """The document's note id under the app's mode (found out once per app when unknown)."""
        base = self._base_id(document)
        if self._mode is None:
            # Only degraded mode creates `<id>-g<n>` notes: one that exists says which mode we are in.
            reply = await self._request("GET", f"/{quote(generation_alias(document))}/info", what="info")
            self._mode = Mode.HEDGEDOC1 if reply.status_code == 200 else Mode.CS3
        return generation_alias(document) if self._mode is Mode.HEDGEDOC1 else base

    async def _request(self, method: str, path: str, *, what: str, **kwargs: Any) -> httpx.Response:
        reply = await call(self._http, method, f"{self._url}{path}", what=f"codimd {what}", **kwargs)
        unavailable_if_transient(reply, what=f"codimd {what}")
        return reply

    # -- BridgedApp --

    async def load(self, document: edge_pb.BridgedDocumentRef, text: str) -> Loaded:
        if len(text) > MAX_DOCUMENT_LENGTH:
            raise AppRefused(f"codimd: the file is longer than CodiMD's {MAX_DOCUMENT_LENGTH} characters")
        if self._mode is not Mode.HEDGEDOC1:
            base = self._base_id(document)
            loaded = await self._load_cs3(document, base, text)
            if loaded is not None:
                self._mode = Mode.CS3
                return loaded
            log.warning("codimd app %s has no update API (PUT /api/notes answered 404): HedgeDoc 1.x mode, "
                        "one note per generation", self._url)
            self._mode = Mode.HEDGEDOC1
        return await self._load_hedgedoc1(document, text)

    async def _load_cs3(self, document: edge_pb.BridgedDocumentRef, note: str, text: str) -> Loaded | None:
        """None when the app has no PUT /api/notes (HedgeDoc 1.x)."""
        # FreeURL: GET /<id> creates the note when it does not exist (200; 302 when id is an alias).
        reply = await self._request("GET", f"/{quote(note)}", what="open note")
        if reply.status_code == 404:
            raise AppRefused("codimd: GET /<id> answered 404: FreeURL (CMD_ALLOW_FREEURL) must be on")
        if reply.status_code not in (200, 302):
            raise AppRefused(f"codimd: GET /<id> answered HTTP {reply.status_code}")
        reply = await self._request("PUT", f"/api/notes/{quote(note)}", what="PUT /api/notes",
                                    headers={**self._auth, "Content-Type": "application/json"},
                                    json={"content": text})
        if reply.status_code == 404:
            return None
        if reply.status_code == 403:
            return await self._kept_live(document, note, text)
        self._refused_unless_ok(reply, "PUT /api/notes")
        return Loaded(rev=await self._updatetime(note))

    async def _kept_live(self, document: edge_pb.BridgedDocumentRef, note: str, text: str) -> Loaded:
        """CodiMD refuses to replace a note while anyone is in it (403): keep the note as it is (never
        overwrite what people are typing). If it holds other text, the baseline is one below the
        note's revision and the file's bytes (Loaded.kept): the first save finds a newer revision
        and other bytes, and writes the note's text over the file (the file's previous content
        stays a version), so neither side's edits are lost."""
        live = await self._download(note)
        rev = await self._updatetime(note)
        if live.replace("\r", "") == text:
            return Loaded(rev=rev)
        log.warning("codimd note of document %s is in use with other text: kept, saved on the next save",
                    document.document_id)
        return Loaded(rev=max(rev - 1, 0), kept=True)

    async def _load_hedgedoc1(self, document: edge_pb.BridgedDocumentRef, text: str) -> Loaded:
        note = generation_alias(document)
        if not _NOTE_ID.match(note):
            raise AppRefused("the document's id is not one HedgeDoc accepts as a note alias")
        reply = await self._request("POST", f"/new/{quote(note)}", what="POST /new/<alias>",
                                    headers={"Content-Type": "text/markdown"}, content=text.encode())
        if reply.status_code == 409:
            # Made by an earlier attempt of this very load: keep it (with any edits since).
            return await self._kept_live(document, note, text)
        if reply.status_code == 413:
            raise AppRefused("hedgedoc: the file is too large for the note")
        if reply.status_code not in (200, 201, 302):
            raise AppRefused(f"hedgedoc: POST /new/<alias> answered HTTP {reply.status_code}")
        return Loaded(rev=await self._updatetime(note))

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
            body = reply.json()
        except ValueError:
            raise AppUnavailable("codimd info: not JSON") from None
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
        rev = await self._updatetime(await self._note(document))
        # No presence in CodiMD's API: the control plane's view stands (the save webhook's close=true
        # and session closes change it).
        present = sorted({p.app_author_id for p in document.participants if p.present and p.app_author_id})
        return Head(rev=rev, present_authors=present)

    async def read(self, document: edge_pb.BridgedDocumentRef, rev: int, since_rev: int) -> Content:
        # /download is the database copy: never newer than the live text, at most ~1 s older; a
        # newer edit moves updatetime on and is read at the next save.
        text = await self._download(await self._note(document))
        return Content(rev=rev, text=text.replace("\r", ""), authors=[])

    async def enter(self, document: edge_pb.BridgedDocumentRef, participant: edge_pb.BridgeParticipant,
                    can_write: bool, valid_until_s: int) -> Entry:
        note = await self._note(document)
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
        return location.lstrip("/")

    async def revoke(self, document: edge_pb.BridgedDocumentRef, app_session_id: str) -> None:
        """No per-user sessions in CodiMD: the note id is the only key, and it stays valid."""

    async def remove(self, document: edge_pb.BridgedDocumentRef) -> None:
        """Nothing upstream: deleting a note needs a logged-in owner (CodiMD and HedgeDoc alike)."""

    async def notify(self, document: edge_pb.BridgedDocumentRef, message: str) -> None:
        log.info("codimd document %s: %s", document.document_id, message[:200])

    async def aclose(self) -> None:
        """The HTTP client belongs to whoever made this app."""

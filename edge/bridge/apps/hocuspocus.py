"""Hocuspocus (our apps/hocuspocus/server.mjs over @hocuspocus/server 3.4.4) as a BridgedApp.

A document is one Y.Text; its name in Hocuspocus is the bridged document's app_doc_id. The normal
load is Hocuspocus's own `create` webhook, answered by the edge with the file's text
(edge/bridge/hocuspocus_webhook.py); `load` here is the other path (PUT /doc/<name> while nobody is
connected), used by a worker or host page holding the load lease; with people connected the live
document is kept (Loaded.kept) and its text, when it differs, saved over the file.

Revisions: Yjs has none. The bridge's revision of a Hocuspocus document is a counter the control
plane keeps: every `change` webhook it accepts advances seen_rev. A revision number therefore says
"some change happened since", never "this exact text"; whether there is something to save is decided
by the text itself: head() hashes the text (in the file's shape, text_profile.encode) and, when it
differs from the bytes last saved or loaded while no change was reported (a lost webhook, an edge
restart), answers saved_rev + 1 so that the worker saves it. read() gives the text as it is now under
the revision asked for; a newer text under an older number is harmless (the next change advances the
counter again, and saving the same bytes twice is a no-op by hash).

Presence: GET /doc says how many clients are connected and, with our server.mjs, their authors (the
`author` of each connection's context, i.e. our connect answer). Without that list the document's
present participants are echoed back, so a poll never makes people "leave" who are still there.

Entry: the user's single-use entry code is the provider's token; Hocuspocus sends it with the
`connect` webhook and the control plane redeems it (a used, revoked or unknown code is refused). The
document name is the target. revoke() closes the connections of the ended session (server.mjs kick).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from edge.bridge.apps._http import call, unavailable_if_transient
from edge.bridge.apps.base import AppRefused, AppUnavailable, Content, Entry, Head, Loaded
from edge.bridge.text_profile import TextProfile, encode
from shared import bounded_json
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

log = logging.getLogger(__name__)

MAX_NAME_LENGTH = 255  # server.mjs (the SQLite extension's column)


@dataclass(frozen=True)
class _Live:
    """What GET /doc/<name> said: the text, how many clients, and their authors when listed."""

    content: str
    clients: int
    authors: list[str] | None


def rev_of(document: edge_pb.BridgedDocumentRef) -> int:
    """The newest revision the control plane knows of."""
    return max(document.seen_rev, document.saved_rev, document.baseline_rev, 0)


def text_sha256(document: edge_pb.BridgedDocumentRef, text: str) -> str:
    """SHA-256 of the bytes a save of `text` would write (the file's shape)."""
    return hashlib.sha256(encode(text, TextProfile.from_json(document.text_profile))).hexdigest()


class HocuspocusApp:
    """One Hocuspocus server (an editor row of kind hocuspocus)."""

    kind = "hocuspocus"

    def __init__(self, app: edge_pb.BridgeApp, http: httpx.AsyncClient) -> None:
        self._url = app.url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {app.api_key}"}
        self._http = http

    def _doc_url(self, document: edge_pb.BridgedDocumentRef) -> str:
        name = document.app_doc_id
        if not name or len(name) > MAX_NAME_LENGTH or any(ord(c) < 32 or ord(c) == 127 for c in name):
            raise AppRefused("the document's name is not one Hocuspocus accepts")
        return f"{self._url}/doc/{quote(name, safe='')}"

    async def _get(self, document: edge_pb.BridgedDocumentRef) -> _Live | None:
        """The live document, or None when Hocuspocus holds none by that name (neither loaded nor stored)."""
        reply = await call(self._http, "GET", self._doc_url(document), what="hocuspocus GET /doc", headers=self._auth)
        unavailable_if_transient(reply, what="hocuspocus GET /doc")
        if reply.status_code == 404:
            return None
        self._refused_unless_ok(reply, "GET /doc")
        body = _json(reply, "GET /doc")
        content, clients, authors = body.get("content"), body.get("clients", 0), body.get("authors")
        if not isinstance(content, str) or not isinstance(clients, int):
            raise AppUnavailable('hocuspocus GET /doc: not {"content": str, "clients": int}')
        listed = sorted({str(a) for a in authors if isinstance(a, str) and a}) if isinstance(authors, list) else None
        return _Live(content=content, clients=clients, authors=listed)

    @staticmethod
    def _refused_unless_ok(reply: httpx.Response, what: str) -> None:
        if reply.status_code == 401:
            raise AppRefused(f"hocuspocus {what}: the API key was refused")
        if reply.status_code == 413:
            raise AppRefused(f"hocuspocus {what}: the document is too large for the server (MAX_DOCUMENT_BYTES)")
        if reply.status_code != 200:
            raise AppRefused(f"hocuspocus {what}: HTTP {reply.status_code}")

    async def load(self, document: edge_pb.BridgedDocumentRef, text: str) -> Loaded:
        url = self._doc_url(document)
        reply = await call(self._http, "PUT", url, what="hocuspocus PUT /doc",
                           headers={**self._auth, "Content-Type": "application/json"},
                           content=json.dumps({"content": text}).encode())
        unavailable_if_transient(reply, what="hocuspocus PUT /doc")
        if reply.status_code == 409:
            # People are connected: the document was loaded by its `create` webhook already, or is a
            # live one of an earlier generation. Never overwrite a live document: keep it. When its
            # text differs from the file, head() sees the difference and the next save writes it.
            live = await self._get(document)
            if live is not None and live.content != text:
                log.warning("hocuspocus document %s is live with other text: kept as it is", document.document_id)
                return Loaded(rev=rev_of(document), kept=True)
            return Loaded(rev=rev_of(document))
        self._refused_unless_ok(reply, "PUT /doc")
        return Loaded(rev=rev_of(document))

    async def head(self, document: edge_pb.BridgedDocumentRef) -> Head:
        live = await self._get(document)
        rev = rev_of(document)
        if live is None:
            # Nothing loaded nor stored: Hocuspocus unloads an unchanged document without storing it.
            # If a change was reported meanwhile, read() finds the document gone and says so.
            return Head(rev=rev, present_authors=[])
        last_saved = max(document.saved_rev, document.baseline_rev)
        if rev <= last_saved and document.saved_sha256 \
                and text_sha256(document, live.content) != document.saved_sha256:
            rev = last_saved + 1  # changed without a `change` webhook reaching us
        return Head(rev=rev, present_authors=self._present(document, live))

    @staticmethod
    def _present(document: edge_pb.BridgedDocumentRef, live: _Live) -> list[str]:
        if live.clients == 0:
            return []
        if live.authors is not None:
            return live.authors
        return sorted({p.app_author_id for p in document.participants if p.present and p.app_author_id})

    async def read(self, document: edge_pb.BridgedDocumentRef, rev: int, since_rev: int) -> Content:
        live = await self._get(document)
        if live is None:
            raise AppRefused("hocuspocus lost the document (neither loaded nor stored)")
        return Content(rev=rev, text=live.content, authors=await self._take_editors(document))

    async def _take_editors(self, document: edge_pb.BridgedDocumentRef) -> list[str]:
        """Who edited since the last take (server.mjs remembers the authors of the connections whose
        updates changed the document). An edit made between the GET and the take is named in this
        save although its text is in the next one: a small skew, never a wrong person."""
        reply = await call(self._http, "POST", f"{self._doc_url(document)}?take=editors",
                           what="hocuspocus take editors", headers=self._auth)
        if reply.status_code != 200:
            return []  # an older server.mjs: the save names nobody
        editors = _json(reply, "take editors").get("editors")
        return sorted({e for e in editors if isinstance(e, str) and e}) if isinstance(editors, list) else []

    async def enter(self, document: edge_pb.BridgedDocumentRef, participant: edge_pb.BridgeParticipant,
                    can_write: bool, valid_until_s: int) -> Entry:
        self._doc_url(document)  # a name Hocuspocus accepts
        author = participant.app_author_id or participant.session_id
        # The "app session" is the wopi-proxy session the connection's context names: not a credential
        # (the entry code is), but what revoke() closes when that session ends.
        return Entry(author_id=author, app_session_id=participant.session_id, target=document.app_doc_id)

    async def revoke(self, document: edge_pb.BridgedDocumentRef, app_session_id: str) -> None:
        """Close the session's connections (server.mjs POST ?kick=<session>); its entry code is spent
        and the control plane refuses any other, so it cannot come back."""
        reply = await call(self._http, "POST", f"{self._doc_url(document)}?{urlencode({'kick': app_session_id})}",
                           what="hocuspocus kick", headers=self._auth)
        unavailable_if_transient(reply, what="hocuspocus kick")
        if reply.status_code not in (200, 404):
            self._refused_unless_ok(reply, "kick")

    async def remove(self, document: edge_pb.BridgedDocumentRef) -> None:
        reply = await call(self._http, "DELETE", self._doc_url(document), what="hocuspocus DELETE /doc",
                           headers=self._auth)
        unavailable_if_transient(reply, what="hocuspocus DELETE /doc")
        if reply.status_code == 409:
            raise AppUnavailable("hocuspocus DELETE /doc: clients connected again")
        if reply.status_code == 404:
            return  # already gone
        self._refused_unless_ok(reply, "DELETE /doc")

    async def notify(self, document: edge_pb.BridgedDocumentRef, message: str) -> None:
        """A stateless message to the document's clients (server.mjs ?notify=1); best effort."""
        try:
            reply = await call(self._http, "POST", f"{self._doc_url(document)}?notify=1", what="hocuspocus notify",
                               headers={**self._auth, "Content-Type": "application/json"},
                               content=json.dumps({"message": message[:500]}).encode())
            if reply.status_code != 200:
                log.warning("hocuspocus notify of document %s: HTTP %d", document.document_id, reply.status_code)
        except (AppRefused, AppUnavailable) as error:
            log.warning("hocuspocus notify of document %s failed: %s", document.document_id, error.detail)

    async def aclose(self) -> None:
        """The HTTP client belongs to whoever made this app."""


def _json(reply: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = bounded_json.loads(reply.content)
    except ValueError as error:
        raise AppUnavailable(f"hocuspocus {what}: {bounded_json.why(error)}") from None
    if not isinstance(body, dict):
        raise AppUnavailable(f"hocuspocus {what}: not a JSON object")
    return body

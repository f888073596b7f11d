"""Etherpad (1.8.14, HTTP API 1.2.15) as a BridgedApp; BRIDGE-NOTES.md §2 has what was measured.

Every document gets its own Etherpad group, and is its one group pad `g.<group>$<app_doc_id>`:
private group pads need an API session of their group, so nobody gets in without our entry flow.
A group per document rather than per tenant (BRIDGE-NOTES §5.11): Etherpad lets a session of a
group into every pad of that group, and a browser keeps all its sessions in one cookie, so with a
tenant-wide group a user whose session was closed (deleteSession) would still get into the pad
with the session of any other document of the tenant they have open, and a viewer's session would
open the writable pad of another document. Tenants stay apart all the same (the mapper names the
tenant). Users enter with their own author (`<tenant>:<user_id>`) and a session bounded by their
token's expiry; removing the document deletes its group (pads and sessions).

Formats: `.html`/`.htm` files go in with setHTML and come back from getHTML (Etherpad's own HTML:
headings, lists, bold... as Etherpad keeps them; scripts, styles and <head> are dropped); any other
file is plain text (setText/getText). The file's name decides, for the load and every read alike.

API calls are POSTs with the key in the form body (never in a URL a proxy could log). Etherpad
answers API errors with HTTP 200 and `code` 1 (bad input), 2 (internal), 3 (no such function), 4
(bad key, HTTP 401 in 1.8.14): the code is checked, not only the status.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

import httpx

from edge.bridge import text_profile
from edge.bridge.apps import _http
from edge.bridge.apps.base import AppRefused, AppUnavailable, Content, Entry, Head, Loaded
from shared import bounded_json, signatures
from shared.bounded_body import UnreadableBody, read_capped
from shared.errors import WopiProxyError
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

log = logging.getLogger(__name__)

API_VERSION = "1.2.15"
TIMEOUT_S = 10.0
# Attribution reads one changeset per revision; past this many, the pad's author list stands in.
MAX_ATTRIBUTED_REVISIONS = 200
MAX_CACHED_GROUPS = 10_000
MAX_ANSWER_BYTES = 64 << 20  # a pad's text (the edge opens files up to 8 MiB) with its JSON framing
_DOC_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
# One token of a changeset's ops: an attribute (*n), a line count (|n) or an op with its length.
# Tokens, not whole ops: a pattern for a whole op restarted at each `*` of a run of attributes
# with no op after it, quadratic in the answer (an Etherpad's "*a*a*a..." blocked the event loop
# for 44 s per 64 KB).
_OP_TOKENS = re.compile(r"\*([0-9a-z]+)|\|[0-9a-z]+|([-+=])[0-9a-z]+")
_HEADER = re.compile(r"^Z:[0-9a-z]+[<>][0-9a-z]+")
_TRAILING_BR = re.compile(r"<br\s*/?>((?:\s*</body\s*>)?(?:\s*</html\s*>)?\s*)$", re.IGNORECASE)
# createPad refuses a text of 100,000 UTF-16 units or more; a longer one is set after (setText).
MAX_CREATE_TEXT = 40_000
SET_HTML_MAX_TIMEOUT_S = 45.0


async def _bounded(reply: httpx.Response, function: str) -> bytes:
    """The answer's body; a tenant's own Etherpad is not trusted to send a bounded one."""
    try:
        return await read_capped(reply, MAX_ANSWER_BYTES)
    except UnreadableBody as error:
        raise AppRefused(f"etherpad {function}: answer {error.message}") from None


class EtherpadApiError(AppRefused):
    """Etherpad answered `code` 1: it refused the arguments (no such pad, session, ...)."""


def clean_text(text: str) -> str:
    """What Etherpad makes of a text it is given (db/Pad.js cleanText)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " " * 8).replace("\u00a0", " ")


def pad_text(text: str) -> str:
    """The pad's text after it was given `text`: cleaned, and always ending with a newline."""
    cleaned = clean_text(text)
    return cleaned if cleaned.endswith("\n") else cleaned + "\n"


def import_html(html: str) -> str:
    """What to give setHTML so that Etherpad's own HTML comes back unchanged. Its import appends an
    empty paragraph (a line for the caret) and its export ends every line with <br>, so each load
    of a saved file would add one more empty line: one trailing <br> before the end of the body is
    dropped, and the import's line stands in for it. (When the last line has text, the import
    still adds its empty line once; a pad always ends with one.)"""
    return _TRAILING_BR.sub(r"\1", html, count=1)


def changeset_authors(changeset: str, pool: Mapping[str, Any]) -> set[str]:
    """Authors of the text a changeset inserts or formats (its `*n` attributes on + and = ops)."""
    header = _HEADER.match(changeset)
    if header is None:
        return set()
    ops = changeset[header.end():].split("$", 1)[0]
    authors: set[str] = set()
    attributes: list[str] = []  # those of the op being read
    for match in _OP_TOKENS.finditer(ops):
        attribute, op = match.group(1), match.group(2)
        if attribute is not None:
            attributes.append(attribute)
        elif op is not None:
            if op != "-":
                authors.update(_authors_of(attributes, pool))
            attributes.clear()
    return authors


def _authors_of(attributes: list[str], pool: Mapping[str, Any]) -> set[str]:
    found = set()
    for number in attributes:
        if len(number) > 8:  # no pool is that large; int() of a long one is slow, or refused
            continue
        attrib = pool.get(str(int(number, 36)))
        if isinstance(attrib, list) and len(attrib) == 2 and attrib[0] == "author" and attrib[1]:
            found.add(str(attrib[1]))
    return found


class EtherpadApp:
    """One Etherpad instance (an editor row of kind etherpad)."""

    kind = "etherpad"

    def __init__(self, app: edge_pb.BridgeApp, http: httpx.AsyncClient) -> None:
        self._url = app.url.rstrip("/")
        self._api_key = app.api_key
        self._secret = app.webhook_secret.encode()
        self._http = http
        self._groups: dict[tuple[str, str], str] = {}  # (tenant, document) -> Etherpad group id

    async def _call(self, function: str, **params: str | int) -> Any:
        """The `data` of a successful call (a dict, or a string for getRevisionChangeset)."""
        return await self._request(function, params, TIMEOUT_S)

    async def _request(self, function: str, params: Mapping[str, str | int], timeout: float) -> Any:
        form = {"apikey": self._api_key, **{k: str(v) for k, v in params.items()}}
        try:
            request = self._http.build_request("POST", f"{self._url}/api/{API_VERSION}/{function}", data=form,
                                               timeout=timeout)
            reply = await self._http.send(request, stream=True)
            try:
                raw = await _bounded(reply, function)
            finally:
                await reply.aclose()
        except httpx.TimeoutException:
            raise AppUnavailable(f"etherpad {function}: timed out") from None
        except httpx.TransportError as error:
            raise AppUnavailable(f"etherpad {function}: {type(error).__name__}") from None
        except WopiProxyError as error:  # EgressRefused: a tenant's Etherpad at an internal address
            raise AppRefused(f"etherpad {function}: {error.message}") from None
        if reply.status_code >= 500 or reply.status_code == 429:
            raise AppUnavailable(f"etherpad {function}: HTTP {reply.status_code}")
        try:
            body = bounded_json.loads(raw)
        except ValueError as error:
            raise AppUnavailable(f"etherpad {function}: HTTP {reply.status_code}, {bounded_json.why(error)}") from None
        code = body.get("code") if isinstance(body, dict) else None
        if code == 0 and reply.status_code == 200:
            return body.get("data")
        message = str(body.get("message", ""))[:200] if isinstance(body, dict) else ""
        if code == 4 or reply.status_code in (401, 403):
            raise AppRefused(f"etherpad {function}: the API key was refused")
        if code == 1:
            raise EtherpadApiError(f"etherpad {function}: {message}")
        if code == 2:
            raise AppUnavailable(f"etherpad {function}: internal error")
        raise AppRefused(f"etherpad {function}: HTTP {reply.status_code} code {code}: {message}")

    async def _api(self, function: str, **params: str | int) -> dict[str, Any]:
        data = await self._call(function, **params)
        return data if isinstance(data, dict) else {}

    async def _pad(self, document: edge_pb.BridgedDocumentRef) -> tuple[str, str]:
        """(group id, pad id) of the document."""
        if not _DOC_ID.match(document.app_doc_id):
            raise AppRefused("the document's pad name is not one Etherpad accepts")
        key = (document.tenant_id, document.app_doc_id)
        group = self._groups.get(key)
        if group is None:
            data = await self._api("createGroupIfNotExistsFor",
                                   groupMapper=f"wopi-proxy:{document.tenant_id}:{document.app_doc_id}")
            group = str(data.get("groupID", ""))
            if not group.startswith("g."):
                raise AppUnavailable("etherpad createGroupIfNotExistsFor: no group id")
            self._groups[key] = group
            while len(self._groups) > MAX_CACHED_GROUPS:
                self._groups.pop(next(iter(self._groups)))
        return group, f"{group}${document.app_doc_id}"

    def _forget_group(self, document: edge_pb.BridgedDocumentRef) -> None:
        self._groups.pop((document.tenant_id, document.app_doc_id), None)

    async def _head_rev(self, pad: str) -> int:
        return int((await self._api("getRevisionsCount", padID=pad)).get("revisions", 0))

    async def _text_at(self, pad: str, rev: int) -> str:
        # 1.8.14 answers {"text": {"text": ..., "attribs": ...}} when given a revision (fixed in 1.9.0).
        text = (await self._api("getText", padID=pad, rev=rev)).get("text", "")
        if isinstance(text, dict):
            text = text.get("text", "")
        if not isinstance(text, str):
            raise AppUnavailable("etherpad getText: no text")
        return text

    async def _html_at(self, pad: str, rev: int) -> str:
        # {"html": "<!DOCTYPE HTML><html><body>…</body></html>"}, the same shape with or without rev.
        html = (await self._api("getHTML", padID=pad, rev=rev)).get("html")
        if not isinstance(html, str):
            raise AppUnavailable("etherpad getHTML: no html")
        return html

    async def load(self, document: edge_pb.BridgedDocumentRef, text: str) -> Loaded:
        """An HTML file (`.html`/`.htm`) goes in with setHTML, any other as plain text (setText)."""
        html = text_profile.is_html(document.file_name)
        group, pad = await self._pad(document)
        wanted = text if html else pad_text(text)
        # A new pad starts as "\n" with the text inserted before it: given the text without its final
        # newline it holds exactly `wanted` at revision 0. createPad refuses texts of 100k characters
        # (JavaScript's, UTF-16) and HTML needs setHTML: those pads start empty and are set after.
        initial = "" if html or len(wanted) > MAX_CREATE_TEXT else wanted.removesuffix("\n")
        try:
            await self._api("createGroupPad", groupID=group, padName=document.app_doc_id, text=initial)
        except EtherpadApiError:
            try:
                await self._head_rev(pad)  # the pad exists already
            except EtherpadApiError:
                # Neither created nor there: the group we remember is gone (Etherpad lost its
                # database). Ask for the tenant's group again, once.
                self._forget_group(document)
                group, pad = await self._pad(document)
                await self._api("createGroupPad", groupID=group, padName=document.app_doc_id, text=initial)
                return await self._settled(pad, wanted, html)
            users = int((await self._api("padUsersCount", padID=pad)).get("padUsersCount", 0))
            if users:
                # People are typing in the pad of an earlier generation: never overwrite a live pad.
                log.warning("pad of document %s already in use: kept as it is", document.document_id)
                return Loaded(rev=await self._head_rev(pad), read_only_id=await self._read_only_id(pad), kept=True)
        return await self._settled(pad, wanted, html)

    async def _settled(self, pad: str, wanted: str, html: bool) -> Loaded:
        """The pad holds `wanted` at its head: setText when it does not (an older generation's pad
        nobody is in, an operator's defaultPadText, a text too long for createPad); HTML is always
        set (what Etherpad makes of it is known only afterwards)."""
        if html:
            # Etherpad's HTML import is slow (measured: 1 MiB 2 s, 9 MiB 36 s): a longer wait, still
            # within the worker's lease (60 s by default).
            await self._request("setHTML", {"padID": pad, "html": import_html(wanted)},
                                min(SET_HTML_MAX_TIMEOUT_S, TIMEOUT_S + len(wanted) / 250_000))
            return Loaded(rev=await self._head_rev(pad), read_only_id=await self._read_only_id(pad))
        rev = await self._head_rev(pad)
        if await self._text_at(pad, rev) != wanted:
            await self._api("setText", padID=pad, text=wanted)
            rev = await self._head_rev(pad)
        return Loaded(rev=rev, read_only_id=await self._read_only_id(pad))

    async def _read_only_id(self, pad: str) -> str:
        return str((await self._api("getReadOnlyID", padID=pad)).get("readOnlyID", ""))

    async def head(self, document: edge_pb.BridgedDocumentRef) -> Head:
        _, pad = await self._pad(document)
        rev = await self._head_rev(pad)
        users = (await self._api("padUsers", padID=pad)).get("padUsers", [])
        present = [str(u["id"]) for u in users if isinstance(u, dict) and u.get("id")] if isinstance(users, list) else []
        return Head(rev=rev, present_authors=sorted(set(present)))

    async def read(self, document: edge_pb.BridgedDocumentRef, rev: int, since_rev: int) -> Content:
        _, pad = await self._pad(document)
        text = await (self._html_at(pad, rev) if text_profile.is_html(document.file_name) else self._text_at(pad, rev))
        return Content(rev=rev, text=text, authors=sorted(await self._authors(pad, since_rev, rev)))

    async def _authors(self, pad: str, since_rev: int, rev: int) -> set[str]:
        """Who wrote since_rev+1..rev; the pad's whole author list when that is too many revisions
        to read or some revision names nobody (a deletion carries no author)."""
        first = max(since_rev + 1, 0)
        if rev < first:
            return set()
        authors: set[str] = set()
        if rev - first < MAX_ATTRIBUTED_REVISIONS:
            pool = (await self._api("getAttributePool", padID=pad)).get("pool", {})
            attribs = pool.get("numToAttrib", {}) if isinstance(pool, dict) else {}
            unattributed = False
            for number in range(first, rev + 1):
                changeset = await self._api_changeset(pad, number)
                found = changeset_authors(changeset, attribs)
                unattributed = unattributed or not found
                authors |= found
            if not unattributed:
                return authors
        listed = (await self._api("listAuthorsOfPad", padID=pad)).get("authorIDs", [])
        return authors | {str(a) for a in listed if a} if isinstance(listed, list) else authors

    async def _api_changeset(self, pad: str, rev: int) -> str:
        data = await self._call("getRevisionChangeset", padID=pad, rev=rev)
        return data if isinstance(data, str) else ""

    async def enter(self, document: edge_pb.BridgedDocumentRef, participant: edge_pb.BridgeParticipant,
                    can_write: bool, valid_until_s: int) -> Entry:
        group, pad = await self._pad(document)
        author = await self._api("createAuthorIfNotExistsFor", authorMapper=f"{document.tenant_id}:{participant.user_id}",
                                 name=participant.user_name or participant.user_id)
        author_id = str(author.get("authorID", ""))
        if not author_id:
            raise AppUnavailable("etherpad createAuthorIfNotExistsFor: no author id")
        # Private group pads (read-only views too) let in only browsers with a session of the group.
        session = await self._api("createSession", groupID=group, authorID=author_id, validUntil=valid_until_s)
        session_id = str(session.get("sessionID", ""))
        if not session_id:
            raise AppUnavailable("etherpad createSession: no session id")
        target = pad if can_write else (document.app_read_only_id or await self._read_only_id(pad))
        return Entry(author_id=author_id, app_session_id=session_id, target=target)

    async def revoke(self, document: edge_pb.BridgedDocumentRef, app_session_id: str) -> None:
        try:
            await self._api("deleteSession", sessionID=app_session_id)
        except EtherpadApiError:
            pass  # already gone: that is what was asked

    async def remove(self, document: edge_pb.BridgedDocumentRef) -> None:
        """The pad, then its group with every session in it (already gone is done)."""
        group, pad = await self._pad(document)
        for function, params in (("deletePad", {"padID": pad}), ("deleteGroup", {"groupID": group})):
            try:
                await self._api(function, **params)
            except EtherpadApiError:
                pass
        self._forget_group(document)

    async def notify(self, document: edge_pb.BridgedDocumentRef, message: str) -> None:
        """Our plugin's POST /wopi-proxy/notify, signed; best effort."""
        try:
            _, pad = await self._pad(document)
            body = json.dumps({"pad": pad, "message": message[:500]}).encode()
            # Through _http.call, whose read of the answer is bounded (decoded): a tenant's Etherpad
            # answered gzip-compressed zeros, 200 KB inflating into 200 MiB held by the edge.
            reply = await _http.call(self._http, "POST", f"{self._url}/wopi-proxy/notify", what="etherpad notify",
                                     content=body, timeout=TIMEOUT_S,
                                     headers={"Content-Type": "application/json",
                                              signatures.HEADER: signatures.sign(self._secret, body)})
            if reply.status_code >= 300:
                log.warning("etherpad notify of document %s: HTTP %d", document.document_id, reply.status_code)
        except (httpx.HTTPError, WopiProxyError, AppRefused, AppUnavailable) as error:
            log.warning("etherpad notify of document %s failed: %s", document.document_id,
                        getattr(error, "detail", type(error).__name__))

    async def aclose(self) -> None:
        """The HTTP client belongs to the pool that made this app (edge/bridge/app_pool.py)."""

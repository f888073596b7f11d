"""Signed requests from the bridged apps (NoteBridgeEvent): the Etherpad plugin's events and entry
redemptions, CodiMD's save webhook, Hocuspocus's webhook. BRIDGE-NOTES 5.6, 5.11.

The body is parsed (strictly, bounded) only to find the document or entry it names; the
signature is then checked with THAT document's app secret, first in a read (no write lock, no row
lock: these routes face whoever reaches the edge, and a forged request must not wait for or hold
up the writers), then again in the transaction that applies it. Whatever fails (syntax, unknown pad,
note or code, another app's document, signature, replay window) raises the one
BridgeSignatureInvalid, so a caller learns nothing about which documents exist.

Bodies are parsed only up to MAX_BODY (64 KiB). Hocuspocus's `change` webhook carries the whole
document (up to the edge's file size limit, 16 MiB at most) and is the one event that passes it:
such a body is never parsed (large_change). Parsed, 16 MiB of `[{},{},...]` cost 1.4 s of the
event loop every tenant's grants run on and some 430 MiB, before its signature was even checked;
and a tenant signs its own app's webhooks, so a signature alone would not have bounded it.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from control.db import bridge_store, stores
from control.db.models import BridgeDocument, BridgeEntry, BridgeParticipant, Editor
from control.services import bridge_common as common
from control.services.context import ServiceContext
from control.services.keys import hash_secret
from shared import signatures
from shared.bridge_limits import MAX_EVENT_BYTES
from shared.errors import BridgeSignatureInvalid

ETHERPAD_EVENT, ETHERPAD_REDEEM, CODIMD_WEBHOOK, HOCUSPOCUS_WEBHOOK = "etherpad-event", "etherpad-redeem", \
    "codimd-webhook", "hocuspocus-webhook"
MAX_BODY = MAX_EVENT_BYTES
MAX_NAME = 200


@dataclass(frozen=True)
class EventAnswer:
    """What the edge answers the app (all empty for a plain notification)."""

    app_session_id: str = ""
    app_target: str = ""
    user_name: str = ""
    valid_until: int = 0  # unix seconds
    context_json: str = ""
    load_document: common.DocumentView | None = None


def _refuse(*_: Any) -> Any:
    raise BridgeSignatureInvalid()


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise BridgeSignatureInvalid()
    return result


def parse(body: bytes, limit: int) -> dict[str, Any]:
    """A JSON object, strictly: UTF-8, no duplicate keys, no NaN/Infinity, within `limit` bytes."""
    if len(body) > limit:
        raise BridgeSignatureInvalid()
    try:
        value = json.loads(body.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_refuse)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BridgeSignatureInvalid() from None
    if not isinstance(value, dict):
        raise BridgeSignatureInvalid()
    return value


def _text(data: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = data.get(key, "" if not required else None)
    if not isinstance(value, str) or len(value) > MAX_NAME or (required and not value):
        raise BridgeSignatureInvalid()
    return value


def _int(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if type(value) is not int or not 0 <= value < common.MAX_REV:
        raise BridgeSignatureInvalid()
    return value


def _pad_name(pad: str) -> str:
    """Etherpad reports group pads as "g.<group>$<name>": our id is the name."""
    return pad.rsplit("$", 1)[-1]


async def _editor_secret(db: AsyncSession, doc: BridgeDocument) -> bytes:
    editor = await db.get(Editor, doc.editor_id)
    if editor is None or not editor.webhook_secret:
        raise BridgeSignatureInvalid()
    return editor.webhook_secret.encode()


async def _verified(db: AsyncSession, doc: BridgeDocument | None, kind: str, body: bytes,
                    check: Callable[[bytes, bytes, str], None], signature: str) -> BridgeDocument:
    if doc is None or doc.kind != kind:
        raise BridgeSignatureInvalid()
    check(await _editor_secret(db, doc), body, signature)
    return doc


def _check_ours(secret: bytes, body: bytes, header: str) -> None:
    signatures.verify(secret, body, header)


def _check_hocuspocus(secret: bytes, body: bytes, header: str) -> None:
    signatures.verify_hocuspocus(secret, body, header)


async def note_event(ctx: ServiceContext, *, source: str, body: bytes, signature: str,
                     client_address: str) -> EventAnswer:
    if source == HOCUSPOCUS_WEBHOOK and len(body) > MAX_BODY:
        return await _large_hocuspocus_change(ctx, body, signature)
    data = parse(body, MAX_BODY)
    handler = HANDLERS.get(source)
    if handler is None:
        raise BridgeSignatureInvalid()
    now = ctx.clock()
    # Checked first in a read (no write lock, no row locks): a request its app did not sign, the
    # usual case for someone else's, never waits for or holds up the writers (every tenant's grants
    # and saves on SQLite). The transaction then checks again, on the rows it locked.
    async with ctx.read() as db:
        await handler(db, ctx, data, body, signature, now, verify_only=True)
    async with ctx.transaction() as db:
        try:
            return await handler(db, ctx, data, body, signature, now)
        except _Spent:
            pass  # committed: the entry is gone
    raise BridgeSignatureInvalid()


# -- Etherpad (our plugin ep_wopi_proxy) ------------------------------------------------------------------


async def _etherpad_event(db: AsyncSession, ctx: ServiceContext, data: dict[str, Any], body: bytes,
                          signature: str, now: int, *, verify_only: bool = False) -> EventAnswer:
    """{event: change|join|leave|remove, pad, rev, author, ts}"""
    pad = _pad_name(_text(data, "pad"))
    found = await bridge_store.live_document_by_app_id(db, app_doc_id=pad, kind="etherpad",
                                                       for_update=not verify_only)
    doc = await _verified(db, found, "etherpad", body, _check_ours, signature)
    if verify_only:
        return EventAnswer()
    event = data.get("event")
    if event == "change":
        common.note_change(doc, ctx.bridge, now, rev=_int(data, "rev"))
    elif event in ("join", "leave"):
        author = _text(data, "author")
        await _presence(db, ctx, doc, now, present=event == "join",
                        match=lambda p: p.app_author_id == author)
    elif event == "remove" and doc.state in ("open", "conflicted", "loading"):
        doc.state, doc.last_error = "failed", "the app removed the document"
        await common.record(db, doc, "bridge.app_error", now, outcome="failed", detail="the pad was removed")
    db.add(doc)
    return EventAnswer()


async def _presence(db: AsyncSession, ctx: ServiceContext, doc: BridgeDocument, now: int, *, present: bool,
                    match: Callable[[BridgeParticipant], bool]) -> None:
    changed = False
    for participant in await bridge_store.participants(db, document_id=doc.id):
        if participant.revoked or not match(participant) or participant.present == present:
            continue
        participant.present = present
        participant.leave_time = None if present else now
        db.add(participant)
        changed = True
        await common.record(db, doc, "bridge.join" if present else "bridge.leave", now,
                            actor=f"user:{participant.user_id}", session_id=participant.session_id)
    if not changed:
        return
    if present:
        common.reopen(doc, now)
    else:
        await common.after_departure(db, ctx.bridge, doc, now)


async def _entry(db: AsyncSession, code: str, now: int, *, for_update: bool = True
                 ) -> tuple[BridgeEntry, BridgeDocument, BridgeParticipant]:
    """The entry a code names, with its document and participant, or BridgeSignatureInvalid."""
    entry = await db.get(BridgeEntry, hash_secret(code)) if code else None
    doc = await bridge_store.document(db, document_id=entry.document_id, tenant_id=entry.tenant_id,
                                      for_update=for_update) if entry else None
    participant = await db.get(BridgeParticipant, entry.participant_id) if entry else None
    if entry is None or doc is None or participant is None or doc.live_file_id is None:
        raise BridgeSignatureInvalid()
    return entry, doc, participant


async def _use_entry(db: AsyncSession, entry: BridgeEntry, doc: BridgeDocument, participant: BridgeParticipant,
                     now: int) -> int:
    """Consumes the (verified) entry: single use, whatever follows. Returns the session's expiry."""
    if not await stores.take_once(db, BridgeEntry, entry.code_hash):
        raise BridgeSignatureInvalid()  # another redemption took it first
    session = await stores.get_session(db, session_id=participant.session_id, tenant_id=doc.tenant_id)
    tenant = await stores.get_tenant(db, tenant_id=doc.tenant_id)
    if (entry.expire_time <= now or participant.revoked or session is None or session.close_time is not None
            or session.expire_time <= now or tenant is None or not tenant.enabled):
        raise _Spent()
    participant.present, participant.leave_time = True, None
    db.add(participant)
    common.reopen(doc, now)
    db.add(doc)
    return session.expire_time


class _Spent(Exception):
    """A verified entry that may not be used any more: it is deleted, and the answer is refused."""


async def _redeem(db: AsyncSession, ctx: ServiceContext, data: dict[str, Any], body: bytes, signature: str,
                  now: int, *, verify_only: bool = False) -> EventAnswer:
    """{code}: the plugin lets the browser in with the participant's app session."""
    entry, doc, participant = await _entry(db, _text(data, "code"), now, for_update=not verify_only)
    await _verified(db, doc, "etherpad", body, _check_ours, signature)
    if verify_only:
        return EventAnswer()
    valid_until = await _use_entry(db, entry, doc, participant, now)
    return EventAnswer(app_session_id=participant.app_session_id, app_target=entry.app_target,
                       user_name=participant.user_name, valid_until=valid_until // 1000)


# -- CodiMD (the cs3 fork's save webhook; our stand-in in tests) -------------------------------------------


async def _codimd(db: AsyncSession, ctx: ServiceContext, data: dict[str, Any], body: bytes, signature: str,
                  now: int, *, verify_only: bool = False) -> EventAnswer:
    """{id, close}: CodiMD has no revisions; every webhook is a change (a save due now)."""
    note = _text(data, "id")
    close = data.get("close", False)
    if not isinstance(close, bool):
        raise BridgeSignatureInvalid()
    found = await bridge_store.live_document_by_app_id(db, app_doc_id=note, kind="codimd", for_update=not verify_only)
    doc = await _verified(db, found, "codimd", body, _check_ours, signature)
    if verify_only:
        return EventAnswer()
    common.note_change(doc, ctx.bridge, now, rev=None, immediate=True)
    if close:
        await _presence(db, ctx, doc, now, present=False, match=lambda p: True)
    db.add(doc)
    return EventAnswer()


# -- Hocuspocus (apps/hocuspocus/server.mjs: upstream's webhook extension, signed its own way) ---------------


def _context_session(payload: dict[str, Any]) -> str:
    context = payload.get("context")
    if not isinstance(context, dict):
        raise BridgeSignatureInvalid()
    return _text(context, "session")


def _check_sent_at(data: dict[str, Any], now: int) -> None:
    """Hocuspocus's own signature has no time: our server.mjs puts `sentAt` (ms) in the signed body,
    and a webhook outside the replay window is refused like a bad signature (a replayed `create`
    would answer the document's current text)."""
    sent = data.get("sentAt")
    if type(sent) is not int or abs(now - sent) > signatures.REPLAY_WINDOW_S * 1000:
        raise BridgeSignatureInvalid()


async def _hocuspocus(db: AsyncSession, ctx: ServiceContext, data: dict[str, Any], body: bytes, signature: str,
                      now: int, *, verify_only: bool = False) -> EventAnswer:
    """{event: connect|create|change|disconnect, payload: {documentName, token?, context?, ...}, sentAt}"""
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise BridgeSignatureInvalid()
    _check_sent_at(data, now)
    name = _text(payload, "documentName")
    event = data.get("event")
    if event == "connect":
        entry, doc, participant = await _entry(db, _text(payload, "token"), now, for_update=not verify_only)
        await _verified(db, doc, "hocuspocus", body, _check_hocuspocus, signature)
        if doc.app_doc_id != name:
            raise BridgeSignatureInvalid()  # a code for another document: not spent
        if verify_only:
            return EventAnswer()
        await _use_entry(db, entry, doc, participant, now)
        context = {"session": participant.session_id, "user": participant.user_id, "name": participant.user_name,
                   "readOnly": not participant.can_write}
        return EventAnswer(context_json=json.dumps(context), user_name=participant.user_name)
    found = await bridge_store.live_document_by_app_id(db, app_doc_id=name, kind="hocuspocus",
                                                       for_update=not verify_only)
    doc = await _verified(db, found, "hocuspocus", body, _check_hocuspocus, signature)
    if verify_only:
        return EventAnswer()
    if event == "create":
        pair = await stores.file_with_storage(db, file_id=doc.file_id, tenant_id=doc.tenant_id)
        assert pair is not None
        file, storage = pair
        token = await common.bridge_token(db, ctx.bridge, doc, file, storage_name=storage.name, now=now)
        return EventAnswer(load_document=await common.view(db, ctx, doc, token=token, now=now))
    if event == "change":
        _note_hocuspocus_change(db, ctx, doc, now)
    elif event == "disconnect":
        session_id = _context_session(payload)
        await _presence(db, ctx, doc, now, present=False, match=lambda p: p.session_id == session_id)
        db.add(doc)
    return EventAnswer()


def _note_hocuspocus_change(db: AsyncSession, ctx: ServiceContext, doc: BridgeDocument, now: int) -> None:
    common.note_change(doc, ctx.bridge, now, rev=None)
    db.add(doc)


# -- Hocuspocus `change` webhooks over MAX_BODY: read, never parsed ---------------------------------

# apps/hocuspocus/server.mjs sends JSON.stringify({event, payload, sentAt}), and the webhook
# extension's `change` payload is {document, documentName, context, ...}: the document first.
_CHANGE_START = b'{"event":"change","payload":{'
_DOCUMENT_NAME_KEY = b'"documentName":'
_DOCUMENT_NAME = re.compile(rb'"documentName":"([^"\\\x00-\x1f]{1,%d})"' % MAX_NAME)
_SENT_AT_END = re.compile(rb',"sentAt":(-?[0-9]{1,16})\}\Z')


def large_change(body: bytes) -> tuple[str, int]:
    """The document named and the `sentAt` of a Hocuspocus `change` too large to parse, read from
    the bytes as server.mjs lays them out; anything else is refused. The name must occur once as
    a key (inside a JSON string a quote is escaped, so only a key can match), so the document's
    own content cannot name another one."""
    first = body.find(_DOCUMENT_NAME_KEY)
    named = _DOCUMENT_NAME.match(body, first) if first >= 0 else None
    sent = _SENT_AT_END.search(body, max(0, len(body) - 64))
    if (not body.startswith(_CHANGE_START) or named is None or sent is None
            or body.find(_DOCUMENT_NAME_KEY, first + 1) >= 0):
        raise BridgeSignatureInvalid()
    return named.group(1).decode(), int(sent.group(1))


async def _large_hocuspocus_change(ctx: ServiceContext, body: bytes, signature: str) -> EventAnswer:
    """The signature is checked before the transaction and off the event loop (an HMAC of 16 MiB
    takes tens of milliseconds, and hashlib lets go of the GIL): no write lock is held meanwhile."""
    name, sent_at = large_change(body)
    now = ctx.clock()
    _check_sent_at({"sentAt": sent_at}, now)
    async with ctx.read() as db:
        found = await bridge_store.live_document_by_app_id(db, app_doc_id=name, kind="hocuspocus")
        if found is None:
            raise BridgeSignatureInvalid()
        secret, document_id = await _editor_secret(db, found), found.id
    await asyncio.to_thread(_check_hocuspocus, secret, body, signature)
    async with ctx.transaction() as db:
        doc = await bridge_store.live_document_by_app_id(db, app_doc_id=name, kind="hocuspocus", for_update=True)
        if doc is None or doc.id != document_id:
            raise BridgeSignatureInvalid()
        _note_hocuspocus_change(db, ctx, doc, now)
    return EventAnswer()


HANDLERS = {ETHERPAD_EVENT: _etherpad_event, ETHERPAD_REDEEM: _redeem, CODIMD_WEBHOOK: _codimd,
            HOCUSPOCUS_WEBHOOK: _hocuspocus}

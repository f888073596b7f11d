"""The host page's bridged branch (BRIDGE-NOTES.md §5.5): a session whose editor is a bridged app
opens the file's shared document and sends the browser into the app.

OpenBridged finds or creates the document and takes its lock for a writer; whoever holds the load
lease puts the file into the app now (others wait for it, bounded); then the app makes the user's
entry (author, app session, pad or read-only view), the control plane records it and mints a
single-use entry code, and the browser is redirected to the app's entry route with that code.
The access token stays on the server side; the browser only ever sees the code.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

from edge.bridge import text_profile, work
from edge.bridge.apps import app_kind
from edge.bridge.apps.base import AppError
from edge.bridge.services import BridgeServices
from edge.bridge.wopi_client import WopiRefused, WopiUnavailable
from shared.errors import WopiProxyError

log = logging.getLogger(__name__)

LOAD_WAIT_S = 20.0  # how long an opener waits for another opener's load
LOAD_POLL_S = 0.25
LOAD_POLL_MAX_S = 2.0


class BridgeOpenFailed(Exception):
    """The document cannot be opened now; `status` and `message` are for the person."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Opened:
    entry_url: str
    read_only_reason: str


async def _load_now(services: BridgeServices, opened: edge_pb.OpenBridgedResponse) -> edge_pb.BridgedDocumentRef:
    document = opened.document
    try:
        done = await work.load(services, document, opened.lease_token)
    except text_profile.NotText as error:
        await _report(services, work.failure(document, opened.lease_token, error))
        raise BridgeOpenFailed(415, "This file is not plain text (UTF-8), so it cannot be opened in this "
                                    "editor. Open it with another one.") from None
    except (AppError, WopiUnavailable, WopiRefused) as error:
        await _report(services, work.failure(document, opened.lease_token, error))
        if isinstance(error, WopiRefused) and error.status == 412:
            raise BridgeOpenFailed(413, "This file is too large to be opened in this editor.") from None
        log.warning("bridge load of document %s failed: %s", document.document_id, error)
        raise BridgeOpenFailed(503, "The editor is not available right now; try again in a moment.") from None
    reply = await services.control.complete_bridge_work(done)
    return reply.document


async def _report(services: BridgeServices, done: edge_pb.CompleteBridgeWorkRequest) -> None:
    try:
        await services.control.complete_bridge_work(done)
    except WopiProxyError as error:  # the lease expires and the load is redone
        log.warning("bridge load outcome not recorded: %s", error.message)


async def open_bridged(services: BridgeServices, access_token: str, client_address: str) -> Opened:
    """Where the browser goes; BridgeOpenFailed for a page that says why not; the control plane's
    own refusals (AccessTokenInvalid, ...) as they come."""
    deadline = time.monotonic() + LOAD_WAIT_S
    pause = LOAD_POLL_S
    while True:
        opened = await services.control.open_bridged(access_token, client_address)
        if opened.load:
            document = await _load_now(services, opened)
            break
        if opened.document.state != "loading":
            document = opened.document
            break
        if time.monotonic() > deadline:
            raise BridgeOpenFailed(503, "The document is still being prepared; try again in a moment.")
        await asyncio.sleep(pause)
        pause = min(LOAD_POLL_MAX_S, pause * 2)  # each poll is a transaction of the control plane
    if document.state == "failed":
        raise BridgeOpenFailed(503, "This document cannot be opened in this editor right now.")
    kind = app_kind(document.app.kind)
    if kind is None:
        raise BridgeOpenFailed(501, "This edge does not support this editor.")
    try:
        app = services.apps.get(document.app)
        entry = await app.enter(document, opened.participant, opened.can_write, opened.valid_until // 1000)
    except AppError as error:
        log.warning("bridge entry into document %s failed: %s", document.document_id, error.detail)
        raise BridgeOpenFailed(503, "The editor is not available right now; try again in a moment.") from None
    registered = await services.control.register_bridge_entry(
        access_token, document_id=document.document_id, app_author_id=entry.author_id,
        app_session_id=entry.app_session_id, app_target=entry.target)
    return Opened(entry_url=kind.entry_url(document.app, registered.entry_code, entry),
                  read_only_reason=opened.read_only_reason)

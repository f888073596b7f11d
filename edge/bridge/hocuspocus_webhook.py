"""The edge's answers to Hocuspocus's webhook (apps/hocuspocus/README.md has the shapes), once the
control plane accepted the signed request (NoteBridgeEvent).

- connect (sent by our server.mjs from onAuthenticate, with the client's token = our entry code):
  the control plane redeemed the code and gives the connection's context (author, document,
  readOnly); 200 with that JSON object admits the client. Refusals never reach this module: the
  route answers them 401, and server.mjs refuses the client (Forbidden) on any non-2xx.
- create (Hocuspocus loads a document it holds nowhere): the control plane gives the document with a
  bridge token; the edge reads the file through its own WOPI GetFile and answers {"content": text}.
  When the document was loading (a lease in the reply), the load is completed (LOADED) first, with
  the file's hash, version and text profile: the baseline of every later save. Without a document
  (the control plane knows none open by that name) the answer is an empty content, which fills no
  document (server.mjs merges create answers into empty documents only).
- change, disconnect: nothing to answer (202); the control plane has recorded them.

An answer that cannot be given (the file unreadable, not text) is a 503/422 to Hocuspocus, which
then refuses the load: a client never types into an empty document that a save would write back.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any

from quart import Response

from edge.bridge import text_profile
from edge.bridge.apps.hocuspocus import rev_of
from edge.bridge.wopi_client import WopiRefused, WopiUnavailable
from shared.bridge_limits import MAX_EVENT_BYTES
from shared.errors import WopiProxyError
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

if TYPE_CHECKING:
    from edge.bridge.apps import WebhookCall

log = logging.getLogger(__name__)

KIND = "hocuspocus"


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json",
                    headers={"Cache-Control": "no-store"})


def event_name(body: bytes) -> str:
    """`event` of a webhook body ({"event": ..., "payload": ...}); "" when there is none."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return ""
    event = parsed.get("event") if isinstance(parsed, dict) else None
    return event if isinstance(event, str) else ""


async def answer(call: WebhookCall) -> Response | None:
    """The answer to one accepted webhook (None: 202 with no body). A body past MAX_EVENT_BYTES
    is a `change` (the only event the control plane accepts that large, without parsing it), and
    is not parsed here either: parsed, 16 MiB of `[{},{},...]` held the event loop for 0.7 s."""
    if len(call.body) > MAX_EVENT_BYTES:
        return None
    event = event_name(call.body)
    if event == "connect":
        return _connect(call.reply)
    if event == "create":
        return await _create(call)
    return None


def _connect(reply: edge_pb.NoteBridgeEventResponse) -> Response:
    try:
        context = json.loads(reply.context_json) if reply.context_json else None
    except ValueError:
        context = None
    if not isinstance(context, dict):
        # The control plane accepted the request but gave no context: admit nobody (fail closed).
        log.error("hocuspocus connect accepted without a context: refused")
        return _json(403, {"error": "forbidden"})
    return _json(200, context)


async def _create(call: WebhookCall) -> Response:
    reply = call.reply
    if not reply.HasField("load_document"):
        return _json(200, {"content": ""})
    document = reply.load_document
    lease = str(getattr(reply, "lease_token", "") or "")
    try:
        got = await call.services.wopi.get_file(document.file_id, document.bridge_token, kind=KIND)
        text, profile = text_profile.decode(got.data)
    except WopiUnavailable as error:
        log.warning("hocuspocus create of document %s: file not readable now: %s", document.document_id, error)
        return _json(503, {"error": "unavailable"})
    except WopiRefused as error:
        log.warning("hocuspocus create of document %s: GetFile refused: %s", document.document_id, error)
        await _complete_failed(call, document, lease, f"GetFile refused: HTTP {error.status}")
        return _json(422, {"error": "file not readable"})
    except text_profile.NotText:
        await _complete_failed(call, document, lease, "the file is not UTF-8 text")
        return _json(422, {"error": "file is not text"})
    if lease:
        request = edge_pb.CompleteBridgeWorkRequest(
            document_id=document.document_id, lease_token=lease, outcome=edge_pb.BRIDGE_WORK_OUTCOME_LOADED,
            # The hash of what a save of the unchanged text would write (the file in its own shape).
            app_rev=rev_of(document), sha256=hashlib.sha256(text_profile.encode(text, profile)).hexdigest(),
            size=len(got.data),
            file_version=got.version, text_profile=profile.to_json())
        try:
            await call.services.control.complete_bridge_work(request)
        except WopiProxyError as error:
            # Lease lost (another loader holds it) or the control plane is away: the text is still
            # the file's, so answer it; the loader that holds the lease records the load.
            log.warning("hocuspocus create of document %s: LOADED not recorded: %s", document.document_id,
                        type(error).__name__)
    return _json(200, {"content": text})


async def _complete_failed(call: WebhookCall, document: edge_pb.BridgedDocumentRef, lease: str, detail: str) -> None:
    if not lease:
        return
    request = edge_pb.CompleteBridgeWorkRequest(document_id=document.document_id, lease_token=lease,
                                                outcome=edge_pb.BRIDGE_WORK_OUTCOME_FAILED, detail=detail)
    try:
        await call.services.control.complete_bridge_work(request)
    except WopiProxyError as error:
        log.warning("hocuspocus create of document %s: FAILED not recorded: %s", document.document_id,
                    type(error).__name__)

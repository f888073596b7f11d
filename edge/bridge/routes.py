"""What bridged apps send the edge: signed events, entry redemptions and webhooks (docs/BRIDGE.md).

The edge checks nothing itself: it hands the raw body and the signature header to the control
plane (NoteBridgeEvent), which knows the apps' secrets, verifies, applies and answers. A bad
signature, a replay and an unknown document all come back as BridgeSignatureInvalid: 401
{"error": "unauthorized"} (edge/wopi/errors.py). Bodies are read with a cap, before anything: over
it, 413 PAYLOAD_TOO_LARGE, from the Content-Length before a byte is read.
"""

from __future__ import annotations

import asyncio
import json

from quart import Blueprint, Response, jsonify, request
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

from edge.bridge.apps import WebhookCall, app_kind
from edge.bridge.services import bridge_services
from edge.streaming import read_bounded
from edge.wopi.caller import client_address
from shared.bridge_limits import MAX_EVENT_BYTES
from shared.grpc_channel import MAX_MESSAGE_BYTES
from shared import signatures
from shared.errors import UploadCapacityReached, UploadStalled
from shared.signatures import HEADER, HOCUSPOCUS_HEADER

blueprint = Blueprint("bridge", __name__)

BODY_IDLE_TIMEOUT_S = 30.0
BODY_DEADLINE_S = 120.0  # a whole body, however it arrives (16 MiB at 1 Mbit/s and then some)
# Bodies over MAX_EVENT_BYTES read at once by this edge (each up to hocuspocus_body_limit, 16 MiB).
MAX_LARGE_BODIES = 8
# The most one request to the control plane can carry (its gRPC server and its Hocuspocus parser
# take MAX_MESSAGE_BYTES).
CONTROL_MAX_MESSAGE = MAX_MESSAGE_BYTES
# Room in that message for NoteBridgeEventRequest's other fields (signature header <= 512 bytes,
# the client's address, field framing).
NOTE_REQUEST_ROOM = 4 << 10


def hocuspocus_body_limit(max_file_size: int) -> int:
    """The largest Hocuspocus webhook body worth reading. A `change` carries the whole document, so:
    a file this edge could save plus the JSON around it, but never more than the control plane can
    be sent. Anything bigger would be buffered, unsigned, only to be refused (as 503) after it."""
    return min(max_file_size + MAX_EVENT_BYTES, CONTROL_MAX_MESSAGE - NOTE_REQUEST_ROOM)


async def _body(limit: int) -> bytes:
    """The whole body, or PayloadTooLarge (413) from its Content-Length or as soon as it passes
    `limit`, or UploadStalled once BODY_DEADLINE_S have passed in all (each chunk may otherwise
    take BODY_IDLE_TIMEOUT_S, and a sender dripping bytes would hold the request for hours)."""
    try:
        async with asyncio.timeout(BODY_DEADLINE_S):
            return await read_bounded(request.body, content_length=request.content_length, limit=limit,
                                      idle_timeout_s=BODY_IDLE_TIMEOUT_S)
    except TimeoutError:
        raise UploadStalled(BODY_DEADLINE_S) from None


async def _note(source: int, limit: int, header: str) -> tuple[bytes, edge_pb.NoteBridgeEventResponse]:
    """The signature's form is checked before the body is read (401 at once for a request no app
    could have signed); bodies that may pass MAX_EVENT_BYTES (a Hocuspocus change) are read at
    most MAX_LARGE_BODIES at once (503 past it), which bounds the memory they hold together."""
    signature = request.headers.get(header, "")[:512]
    signatures.check_form(header, signature)
    services = bridge_services()
    declared = request.content_length
    if limit > MAX_EVENT_BYTES and (declared is None or declared > MAX_EVENT_BYTES):
        if services.large_bodies >= MAX_LARGE_BODIES:
            raise UploadCapacityReached(MAX_LARGE_BODIES, retry_after_s=5)
        services.large_bodies += 1
        try:
            body = await _body(limit)
        finally:
            services.large_bodies -= 1
    else:
        body = await _body(min(limit, MAX_EVENT_BYTES))
    reply = await services.control.note_bridge_event(source, body, signature, client_address())
    return body, reply


def _accepted() -> Response:
    return Response("", status=202)


def _is_event(body: bytes, *names: str) -> bool:
    try:
        event = json.loads(body).get("event")
    except (ValueError, AttributeError):
        return False
    return event in names


@blueprint.post("/bridge/etherpad/events")
async def etherpad_events() -> Response:
    """Our plugin's change/join/leave/remove: 202 once recorded; a change or a leave (the final
    save) wakes this edge's worker so that due work is claimed at once."""
    body, _ = await _note(edge_pb.BRIDGE_EVENT_SOURCE_ETHERPAD_EVENT, MAX_EVENT_BYTES, HEADER)
    if _is_event(body, "change", "leave", "remove"):
        bridge_services().wake()
    return _accepted()


@blueprint.post("/bridge/etherpad/redeem")
async def etherpad_redeem() -> Response:
    """Our plugin's /wopi-proxy/enter redeems a single-use entry code for the session to set."""
    _, reply = await _note(edge_pb.BRIDGE_EVENT_SOURCE_ETHERPAD_REDEEM, MAX_EVENT_BYTES, HEADER)
    response = jsonify({"sessionID": reply.app_session_id, "pad": reply.app_target, "userName": reply.user_name,
                        "validUntil": reply.valid_until})
    response.headers["Cache-Control"] = "no-store"
    return response


async def _webhook(kind: str, source: int, limit: int, header: str) -> Response:
    body, reply = await _note(source, limit, header)
    services = bridge_services()
    services.wake()
    hook = (entry.webhook if (entry := app_kind(kind)) else None)
    if hook is not None:
        answer = await hook(WebhookCall(body=body, reply=reply, services=services))
        if answer is not None:
            return answer
    return _accepted()


@blueprint.post("/bridge/codimd/webhook")
async def codimd_webhook() -> Response:
    return await _webhook("codimd", edge_pb.BRIDGE_EVENT_SOURCE_CODIMD_WEBHOOK, MAX_EVENT_BYTES, HEADER)


@blueprint.post("/bridge/hocuspocus/webhook")
async def hocuspocus_webhook() -> Response:
    """Hocuspocus's change webhook carries the whole document: its cap is hocuspocus_body_limit,
    checked before the signature (the control plane checks that), so an unsigned flood costs no
    more than what a real document could."""
    limit = hocuspocus_body_limit(bridge_services().max_file_size)
    return await _webhook("hocuspocus", edge_pb.BRIDGE_EVENT_SOURCE_HOCUSPOCUS_WEBHOOK, limit, HOCUSPOCUS_HEADER)

"""Hocuspocus's `change` webhook carries the whole document, so it may pass the 64 KiB every other
bridge event is held to (control/services/bridge_events.py, large_change). Such a body is read,
never parsed: its document name and sentAt are taken from where apps/hocuspocus/server.mjs puts
them, its signature is checked with that document's secret, and only a `change` is accepted.

Attack: anyone who reaches an edge posts 8 MiB of `[{},{},...]` as a Hocuspocus webhook; the
control plane parsed it (on the event loop every tenant's grants run on) before checking its
signature, ~430 MiB and over a second for 16 MiB. A tenant signs its own app's webhooks, so the
signed case must be as cheap. Against a real control plane (the tests play the edge)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import pytest

from tests.bridge.control_rig import FAST, SECRET, Rig, refusal, start_rig
from tests.support.memory import peak_growth_mib
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

HOCUSPOCUS = edge_pb.BRIDGE_EVENT_SOURCE_HOCUSPOCUS_WEBHOOK
REFUSED_CODE = "BRIDGE_SIGNATURE_INVALID"
BODY_MIB = 8
# Unparsed, the body is held about three times (gRPC's receive buffer, the serialized message,
# the protobuf field), plus allocator slack: 24-33 MiB measured. Parsed, it was ~235 MiB.
ALLOWED_GROWTH_MIB = 8 * BODY_MIB


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    yield from start_rig(tmp_path_factory.mktemp("hocuspocus-large"), "sqlite", lambda: "", *FAST)


def _document(rig: Rig, path: str) -> edge_pb.BridgedDocumentRef:
    tenant = rig.new_tenant(kind="hocuspocus", editor="yjs")
    created = rig.session(tenant, path)
    opened = rig.open(created.access_token)
    if opened.load:
        rig.complete(opened, edge_pb.BRIDGE_WORK_OUTCOME_LOADED, app_rev=1, sha256="ab" * 32)
    return opened.document


def _as_server_mjs_sends(event: str, name: str, document: object, *, sent_at: int | None = None,
                         extra_name: bool = False) -> bytes:
    """JSON.stringify({event, payload, sentAt}) with the webhook extension's payload order."""
    payload: dict[str, object] = {"document": document, "documentName": name, "context": {"session": "s"}}
    if extra_name:
        payload["requestParameters"] = {"documentName": name}
    body = {"event": event, "payload": payload, "sentAt": int(time.time() * 1000) if sent_at is None else sent_at}
    return json.dumps(body, separators=(",", ":")).encode()


def _bulky() -> dict[str, object]:
    """BODY_MIB of the most expensive JSON to parse: empty objects."""
    return {"content": [{}] * (BODY_MIB * 1024 * 1024 // 3)}


def _signed(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _send(rig: Rig, body: bytes, signature: str) -> edge_pb.NoteBridgeEventResponse:
    return rig.event(HOCUSPOCUS, body, signature=signature)


def test_a_signed_large_change_is_noted_without_being_parsed(rig: Rig) -> None:
    doc = _document(rig, "large.md")
    body = _as_server_mjs_sends("change", doc.app_doc_id, _bulky())
    grown = peak_growth_mib(rig.control.process.pid, lambda: _send(rig, body, _signed(body)))
    assert rig.document(doc.document_id).seen_rev == 2
    assert grown < ALLOWED_GROWTH_MIB, f"{grown:.0f} MiB for a {BODY_MIB} MiB webhook\n{rig.log()}"


def test_a_large_change_with_a_forged_signature_is_refused_without_being_parsed(rig: Rig) -> None:
    doc = _document(rig, "forged.md")
    body = _as_server_mjs_sends("change", doc.app_doc_id, _bulky())
    outcome: list[tuple[object, str]] = []
    grown = peak_growth_mib(rig.control.process.pid,
                            lambda: outcome.append(refusal(lambda: _send(rig, body, "sha256=" + "0" * 64))))
    assert outcome[0][1] == REFUSED_CODE
    assert rig.document(doc.document_id).seen_rev == 1
    assert grown < ALLOWED_GROWTH_MIB, f"{grown:.0f} MiB for a {BODY_MIB} MiB webhook\n{rig.log()}"


def test_a_large_webhook_that_is_not_a_change_is_refused(rig: Rig) -> None:
    """Only `change` carries a document: a large `create` (which would answer the document) is refused."""
    doc = _document(rig, "create.md")
    body = _as_server_mjs_sends("create", doc.app_doc_id, _bulky())
    assert refusal(lambda: _send(rig, body, _signed(body)))[1] == REFUSED_CODE


def test_a_large_change_naming_a_document_twice_is_refused(rig: Rig) -> None:
    doc = _document(rig, "twice.md")
    body = _as_server_mjs_sends("change", doc.app_doc_id, _bulky(), extra_name=True)
    assert refusal(lambda: _send(rig, body, _signed(body)))[1] == REFUSED_CODE
    assert rig.document(doc.document_id).seen_rev == 1


def test_a_large_change_signed_with_another_tenants_secret_is_refused(rig: Rig) -> None:
    """Attack: tenant B signs, with its own app's secret, a change naming tenant A's document."""
    doc = _document(rig, "theirs.md")
    body = _as_server_mjs_sends("change", doc.app_doc_id, _bulky())
    assert refusal(lambda: _send(rig, body, _signed(body, secret="tenant-b-" + SECRET)))[1] == REFUSED_CODE
    assert rig.document(doc.document_id).seen_rev == 1


def test_a_large_change_outside_the_replay_window_is_refused(rig: Rig) -> None:
    doc = _document(rig, "replayed.md")
    body = _as_server_mjs_sends("change", doc.app_doc_id, _bulky(), sent_at=int(time.time() * 1000) - 3_600_000)
    assert refusal(lambda: _send(rig, body, _signed(body)))[1] == REFUSED_CODE
    assert rig.document(doc.document_id).seen_rev == 1

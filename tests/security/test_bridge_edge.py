"""The edge's bridge routes (/bridge/*) against senders that are not our bridged apps: nothing is
accepted without the app's signature, every refusal looks the same, and bodies are capped before
the control plane is asked anything. Both deployment shapes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest

from shared import signatures
from tests.support.deployment import Deployment

SIGNED_ROUTES = ["/bridge/etherpad/events", "/bridge/etherpad/redeem", "/bridge/codimd/webhook"]
ALL_ROUTES = [*SIGNED_ROUTES, "/bridge/hocuspocus/webhook"]
EVENT = json.dumps({"event": "change", "pad": "g.x$y", "rev": 3, "author": "a.x", "ts": 1}).encode()


@pytest.fixture
def edge(deploy: Callable[..., Deployment], shape: str) -> Deployment:
    return deploy(shape)


def _post(deployment: Deployment, path: str, body: bytes, **headers: str) -> httpx.Response:
    with httpx.Client(timeout=30, trust_env=False) as client:
        return client.post(f"{deployment.http_url}{path}", content=body,
                           headers={"Content-Type": "application/json", **headers})


@pytest.mark.parametrize("path", ALL_ROUTES)
def test_an_unsigned_bridge_request_is_refused(edge: Deployment, path: str) -> None:
    """An attacker posts a forged change/redeem/webhook without any signature."""
    reply = _post(edge, path, EVENT)
    assert (reply.status_code, reply.json()) == (401, {"error": "unauthorized"}), edge.log()


@pytest.mark.parametrize("path", SIGNED_ROUTES)
def test_a_request_signed_with_a_guessed_secret_is_refused(edge: Deployment, path: str) -> None:
    """An attacker signs correctly, but with a secret of their own."""
    reply = _post(edge, path, EVENT, **{signatures.HEADER: signatures.sign(b"guessed", EVENT)})
    assert (reply.status_code, reply.json()) == (401, {"error": "unauthorized"}), edge.log()


def test_a_stale_signature_is_refused_like_a_bad_one(edge: Deployment) -> None:
    """A captured request replayed after the window (the timestamp is inside the MAC)."""
    old = signatures.sign(b"whatever", EVENT, now=int(time.time()) - 3600)
    reply = _post(edge, "/bridge/etherpad/events", EVENT, **{signatures.HEADER: old})
    assert (reply.status_code, reply.json()) == (401, {"error": "unauthorized"}), edge.log()


def test_a_hocuspocus_signature_of_another_secret_is_refused(edge: Deployment) -> None:
    """Hocuspocus's own header (sha256=<hex>), computed with a secret that is not the app's."""
    forged = "sha256=" + "0" * 64
    reply = _post(edge, "/bridge/hocuspocus/webhook", EVENT, **{signatures.HOCUSPOCUS_HEADER: forged})
    assert (reply.status_code, reply.json()) == (401, {"error": "unauthorized"}), edge.log()


def _well_formed() -> dict[str, str]:
    """A signature header of the right form, made now (with a secret no app has): past the check
    of its form, which comes before the body is read, so that the size is what refuses."""
    return {signatures.HEADER: signatures.sign(b"guessed", b"")}


@pytest.mark.parametrize("path", SIGNED_ROUTES)
def test_an_oversized_bridge_body_is_refused_before_anything(edge: Deployment, path: str) -> None:
    """A flood of bytes at an app route: refused by size (413), never buffered past the cap."""
    reply = _post(edge, path, b"x" * ((64 << 10) + 1), **_well_formed())
    assert reply.status_code == 413, edge.log()


def test_an_oversized_streamed_body_is_refused_too(edge: Deployment) -> None:
    """The same without a Content-Length: the cap holds while reading the chunks."""
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"y" * (8 << 10)
    with httpx.Client(timeout=30, trust_env=False) as client:
        reply = client.post(f"{edge.http_url}/bridge/etherpad/events", content=chunks(), headers=_well_formed())
    assert reply.status_code == 413, edge.log()


@pytest.mark.parametrize("path", SIGNED_ROUTES)
def test_an_oversized_body_without_a_signature_is_refused_by_its_headers(edge: Deployment, path: str) -> None:
    """Without a signature header of the right form the body is not read at all: 401."""
    reply = _post(edge, path, b"x" * ((64 << 10) + 1))
    assert (reply.status_code, reply.json()) == (401, {"error": "unauthorized"}), edge.log()


def test_a_hocuspocus_webhook_may_carry_a_whole_document(edge: Deployment) -> None:
    """Its cap is the file size limit plus framing: a 200 KiB document is judged by its signature."""
    body = json.dumps({"event": "change", "payload": {"document": "x" * (200 << 10)}}).encode()
    reply = _post(edge, "/bridge/hocuspocus/webhook", body)
    assert reply.status_code == 401, edge.log()

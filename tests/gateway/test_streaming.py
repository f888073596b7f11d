"""Server-streaming methods as NDJSON, and the statuses of a control plane that lacks a method or
is down. WatchSessionEvents is not in the control plane yet, so its stream comes from a stand-in
SessionService on a real gRPC server (grpcio's, on port 0)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from wopiproxy.control.v1 import session_service_pb2 as session_pb
from wopiproxy.control.v1 import session_service_pb2_grpc as session_grpc

from gateway import create_gateway_app
from tests.gateway.servers import ThreadServer, serve_in_thread
from tests.support.ports import unused_port


@dataclass
class StandInSessions(session_grpc.SessionServiceServicer):
    """Streams two events, then holds the stream open until the caller goes away."""

    requests: list[session_pb.WatchSessionEventsRequest] = field(default_factory=list)
    metadata: list[dict[str, str]] = field(default_factory=list)
    ended: threading.Event = field(default_factory=threading.Event)

    def WatchSessionEvents(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self.requests.append(request)
        self.metadata.append({k: v for k, v in context.invocation_metadata() if isinstance(v, str)})
        if request.cursor == "bad":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "unknown cursor")
        context.add_callback(self.ended.set)
        stamp = Timestamp(seconds=1_700_000_000)
        for number, kind in enumerate([session_pb.SESSION_EVENT_TYPE_OPENED, session_pb.SESSION_EVENT_TYPE_SAVED]):
            yield session_pb.SessionEvent(cursor=str(number + 1), type=kind, time=stamp, tenant_id=request.tenant_id,
                                          session_id="s1", version=2**40 + number)
        if request.cursor == "end":
            return
        while context.is_active():
            time.sleep(0.02)


@pytest.fixture(scope="module")
def stand_in() -> Iterator[tuple[StandInSessions, str]]:
    servicer = StandInSessions()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    session_grpc.add_SessionServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, f"127.0.0.1:{port}"
    server.stop(grace=None)


@pytest.fixture(scope="module")
def stand_in_gateway(stand_in: tuple[StandInSessions, str]) -> Iterator[ThreadServer]:
    server = serve_in_thread(create_gateway_app(stand_in[1]))
    yield server
    server.stop()


@pytest.fixture
def client(stand_in_gateway: ThreadServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stand_in_gateway.url, timeout=10,
                      headers={"Authorization": "Bearer stand-in-key"}) as http:
        yield http


def test_stream_is_ndjson_one_event_per_line(client: httpx.Client, stand_in: tuple[StandInSessions, str]) -> None:
    reply = client.get("/sessions/events", params={"tenantId": "t-1", "cursor": "end"})
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/x-ndjson"
    events = [json.loads(line) for line in reply.text.splitlines()]
    assert [e["type"] for e in events] == ["SESSION_EVENT_TYPE_OPENED", "SESSION_EVENT_TYPE_SAVED"]
    assert events[0] == {"cursor": "1", "type": "SESSION_EVENT_TYPE_OPENED", "time": "2023-11-14T22:13:20Z",
                         "tenant_id": "t-1", "session_id": "s1", "version": str(2**40)}
    assert stand_in[0].requests[-1].tenant_id == "t-1"


def test_authorization_is_passed_on_as_metadata(client: httpx.Client, stand_in: tuple[StandInSessions, str]) -> None:
    client.get("/sessions/events", params={"cursor": "end"})
    assert stand_in[0].metadata[-1]["authorization"] == "Bearer stand-in-key"


def test_stream_that_fails_at_once_gets_an_error_status(client: httpx.Client) -> None:
    reply = client.get("/sessions/events", params={"cursor": "bad"})
    assert reply.status_code == 400
    assert reply.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_client_disconnect_cancels_the_stream(client: httpx.Client, stand_in: tuple[StandInSessions, str]) -> None:
    stand_in[0].ended.clear()
    with client.stream("GET", "/sessions/events", params={"cursor": "0"}) as reply:
        lines = reply.iter_lines()
        assert json.loads(next(lines))["cursor"] == "1"
        assert json.loads(next(lines))["cursor"] == "2"
    assert stand_in[0].ended.wait(5), "the gRPC stream outlived the HTTP client"


def test_unimplemented_method_is_501(client: httpx.Client) -> None:
    reply = client.get("/sessions/list")
    assert reply.status_code == 501
    assert reply.json()["error"]["status"] == "UNIMPLEMENTED"


def _dead_address() -> str:
    return f"127.0.0.1:{unused_port()}"  # nobody listens on it


def test_unreachable_control_plane_is_503() -> None:
    address = _dead_address()
    server = serve_in_thread(create_gateway_app(address))
    try:
        reply = httpx.get(f"{server.url}/tenants/list", timeout=10)
    finally:
        server.stop()
    assert reply.status_code == 503
    assert reply.json()["error"]["status"] == "UNAVAILABLE"


def test_an_unreachable_control_plane_is_503_without_its_address_even_to_an_anonymous_caller(
        caplog: pytest.LogCaptureFixture) -> None:
    """Attack: a caller without credentials probes the gateway while the control plane restarts.
    gRPC's own text names the control plane's internal address; the caller gets a fixed text and
    Retry-After, and the operator finds gRPC's text in the log under the incident the caller got."""
    address = _dead_address()
    port = address.rsplit(":", 1)[1]
    server = serve_in_thread(create_gateway_app(address))
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.status"):
            reply = httpx.get(f"{server.url}/tenants/list", timeout=10)  # no Authorization
    finally:
        server.stop()
    assert (reply.status_code, reply.headers.get("Retry-After")) == (503, "5"), reply.text
    message = reply.json()["error"]["message"]
    assert message.startswith("the control plane is unavailable"), message
    assert port not in reply.text and "127.0.0.1" not in reply.text and "ipv4" not in reply.text, reply.text
    incident = message.split("(incident ", 1)[1].split(",", 1)[0]
    assert [r for r in caplog.records if incident in r.getMessage() and port in r.getMessage()], caplog.text

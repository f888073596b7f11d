"""OpenTelemetry tracing across edge and control: a WOPI request yields an edge span and a control
span in one trace (W3C traceparent over gRPC), exported by OTLP/HTTP to a receiver of ours; the
access token is in no span; and nothing is traced unless OTEL_* asks."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto

from shared import tracing
from tests.observability.traffic import open_one
from tests.support.deployment import Deployment
from tests.support.http_stub import HttpStub

EDGE_RPC = "/wopiproxy.internal.v1.EdgeService/AuthorizeWopiRequest"


@dataclass
class Span:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str


@pytest.fixture
def collector() -> Iterator[HttpStub]:
    """An OTLP/HTTP receiver: records what the exporters POST to /v1/traces."""
    stub = HttpStub(routes={"/v1/traces": (200, "application/x-protobuf", b"")}).start()
    yield stub
    stub.stop()


def _spans(collector: HttpStub) -> list[Span]:
    found = []
    for recorded in list(collector.requests):
        export = ExportTraceServiceRequest.FromString(recorded.body)
        for resource_spans in export.resource_spans:
            service = next((a.value.string_value for a in resource_spans.resource.attributes
                            if a.key == "service.name"), "")
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found.append(Span(service, span.name, span.kind, span.trace_id.hex(), span.span_id.hex(),
                                      span.parent_span_id.hex()))
    return found


def _otel_env(collector: HttpStub) -> dict[str, str]:
    return {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_BSP_SCHEDULE_DELAY": "100"}


def test_a_wopi_request_is_one_trace_across_edge_and_control(
        shape: str, deploy: Callable[..., Deployment], collector: HttpStub) -> None:
    """CheckFileInfo: the edge's server span, its gRPC client span and the control plane's gRPC
    server span share one trace id, each the parent of the next."""
    deployment = deploy(shape, env=_otel_env(collector))
    f = open_one(deployment)
    reply = httpx.get(f.url(), timeout=15)
    assert reply.status_code == 200, reply.text
    deadline = time.monotonic() + 30
    while True:
        spans = _spans(collector)
        edge = [s for s in spans if s.name == "WOPI CheckFileInfo" and s.kind == SpanProto.SPAN_KIND_SERVER]
        servers = [s for s in spans if s.name == EDGE_RPC and s.kind == SpanProto.SPAN_KIND_SERVER]
        if (edge and servers) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(edge) == 1, f"{[(s.name, s.kind) for s in spans]}\n{deployment.log()}"
    trace_id = edge[0].trace_id
    clients = [s for s in spans if s.name == EDGE_RPC and s.kind == SpanProto.SPAN_KIND_CLIENT
               and s.trace_id == trace_id]
    assert len(clients) == 1, spans
    control = [s for s in servers if s.trace_id == trace_id]
    assert len(control) == 1, spans
    assert control[0].parent_id == clients[0].span_id
    assert clients[0].parent_id != ""  # under the edge's request span (through ASGI's inner spans)
    if shape == "split":
        assert edge[0].service == "wopi-proxy-edge" and control[0].service == "wopi-proxy-control"
    for recorded in collector.requests:
        assert f.token.encode() not in recorded.body, "the access token is in an exported span"
    assert "tracing on" in deployment.log()


def test_nothing_is_traced_without_otel_environment() -> None:
    """Tracing is opt-in by the standard environment only."""
    assert not tracing.requested({})
    assert not tracing.requested({"OTEL_TRACES_EXPORTER": "none"})
    assert not tracing.requested({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"})
    assert tracing.requested({"OTEL_TRACES_EXPORTER": "console"})
    assert tracing.requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})


def test_console_exporter_prints_the_spans(deploy: Callable[..., Deployment]) -> None:
    """OTEL_TRACES_EXPORTER=console: the spans of a WOPI request are printed (stdout), edge and
    control in one trace."""
    deployment = deploy("serve", env={"OTEL_TRACES_EXPORTER": "console", "OTEL_BSP_SCHEDULE_DELAY": "100"})
    f = open_one(deployment)
    assert httpx.get(f.url(), timeout=15).status_code == 200
    deployment.stop()  # flushes the batch
    log = deployment.log()
    assert '"name": "WOPI CheckFileInfo"' in log and f'"name": "{EDGE_RPC}"' in log, log
    assert f.token not in log

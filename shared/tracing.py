"""OpenTelemetry tracing, off unless the standard OTEL_* environment asks for it.

Enabled when OTEL_TRACES_EXPORTER names an exporter other than "none" (console, otlp), or an
OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), and
OTEL_SDK_DISABLED is not "true". Off, nothing here imports OpenTelemetry and no code path of it
runs. The packages come with `pip install wopi-proxy[tracing]`.

Spans: the edge's ASGI server span per HTTP request (opentelemetry-instrumentation-asgi), a gRPC
client span per control-plane call and the control plane's gRPC server span
(opentelemetry-instrumentation-grpc), which W3C traceparent metadata joins into one trace.
Everything else is the SDK's standard environment: OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf by default, or grpc), OTEL_BSP_*, OTEL_TRACES_SAMPLER.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from shared.errors import StartupRefused

log = logging.getLogger(__name__)

_state: dict[str, bool] = {}


class TracingConfigError(StartupRefused):
    """OTEL_* asks for something this process cannot do (an unknown exporter, no packages)."""


def requested(env: Mapping[str, str] | None = None) -> bool:
    """Whether the environment asks for traces."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = [e.strip().lower() for e in env.get("OTEL_TRACES_EXPORTER", "").split(",") if e.strip()]
    if exporters:
        return any(e != "none" for e in exporters)
    return bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def enabled() -> bool:
    """True once init() has installed a tracer provider in this process."""
    return _state.get("enabled", False)


def _exporters(env: Mapping[str, str]) -> list[Any]:
    names = [e.strip().lower() for e in env.get("OTEL_TRACES_EXPORTER", "otlp").split(",") if e.strip()]
    exporters: list[Any] = []
    for name in names:
        if name == "none":
            continue
        if name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            exporters.append(ConsoleSpanExporter())
        elif name == "otlp":
            protocol = (env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                        or "http/protobuf")
            if protocol == "grpc":
                from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                    OTLPSpanExporter as GrpcExporter,
                )

                exporters.append(GrpcExporter())
            else:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                    OTLPSpanExporter as HttpExporter,
                )

                exporters.append(HttpExporter())
        else:
            raise TracingConfigError(f"OTEL_TRACES_EXPORTER: unsupported exporter {name!r} (console, otlp or none)")
    return exporters


def init(service_name: str) -> bool:
    """Installs the process's tracer provider if the environment asks for tracing (once per
    process: `serve` runs edge and control in one). Returns whether tracing is on."""
    if "enabled" in _state:
        return _state["enabled"]
    if not requested():
        _state["enabled"] = False
        return False
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import OTELResourceDetector, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise TracingConfigError("OTEL_* asks for tracing but OpenTelemetry is not installed: "
                         "pip install 'wopi-proxy[tracing]'") from exc
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or service_name})
    resource = resource.merge(OTELResourceDetector().detect())
    provider = TracerProvider(resource=resource)
    for exporter in _exporters(os.environ):
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _state["enabled"] = True
    log.info("tracing on: service %s, exporter(s) %s", resource.attributes.get("service.name"),
             os.environ.get("OTEL_TRACES_EXPORTER", "otlp"))
    return True


def shutdown() -> None:
    """Flushes the spans still buffered (called when the process stops)."""
    if enabled():
        from opentelemetry import trace

        provider = trace.get_tracer_provider()
        if hasattr(provider, "shutdown"):
            provider.shutdown()


def grpc_client_interceptors() -> list[Any]:
    if not enabled():
        return []
    from opentelemetry.instrumentation.grpc import aio_client_interceptors

    return list(aio_client_interceptors())


def grpc_server_interceptors() -> list[Any]:
    if not enabled():
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    return [aio_server_interceptor()]


def wrap_asgi(app: Any) -> Any:
    """The ASGI app inside OpenTelemetry's middleware (a server span per HTTP request; the query
    string, which carries the access token, is left out of the span's URL)."""
    if not enabled():
        return app
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    return OpenTelemetryMiddleware(app, exclude_spans=["receive", "send"])


def current_ids() -> dict[str, str]:
    """trace_id and span_id of the current span, for log lines ({} when tracing is off)."""
    if not enabled():
        return {}
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": format(context.trace_id, "032x"), "span_id": format(context.span_id, "016x")}

"""The REST gateway: HTTP routes derived from the control plane protos' google.api.http rules.

    app = create_gateway_app("127.0.0.1:50051")          # standalone
    register_gateway(existing_app, "127.0.0.1:50051")    # inside another Quart app (e.g. the edge)

Requests and replies use the proto3 JSON mapping (proto field names in replies); gRPC status codes
become HTTP status codes with a JSON error body; `Authorization: Bearer` is passed through as
`authorization` metadata; GET /openapi.json describes every route.
"""

from gateway.app import GatewaySettings, create_gateway_app, register_gateway
from gateway.openapi import build_openapi
from gateway.routes import CONTROL_API_FILES, Route, build_routes

__all__ = ["CONTROL_API_FILES", "GatewaySettings", "Route", "build_openapi", "build_routes", "create_gateway_app",
           "register_gateway"]

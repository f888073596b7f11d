"""An OpenAPI 3.1 document generated from the same route table and descriptors the gateway serves.

Schemas follow the proto3 JSON mapping the gateway speaks: properties under their proto names
(JSON names are accepted on input too), 64-bit integers as strings, enums as strings of their
value names, Timestamps as date-time strings, maps as objects with additionalProperties.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from gateway.routes import Route, is_map, message_type, resolve_field_path
from gateway.transcode import QUERY_SCALAR_MESSAGES, WRAPPERS

ERROR_SCHEMA = "Error"
SECURITY_SCHEME = "bearer"
_MAX_QUERY_DEPTH = 4  # how far nested messages are flattened into a.b.c query parameters

_F = FieldDescriptor
_SCALARS: dict[int, dict[str, Any]] = {
    _F.TYPE_DOUBLE: {"type": "number", "format": "double"},
    _F.TYPE_FLOAT: {"type": "number", "format": "float"},
    _F.TYPE_INT32: {"type": "integer", "format": "int32"},
    _F.TYPE_SINT32: {"type": "integer", "format": "int32"},
    _F.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    _F.TYPE_UINT32: {"type": "integer", "format": "uint32", "minimum": 0},
    _F.TYPE_FIXED32: {"type": "integer", "format": "uint32", "minimum": 0},
    # proto3 JSON: 64-bit integers are strings (a JavaScript number loses precision past 2^53).
    _F.TYPE_INT64: {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"},
    _F.TYPE_SINT64: {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"},
    _F.TYPE_SFIXED64: {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"},
    _F.TYPE_UINT64: {"type": "string", "format": "uint64", "pattern": "^[0-9]+$"},
    _F.TYPE_FIXED64: {"type": "string", "format": "uint64", "pattern": "^[0-9]+$"},
    _F.TYPE_BOOL: {"type": "boolean"},
    _F.TYPE_STRING: {"type": "string"},
    _F.TYPE_BYTES: {"type": "string", "format": "byte", "contentEncoding": "base64"},
}

_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]{1,9})?s$",
                                 "description": "Seconds with an 's' suffix, e.g. \"3.5s\"."},
    "google.protobuf.FieldMask": {"type": "string",
                                  "description": "Comma-separated lowerCamelCase field paths."},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Any": {"type": "object", "properties": {"@type": {"type": "string"}},
                            "required": ["@type"], "additionalProperties": True},
}


def build_openapi(routes: Sequence[Route], *, title: str = "wopi-proxy REST gateway",
                  version: str = "v1") -> dict[str, Any]:
    """The OpenAPI 3.1 document of `routes`."""
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.openapi_path, {})[route.http_method.lower()] = _operation(route, schemas)
    components = {
        "schemas": {**dict(sorted(schemas.defined.items())), ERROR_SCHEMA: _error_schema()},
        "securitySchemes": {SECURITY_SCHEME: {
            "type": "http", "scheme": "bearer",
            "description": "An API key of wopi-proxy (admin or tenant), passed on to the control plane.",
        }},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version,
                 "description": "Generated from the control plane's protos (google.api.http rules)."},
        "paths": paths,
        "components": components,
        "security": [{SECURITY_SCHEME: []}],
    }


def _operation(route: Route, schemas: _Schemas) -> dict[str, Any]:
    method = route.method
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": f"{method.containing_service.name}.{method.name}",
        "tags": [method.containing_service.name],
    }
    parameters = [
        {"name": v.field_path, "in": "path", "required": True, "schema": _path_schema(route, v.field_path, schemas)}
        for v in route.variables
    ]
    if route.body != "*":
        bound = {v.field_path for v in route.variables} | ({route.body} if route.body else set())
        parameters += [
            {"name": name, "in": "query", "required": False, "schema": schema}
            for name, schema in _query_parameters(method.input_type, schemas, bound)
        ]
    if parameters:
        operation["parameters"] = parameters
    if route.body:
        body_schema = (schemas.ref(method.input_type) if route.body == "*"
                       else schemas.field(method.input_type.fields_by_name[route.body]))
        operation["requestBody"] = {"required": False, "content": {"application/json": {"schema": body_schema}}}
    reply_schema = (schemas.ref(method.output_type) if not route.response_body
                    else schemas.field(method.output_type.fields_by_name[route.response_body]))
    if route.server_streaming:
        ok = {"description": "A stream of replies, one JSON object per line.",
              "content": {"application/x-ndjson": {"schema": reply_schema}}}
    else:
        ok = {"description": "OK", "content": {"application/json": {"schema": reply_schema}}}
    error = {"description": "An error (google.rpc.Code mapped to HTTP).",
             "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}}}
    operation["responses"] = {"200": ok, "default": error}
    return operation


def _path_schema(route: Route, dotted: str, schemas: _Schemas) -> dict[str, Any]:
    chain = resolve_field_path(route.method.input_type, dotted)
    assert chain is not None  # checked when the route was built
    return schemas.field(chain[-1])


def _query_parameters(message: Descriptor, schemas: _Schemas, bound: set[str], prefix: str = "",
                      depth: int = 0) -> Iterator[tuple[str, dict[str, Any]]]:
    """The fields a GET may set from the query: scalars and repeated scalars, nested messages as
    a.b; never maps or repeated messages (the URL has no syntax for them)."""
    for field in message.fields:
        name, entry = prefix + field.name, message_type(field)
        if name in bound:
            continue
        if entry is None or entry.full_name in QUERY_SCALAR_MESSAGES:
            yield name, schemas.field(field)
        elif not field.is_repeated and depth < _MAX_QUERY_DEPTH:
            yield from _query_parameters(entry, schemas, bound, name + ".", depth + 1)


class _Schemas:
    """components.schemas, filled as messages and enums are referenced."""

    def __init__(self) -> None:
        self.defined: dict[str, dict[str, Any]] = {}

    def ref(self, message: Descriptor) -> dict[str, Any]:
        if message.full_name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[message.full_name])
        if message.full_name in WRAPPERS:
            inner = self.field(message.fields_by_name["value"])
            return {**inner, "type": [inner["type"], "null"]}
        if message.full_name not in self.defined:
            self.defined[message.full_name] = {}  # placeholder first: messages may be recursive
            self.defined[message.full_name] = {
                "type": "object",
                "title": message.name,
                "properties": {f.name: self.field(f) for f in message.fields},
            }
        return {"$ref": f"#/components/schemas/{message.full_name}"}

    def enum(self, enum: EnumDescriptor) -> dict[str, Any]:
        if enum.full_name not in self.defined:
            self.defined[enum.full_name] = {"type": "string", "title": enum.name,
                                            "enum": [value.name for value in enum.values]}
        return {"$ref": f"#/components/schemas/{enum.full_name}"}

    def field(self, field: FieldDescriptor) -> dict[str, Any]:
        entry = message_type(field)
        if entry is not None and is_map(field):
            # JSON object keys are strings whatever the proto key type.
            return {"type": "object", "additionalProperties": self.field(entry.fields_by_name["value"])}
        single = self._single(field)
        return {"type": "array", "items": single} if field.is_repeated else single

    def _single(self, field: FieldDescriptor) -> dict[str, Any]:
        entry = message_type(field)
        if entry is not None:
            return self.ref(entry)
        if field.enum_type is not None:
            return self.enum(field.enum_type)
        return dict(_SCALARS[field.type])


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "status", "message"],
            "properties": {
                "code": {"type": "integer", "description": "The HTTP status."},
                "status": {"type": "string", "description": "The google.rpc.Code name, e.g. NOT_FOUND."},
                "message": {"type": "string"},
                "details": {"type": "array", "items": _WELL_KNOWN["google.protobuf.Any"],
                            "description": "google.rpc.ErrorInfo, google.rpc.BadRequest, ..."},
            },
        }},
    }

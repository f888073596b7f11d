"""The route table: one HTTP binding per google.api.http rule found on the services' methods.

Only the public API's files are listed (the internal EdgeService lives in wopiproxy.internal.v1
and is not even imported here), and methods without an http rule get no binding.
Supported templates (google/api/http.proto): literal segments, `{field}` / `{field=*}` for one
segment, a trailing `{field=**}` for the rest of the path, and a `:verb` suffix. Anything else
fails at start-up rather than routing wrongly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from google.api import annotations_pb2, http_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor, FileDescriptor, MethodDescriptor
from wopiproxy.control.v1 import (
    audit_service_pb2,
    bridge_service_pb2,
    editor_service_pb2,
    file_service_pb2,
    key_service_pb2,
    session_service_pb2,
    storage_service_pb2,
    tenant_service_pb2,
)

# Every file of the control plane's API, listed here rather than discovered: the gateway exposes
# what this list and the files' own http rules say, nothing else.
CONTROL_API_FILES: tuple[FileDescriptor, ...] = (
    tenant_service_pb2.DESCRIPTOR,
    storage_service_pb2.DESCRIPTOR,
    session_service_pb2.DESCRIPTOR,
    file_service_pb2.DESCRIPTOR,
    key_service_pb2.DESCRIPTOR,
    editor_service_pb2.DESCRIPTOR,
    audit_service_pb2.DESCRIPTOR,
    bridge_service_pb2.DESCRIPTOR,
)

_VERBS = ("get", "put", "post", "delete", "patch")
_VARIABLE = re.compile(r"^\{(?P<field>[A-Za-z_][A-Za-z0-9_.]*)(?:=(?P<pattern>[^}]*))?\}$")


class RouteError(ValueError):
    """An http rule the gateway cannot serve (raised when the table is built, never per request)."""


@dataclass(frozen=True)
class PathVariable:
    """A `{field}` of the template: `name` in the Quart rule, `field_path` (dotted proto names) in
    the request."""

    name: str
    field_path: str


@dataclass(frozen=True)
class Route:
    """One HTTP binding of one RPC."""

    http_method: str  # "GET", "POST", ...
    template: str  # as written in the rule, e.g. "/sessions/create"
    rule: str  # the same path as a Quart (werkzeug) rule
    openapi_path: str  # the same path as OpenAPI writes it: "{field}" for each variable
    variables: tuple[PathVariable, ...]
    body: str  # "" (no body), "*" (the whole request) or a request field name
    response_body: str  # "" (the whole reply) or a reply field name
    method: MethodDescriptor
    binding_index: int  # 0 for the rule itself, 1.. for its additional_bindings

    @property
    def rpc_path(self) -> str:
        """The gRPC method path, e.g. "/wopiproxy.control.v1.TenantService/GetTenant"."""
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @property
    def operation_id(self) -> str:
        base = f"{self.method.containing_service.name}_{self.method.name}"
        return base if self.binding_index == 0 else f"{base}_{self.binding_index}"

    @property
    def server_streaming(self) -> bool:
        return bool(self.method.server_streaming)



def build_routes(files: Iterable[FileDescriptor] = CONTROL_API_FILES) -> list[Route]:
    """Every binding of every annotated method of every service in `files`, in declaration order."""
    routes: list[Route] = []
    seen: dict[tuple[str, str], Route] = {}
    for file in files:
        for service in file.services_by_name.values():
            for method in service.methods:
                for route in _method_routes(method):
                    key = (route.http_method, route.rule)
                    if key in seen:
                        raise RouteError(f"{route.http_method} {route.template} is bound to both "
                                         f"{seen[key].rpc_path} and {route.rpc_path}")
                    seen[key] = route
                    routes.append(route)
    return routes


def message_type(field: FieldDescriptor) -> Descriptor | None:
    """The message type of a message (or map) field; None for scalars and enums."""
    return field.message_type if field.type == FieldDescriptor.TYPE_MESSAGE else None


def is_map(field: FieldDescriptor) -> bool:
    entry = message_type(field)
    return entry is not None and bool(entry.GetOptions().map_entry)


def find_field(message: Descriptor, name: str) -> FieldDescriptor | None:
    """A field by its proto name or its JSON (lowerCamelCase) name."""
    field = message.fields_by_name.get(name)
    if field is None:
        field = next((f for f in message.fields if f.json_name == name), None)
    return field


def resolve_field_path(message: Descriptor, dotted: str) -> list[FieldDescriptor] | None:
    """The fields along "a.b.c" (proto or JSON names), or None when any step is missing."""
    chain: list[FieldDescriptor] = []
    current: Descriptor | None = message
    for part in dotted.split("."):
        if current is None:
            return None
        field = find_field(current, part)
        if field is None:
            return None
        chain.append(field)
        current = message_type(field)
    return chain


def _method_routes(method: MethodDescriptor) -> list[Route]:
    options = method.GetOptions()
    if not options.HasExtension(annotations_pb2.http):
        return []
    if method.client_streaming:
        raise RouteError(f"{method.full_name}: client-streaming methods cannot be bound to HTTP")
    rule: http_pb2.HttpRule = options.Extensions[annotations_pb2.http]
    bindings = [rule, *rule.additional_bindings]
    return [_route(method, binding, index) for index, binding in enumerate(bindings)]


def _route(method: MethodDescriptor, rule: http_pb2.HttpRule, index: int) -> Route:
    kind = rule.WhichOneof("pattern")
    if kind is None:
        raise RouteError(f"{method.full_name}: http rule without a method and path")
    if kind == "custom":
        http_method, template = rule.custom.kind.upper(), rule.custom.path
    else:
        http_method, template = kind.upper(), getattr(rule, kind)
    if http_method.lower() not in _VERBS:
        raise RouteError(f"{method.full_name}: unsupported HTTP method {http_method!r}")
    if not template.startswith("/"):
        raise RouteError(f"{method.full_name}: path {template!r} must start with '/'")
    quart_rule, openapi_path, variables = _parse_template(method, template)
    if rule.body and rule.body != "*" and rule.body not in method.input_type.fields_by_name:
        raise RouteError(f"{method.full_name}: body field {rule.body!r} is not a request field")
    if rule.response_body and rule.response_body not in method.output_type.fields_by_name:
        raise RouteError(f"{method.full_name}: response_body {rule.response_body!r} is not a reply field")
    return Route(http_method=http_method, template=template, rule=quart_rule, openapi_path=openapi_path,
                 variables=variables,
                 body=rule.body, response_body=rule.response_body, method=method, binding_index=index)


def _parse_template(method: MethodDescriptor, template: str) -> tuple[str, str, tuple[PathVariable, ...]]:
    path, verb = template, ""
    last = template.rsplit("/", 1)[-1]
    if ":" in last and "}" not in last.split(":", 1)[1]:
        path, verb = template[: -(len(last) - last.index(":"))], last[last.index(":"):]
    segments = path.split("/")[1:]
    parts: list[str] = []
    documented: list[str] = []
    variables: list[PathVariable] = []
    for position, segment in enumerate(segments):
        match = _VARIABLE.match(segment)
        if match is None:
            if "{" in segment or "}" in segment or "<" in segment or ">" in segment:
                raise RouteError(f"{method.full_name}: unsupported path segment {segment!r} in {template!r}")
            parts.append(segment)
            documented.append(segment)
            continue
        field_path, pattern = _check_path_field(method, match["field"], template), match["pattern"] or "*"
        documented.append("{" + field_path + "}")
        name = f"v{len(variables)}"
        if pattern == "*":
            parts.append(f"<{name}>")
        elif pattern == "**" and position == len(segments) - 1:
            parts.append(f"<path:{name}>")
        else:
            raise RouteError(f"{method.full_name}: unsupported variable pattern {pattern!r} in {template!r}")
        variables.append(PathVariable(name=name, field_path=field_path))
    return "/" + "/".join(parts) + verb, "/" + "/".join(documented) + verb, tuple(variables)


def _check_path_field(method: MethodDescriptor, field_path: str, template: str) -> str:
    """The variable's field path in proto names; RouteError unless it names a singular scalar."""
    chain = resolve_field_path(method.input_type, field_path)
    if chain is None:
        raise RouteError(f"{method.full_name}: {template!r} names unknown field {field_path!r}")
    leaf = chain[-1]
    if leaf.is_repeated or leaf.type == FieldDescriptor.TYPE_MESSAGE:
        raise RouteError(f"{method.full_name}: path field {field_path!r} must be a singular scalar")
    return ".".join(f.name for f in chain)


def routes_by_rule(routes: Sequence[Route]) -> dict[str, dict[str, Route]]:
    """Routes grouped by Quart rule, then by HTTP method."""
    grouped: dict[str, dict[str, Route]] = {}
    for route in routes:
        grouped.setdefault(route.rule, {})[route.http_method] = route
    return grouped

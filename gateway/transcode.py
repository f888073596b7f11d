"""HTTP request -> proto request, proto reply -> JSON, per google/api/http.proto and the proto3 JSON
mapping (https://protobuf.dev/programming-guides/json/).

- body "*": the JSON body is the whole request; no query parameters.
- body "<field>": the JSON body is that field; the other fields come from path and query.
- no body: every field not in the path comes from the query: `?a=1&a=2` for repeated fields,
  `?parent.child=x` for nested ones, proto names and lowerCamelCase JSON names alike.
- Unknown JSON members are refused (400 naming the member, dotted from the body's top): a
  misspelt `"permision": "PERMISSION_EDIT"` or `"tenantid"` must not be dropped in silence and the
  request run with defaults. They are found here with the descriptor (json_format's own error does
  not say which member); unknown enum *values* json_format's strict parser refuses.
  Unknown query parameters are ignored (caches and proxies add their own, e.g. cache busters).
- Replies keep the proto field names (snake_case, as the protos and the original product's REST
  API spell them); int64 values are strings, Timestamps RFC 3339, enums by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from shared import bounded_json
from gateway.routes import Route, find_field, is_map, message_type, resolve_field_path

# Well-known types whose JSON form is not an object of their fields: never walked for unknown
# members, and (the scalar-like ones) accepted as one query parameter value.
_OPAQUE_JSON_TYPES = frozenset({
    "google.protobuf.Any", "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue",
})
WRAPPERS = frozenset({
    "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
    "google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
    "google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue",
})
QUERY_SCALAR_MESSAGES = WRAPPERS | {"google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"}
_TRUE, _FALSE = frozenset({"true", "1"}), frozenset({"false", "0"})
# Values in one JSON body (1 MiB at most): parsed JSON costs per value, and a body is parsed before
# the control plane has judged its key. No request message needs as many.
MAX_BODY_VALUES = 20_000
_MAX_NAME_ECHO = 100  # an unknown member's name is repeated in the error, cut to this length


class TranscodeError(Exception):
    """The HTTP request does not make a valid proto request. `field` is "" when no single field is
    to blame (the body is not JSON, or not an object)."""

    def __init__(self, field: str, description: str) -> None:
        super().__init__(description)
        self.field = field
        self.description = description


@dataclass(frozen=True)
class HttpInput:
    """What the transport hands over: path variables by rule name, query pairs, raw body."""

    path_values: Mapping[str, str]
    query: Sequence[tuple[str, str]]
    body: bytes


def request_message(route: Route, http: HttpInput) -> Message:
    """The proto request of `route` built from `http`; TranscodeError when it cannot be."""
    message = message_factory.GetMessageClass(route.method.input_type)()
    if route.body:
        document = _json_body(http.body)
        target = document if route.body == "*" else {route.body: document}
        try:
            refuse_unknown_members(target, route.method.input_type)
        except RecursionError:
            raise TranscodeError("", "the JSON body is nested too deeply") from None
        _merge(message, target)
    if route.body != "*":
        bound = {v.field_path for v in route.variables} | ({route.body} if route.body else set())
        merge_query(message, http.query, skip=frozenset(bound))
    for variable in route.variables:
        _merge_value(message, variable.field_path, [http.path_values[variable.name]], repeated_ok=False)
    return message


def merge_query(message: Message, query: Sequence[tuple[str, str]], *, skip: frozenset[str] = frozenset()) -> None:
    """Sets the fields named by `query` (dotted paths, proto or JSON names) on `message`.

    Parameters that name no field, or a field in `skip` (bound by path or body), are ignored.
    """
    grouped: dict[str, list[str]] = {}
    for key, value in query:
        grouped.setdefault(key, []).append(value)
    canonical_seen: dict[str, str] = {}
    for key, values in grouped.items():
        chain = resolve_field_path(_descriptor(message), key)
        if chain is None:
            continue
        canonical = ".".join(f.name for f in chain)
        if canonical in skip or chain[0].name in skip:
            continue
        if canonical in canonical_seen:
            raise TranscodeError(canonical, f"given twice, as {canonical_seen[canonical]!r} and {key!r}")
        canonical_seen[canonical] = key
        _merge_value(message, key, values, repeated_ok=True)


def reply_document(reply: Message, route: Route) -> Any:
    """The JSON document of a reply (or of its response_body field)."""
    document = json_format.MessageToDict(reply, preserving_proto_field_name=True)
    if not route.response_body:
        return document
    field = _descriptor(reply).fields_by_name[route.response_body]
    if route.response_body in document:
        return document[route.response_body]
    if is_map(field):
        return {}
    if field.is_repeated:
        return []
    return {} if message_type(field) is not None else None


def refuse_unknown_members(document: Any, descriptor: Descriptor, path: str = "") -> None:
    """TranscodeError naming the first member of `document` (recursively) that is no field of
    `descriptor`, or a message given as something else than an object (json_format would iterate
    a string's characters as member names and report a confusing error)."""
    if descriptor.full_name in _OPAQUE_JSON_TYPES or descriptor.full_name in QUERY_SCALAR_MESSAGES:
        return
    if not isinstance(document, dict):
        raise TranscodeError(path, f"must be a JSON object, not {type(document).__name__}")
    seen: set[str] = set()
    for key, value in document.items():
        field = find_field(descriptor, key)
        if field is None:
            member = key if len(key) <= _MAX_NAME_ECHO else f"{key[:_MAX_NAME_ECHO]}..."
            raise TranscodeError(f"{path}.{member}" if path else member,
                                 f"unknown field ({descriptor.name} has no field of this name)")
        where = f"{path}.{field.name}" if path else field.name
        if field.name in seen:  # under its proto name and its JSON name ("tenant_id", "tenantId")
            raise TranscodeError(where, "given more than once in one JSON object (under two names)")
        seen.add(field.name)
        _check_field_value(value, field, where)


def _check_field_value(value: Any, field: FieldDescriptor, path: str) -> None:
    entry = message_type(field)
    if entry is None or value is None:
        return
    if is_map(field):
        value_type = message_type(entry.fields_by_name["value"])
        if isinstance(value, dict) and value_type is not None:
            for k, v in value.items():
                refuse_unknown_members(v, value_type, f"{path}[{k!r}]")
        return
    if field.is_repeated:
        if isinstance(value, list):  # else json_format names the field and says it must be a list
            for i, item in enumerate(value):
                refuse_unknown_members(item, entry, f"{path}[{i}]")
        return
    refuse_unknown_members(value, entry, path)


class _DuplicateMember(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json.loads keeps the last of two equal member names; a proxy or a policy in front of the
    gateway may have read the first. One request must mean one thing to all of them."""
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise _DuplicateMember(name)
            seen.add(name)
    return document


def _json_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        document = bounded_json.loads(raw, max_values=MAX_BODY_VALUES, object_pairs_hook=_refuse_duplicates)
    except bounded_json.TooManyValues as error:
        raise TranscodeError("", f"the JSON body holds {error}") from None
    except _DuplicateMember as duplicate:
        raise TranscodeError(duplicate.name, "given more than once in one JSON object") from None
    except RecursionError:
        raise TranscodeError("", "the JSON body is nested too deeply") from None
    except ValueError as error:  # JSONDecodeError, or bytes that are not UTF-8/16/32
        raise TranscodeError("", f"the body is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise TranscodeError("", "the JSON body must be an object")
    return document


def _merge(message: Message, document: dict[str, Any]) -> None:
    """Parses `document` into `message`; on failure, names the top-level member to blame."""
    try:
        json_format.ParseDict(document, message)
        return
    except (json_format.ParseError, RecursionError) as error:
        whole_error: Exception = error
    for key, value in document.items():
        try:
            json_format.ParseDict({key: value}, type(message)())
        except (json_format.ParseError, RecursionError) as error:
            field = find_field(_descriptor(message), key)
            raise TranscodeError(field.name if field else key, str(error)) from None
    raise TranscodeError("", str(whole_error))


def _merge_value(message: Message, key: str, values: list[str], *, repeated_ok: bool) -> None:
    chain = resolve_field_path(_descriptor(message), key)
    if chain is None:
        raise TranscodeError(key, "no such field")
    canonical = ".".join(f.name for f in chain)
    for parent in chain[:-1]:
        if parent.is_repeated:
            raise TranscodeError(canonical, "a field inside a repeated or map field cannot be set from the URL")
    leaf = chain[-1]
    if is_map(leaf):
        raise TranscodeError(canonical, "a map field cannot be set from the URL")
    leaf_type = message_type(leaf)
    if leaf_type is not None and leaf_type.full_name not in QUERY_SCALAR_MESSAGES:
        raise TranscodeError(canonical, "a message field cannot be set from the URL; set its fields (a.b=...)")
    if not leaf.is_repeated and len(values) > 1:
        raise TranscodeError(canonical, "given more than once but is not repeated")
    if leaf.is_repeated and not repeated_ok:
        raise TranscodeError(canonical, "a repeated field cannot be a path variable")
    converted = [_url_value(leaf, v, canonical) for v in values]
    leaf_value: Any = converted if leaf.is_repeated else converted[0]
    document: Any = leaf_value
    for field in reversed(chain):  # {"a": {"b": value}}: ParseDict merges into what is set already
        document = {field.name: document}
    try:
        json_format.ParseDict(document, message)
    except json_format.ParseError as error:
        raise TranscodeError(canonical, str(error)) from None


def _url_value(field: FieldDescriptor, text: str, name: str) -> Any:
    """A URL string as the JSON value json_format expects for `field`."""
    kind, entry = field.type, message_type(field)
    if entry is not None:
        # Wrappers take their inner type's value; Timestamp, Duration and FieldMask their string.
        if entry.full_name in WRAPPERS:
            return _url_value(entry.fields_by_name["value"], text, name)
        return text
    if kind == FieldDescriptor.TYPE_BOOL:
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise TranscodeError(name, f"{text!r} is not a boolean (true, false, 1 or 0)")
    # Strings, bytes (base64), enums (name or number), integers and floats: json_format accepts
    # their string forms, int64 being a string in JSON anyway.
    return text


def _descriptor(message: Message) -> Descriptor:
    # The stubs type DESCRIPTOR as a union with upb's class; at run time it is one Descriptor.
    return message.DESCRIPTOR  # type: ignore[return-value]

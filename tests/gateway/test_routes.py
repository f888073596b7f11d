"""The route table built from google.api.http rules (descriptors of a private pool for the rule
shapes the control plane's protos do not use yet: path variables, verbs, additional bindings)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import FileDescriptor
from google.protobuf.json_format import MessageToDict
from wopiproxy.control import v1 as control_v1

from gateway.routes import CONTROL_API_FILES, RouteError, build_routes
from gateway.transcode import HttpInput, request_message

_F = descriptor_pb2.FieldDescriptorProto


def file_with(*rules: http_pb2.HttpRule | None) -> FileDescriptor:
    """A file with service Things: one method Get<i> per rule (None: no http rule)."""
    pool = descriptor_pool.DescriptorPool()
    for module in (descriptor_pb2, http_pb2, annotations_pb2):
        pool.AddSerializedFile(module.DESCRIPTOR.serialized_pb)
    proto = descriptor_pb2.FileDescriptorProto(name="things.proto", package="test.v1", syntax="proto3",
                                               dependency=["google/api/annotations.proto"])
    proto.message_type.add(name="Parent", field=[
        _F(name="display_name", number=1, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL, json_name="displayName")])
    proto.message_type.add(name="Thing", field=[
        _F(name="name", number=1, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL, json_name="name"),
        _F(name="parent", number=2, type=_F.TYPE_MESSAGE, type_name=".test.v1.Parent", label=_F.LABEL_OPTIONAL,
           json_name="parent"),
        _F(name="tags", number=3, type=_F.TYPE_STRING, label=_F.LABEL_REPEATED, json_name="tags")])
    service = proto.service.add(name="Things")
    for index, rule in enumerate(rules):
        method = service.method.add(name=f"Get{index}", input_type=".test.v1.Thing", output_type=".test.v1.Thing")
        if rule is not None:
            method.options.Extensions[annotations_pb2.http].CopyFrom(rule)
    pool.Add(proto)
    return pool.FindFileByName("things.proto")


def test_control_api_routes_exclude_the_edge_service() -> None:
    services = {route.method.containing_service.name for route in build_routes(CONTROL_API_FILES)}
    assert "EdgeService" not in services
    assert {"TenantService", "StorageService", "SessionService", "FileService"} <= services


def test_every_service_file_of_the_api_is_listed() -> None:
    generated = [importlib.import_module(f"{control_v1.__name__}.{info.name}")
                 for info in pkgutil.iter_modules(control_v1.__path__) if info.name.endswith("_pb2")]
    with_services = {module.DESCRIPTOR.name for module in generated if module.DESCRIPTOR.services_by_name}
    assert with_services == {file.name for file in CONTROL_API_FILES}


def test_methods_without_a_rule_get_no_route() -> None:
    assert [r.method.name for r in build_routes([file_with(None, http_pb2.HttpRule(get="/things"))])] == ["Get1"]


def test_path_variable_becomes_a_rule_variable_and_fills_the_field() -> None:
    (route,) = build_routes([file_with(http_pb2.HttpRule(get="/things/{parent.displayName}/x/{name}"))])
    assert route.rule == "/things/<v0>/x/<v1>"
    assert route.openapi_path == "/things/{parent.display_name}/x/{name}"
    request = request_message(route, HttpInput(path_values={"v0": "p", "v1": "n"}, query=[("tags", "a")], body=b""))
    assert MessageToDict(request) == {"parent": {"displayName": "p"}, "name": "n", "tags": ["a"]}


def test_path_variable_wins_over_the_same_field_in_the_query() -> None:
    (route,) = build_routes([file_with(http_pb2.HttpRule(get="/things/{name}"))])
    request = request_message(route, HttpInput(path_values={"v0": "from-path"}, query=[("name", "q")], body=b""))
    assert MessageToDict(request) == {"name": "from-path"}


def test_rest_of_path_variable_and_custom_verb() -> None:
    (route,) = build_routes([file_with(http_pb2.HttpRule(post="/things/{name=**}:fetch", body="*"))])
    assert (route.http_method, route.rule) == ("POST", "/things/<path:v0>:fetch")


def test_additional_bindings_get_their_own_operation_ids() -> None:
    rule = http_pb2.HttpRule(get="/things", additional_bindings=[http_pb2.HttpRule(post="/things/get", body="*")])
    routes = build_routes([file_with(rule)])
    assert [(r.http_method, r.operation_id) for r in routes] == [("GET", "Things_Get0"), ("POST", "Things_Get0_1")]


def test_multi_segment_pattern_is_refused_at_build_time() -> None:
    with pytest.raises(RouteError):
        build_routes([file_with(http_pb2.HttpRule(get="/{name=things/*}"))])


def test_same_method_and_path_twice_is_refused() -> None:
    with pytest.raises(RouteError):
        build_routes([file_with(http_pb2.HttpRule(get="/things"), http_pb2.HttpRule(get="/things"))])


def test_path_variable_on_a_repeated_field_is_refused() -> None:
    with pytest.raises(RouteError):
        build_routes([file_with(http_pb2.HttpRule(get="/things/{tags}"))])

"""GET /openapi.json: a valid OpenAPI 3.1 document of exactly the routes the gateway serves."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from gateway import build_routes


@pytest.fixture(scope="module")
def document(gateway: Any) -> dict[str, Any]:
    reply = httpx.get(f"{gateway.url}/openapi.json", timeout=10)  # no key needed to read the API's shape
    assert reply.status_code == 200
    return reply.json()


def schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    return document["components"]["schemas"][f"wopiproxy.control.v1.{name}"]


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_session_create_is_a_post_with_a_request_body(document: dict[str, Any]) -> None:
    operation = document["paths"]["/sessions/create"]["post"]
    assert operation["operationId"] == "SessionService_CreateSession"
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/wopiproxy.control.v1.CreateSessionRequest"}


def test_original_product_paths_are_all_there(document: dict[str, Any]) -> None:
    assert {"/sessions/create", "/sessions/list", "/sessions/get", "/sessions/close",
            "/sessions/cleanup"} <= set(document["paths"])
    assert set(document["paths"]["/sessions/list"]) == {"get"}


def test_one_path_item_per_annotated_method(document: dict[str, Any]) -> None:
    operations = {op["operationId"] for item in document["paths"].values() for op in item.values()}
    assert operations == {route.operation_id for route in build_routes()}


def test_edge_service_is_absent(document: dict[str, Any]) -> None:
    operations = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert not [op for op in operations if op.startswith("EdgeService_")]
    assert not [name for name in document["components"]["schemas"] if "Authorize" in name]


def test_get_takes_request_fields_as_query_parameters(document: dict[str, Any]) -> None:
    parameters = {p["name"]: p for p in document["paths"]["/sessions/list"]["get"]["parameters"]}
    assert set(parameters) == {"tenant_id", "page_size", "page_token", "user_id", "file_id", "state",
                               "created_by_key"}
    assert all(p["in"] == "query" for p in parameters.values())
    assert parameters["page_size"]["schema"] == {"type": "integer", "format": "int32"}


def test_schemas_follow_the_proto_json_mapping(document: dict[str, Any]) -> None:
    session = schema(document, "Session")["properties"]
    assert session["create_time"] == {"type": "string", "format": "date-time"}
    assert session["origin"] == {"type": "object", "additionalProperties": {"type": "string"}}
    assert session["permission"] == {"$ref": "#/components/schemas/wopiproxy.control.v1.Permission"}
    assert schema(document, "Permission")["enum"] == ["PERMISSION_UNSPECIFIED", "PERMISSION_VIEW", "PERMISSION_EDIT"]
    assert schema(document, "CreateSessionResponse")["properties"]["access_token_ttl"]["type"] == "string"
    assert schema(document, "CreateSessionRequest")["properties"]["permissions"] == {
        "type": "array", "items": {"type": "string"}}


def test_streaming_method_answers_ndjson(document: dict[str, Any]) -> None:
    ok = document["paths"]["/sessions/events"]["get"]["responses"]["200"]
    assert list(ok["content"]) == ["application/x-ndjson"]


def test_bearer_security_applies_to_every_operation(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert document["security"] == [{"bearer": []}]

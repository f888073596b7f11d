"""gRPC status -> HTTP status with a JSON error body; the gateway's own refusals in the same shape."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import httpx

from gateway import GatewaySettings
from gateway.transcode import MAX_BODY_VALUES
from tests.gateway.servers import ThreadServer

ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


def error_of(reply: httpx.Response, http_status: int, status: str) -> dict[str, Any]:
    assert reply.status_code == http_status, reply.text
    assert reply.headers["content-type"] == "application/json"
    error = reply.json()["error"]
    assert error["code"] == http_status and error["status"] == status
    return error


def detail(error: dict[str, Any], type_url: str) -> dict[str, Any]:
    found = [d for d in error["details"] if d["@type"] == type_url]
    assert found, error
    return found[0]


def test_unknown_tenant_is_404_with_reason_tenant_not_found(rest: httpx.Client) -> None:
    error = error_of(rest.get("/tenants/get", params={"id": "t-does-not-exist"}), 404, "NOT_FOUND")
    info = detail(error, ERROR_INFO)
    assert info["reason"] == "TENANT_NOT_FOUND" and info["domain"] == "wopi-proxy.control"
    assert info["metadata"]["tenant_id"] == "t-does-not-exist"


def test_bad_tenant_id_is_400_with_a_field_violation(rest: httpx.Client) -> None:
    error = error_of(rest.post("/tenants/create", json={"id": "Not A Valid Id!", "name": "x"}), 400,
                     "INVALID_ARGUMENT")
    violations = detail(error, BAD_REQUEST)["field_violations"]
    assert [v["field"] for v in violations] == ["id"]


def test_missing_authorization_is_401(anonymous: httpx.Client) -> None:
    reply = anonymous.get("/tenants/list")
    error = error_of(reply, 401, "UNAUTHENTICATED")
    assert detail(error, ERROR_INFO)["reason"] == "API_KEY_INVALID"
    assert reply.headers["www-authenticate"] == "Bearer"


def test_wrong_key_is_401(anonymous: httpx.Client) -> None:
    reply = anonymous.get("/tenants/list", headers={"Authorization": "Bearer not-a-key"})
    error_of(reply, 401, "UNAUTHENTICATED")


def test_non_ascii_authorization_is_401_without_calling(anonymous: httpx.Client) -> None:
    reply = anonymous.get("/tenants/list", headers=[(b"Authorization", "Bearer caf\u00e9".encode("latin-1"))])
    error_of(reply, 401, "UNAUTHENTICATED")


def test_malformed_json_is_400(rest: httpx.Client) -> None:
    reply = rest.post("/tenants/create", content=b'{"id": "t-x", ', headers={"Content-Type": "application/json"})
    error = error_of(reply, 400, "INVALID_ARGUMENT")
    assert "not valid JSON" in error["message"]
    assert detail(error, ERROR_INFO)["domain"] == "wopi-proxy.gateway"


def test_json_body_that_is_not_an_object_is_400(rest: httpx.Client) -> None:
    error_of(rest.post("/tenants/create", json=["t-x"]), 400, "INVALID_ARGUMENT")


def test_unknown_enum_value_is_400_not_ignored(rest: httpx.Client) -> None:
    # ignore_unknown_fields would drop it, and the session would open with the default: edit.
    reply = rest.post("/sessions/create", json={"tenant_id": "t-x", "permission": "PERMISSION_VEIW"})
    error = error_of(reply, 400, "INVALID_ARGUMENT")
    assert detail(error, BAD_REQUEST)["field_violations"][0]["field"] == "permission"


def test_unknown_query_parameters_are_ignored(rest: httpx.Client) -> None:
    reply = rest.get("/tenants/get", params={"id": "t-does-not-exist", "cache_buster": "1"})
    error_of(reply, 404, "NOT_FOUND")


def test_unknown_body_member_is_400_naming_it(rest: httpx.Client) -> None:
    # Dropped in silence, a misspelt member would run the request with the default in its place.
    reply = rest.post("/sessions/close", json={"id": "no-such-session", "new_field_of_a_newer_client": {"a": 1}})
    error = error_of(reply, 400, "INVALID_ARGUMENT")
    assert detail(error, BAD_REQUEST)["field_violations"][0]["field"] == "new_field_of_a_newer_client"
    assert "new_field_of_a_newer_client" in error["message"]


def test_negative_page_size_is_400(rest: httpx.Client) -> None:
    error = error_of(rest.get("/sessions/list", params={"page_size": -1}), 400, "INVALID_ARGUMENT")
    assert detail(error, BAD_REQUEST)["field_violations"][0]["field"] == "page_size"


def test_non_numeric_page_size_is_400_naming_the_field(rest: httpx.Client) -> None:
    error = error_of(rest.get("/sessions/list", params={"page_size": "ten"}), 400, "INVALID_ARGUMENT")
    assert detail(error, BAD_REQUEST)["field_violations"][0]["field"] == "page_size"


def test_unknown_route_is_404_json(rest: httpx.Client) -> None:
    error_of(rest.get("/sessions/nope"), 404, "NOT_FOUND")


def test_edge_service_is_not_routed(rest: httpx.Client) -> None:
    for path in ("/wopiproxy.control.v1.EdgeService/AuthorizeWopiRequest",
                 "/wopiproxy.internal.v1.EdgeService/AuthorizeWopiRequest"):
        error_of(rest.post(path, json={}), 404, "NOT_FOUND")


def _answer_then_eof(url: str, request: bytes) -> bytes:
    """Everything the server sends until it closes the connection (fails if it keeps it open)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=15) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_a_reply_before_the_body_arrived_says_connection_close(gateway: ThreadServer) -> None:
    """A 404 answered while the body is still on its way: the server drops the connection after it
    (the body would be read as the next request). Unannounced, a client reusing the connection
    races the close and gets no answer at all; so the reply says so."""
    answer = _answer_then_eof(gateway.url, b"POST /nope HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
                                           b"Content-Length: 100\r\n\r\n{")
    head = answer.split(b"\r\n\r\n", 1)[0].lower()
    assert head.startswith(b"http/1.1 404"), answer[:300]
    assert b"\r\nconnection: close" in head, head


def test_a_reply_after_the_whole_body_keeps_the_connection(rest: httpx.Client) -> None:
    reply = rest.post("/tenants/create", json={"id": "Not A Valid Id!", "name": "x"})
    assert reply.status_code == 400 and "connection" not in reply.headers, reply.headers


def test_wrong_method_is_405_json_with_allow(rest: httpx.Client) -> None:
    reply = rest.get("/sessions/create")
    error_of(reply, 405, "UNIMPLEMENTED")
    assert reply.headers["allow"] == "POST"


def test_body_over_the_limit_is_413(rest: httpx.Client) -> None:
    body = b'{"id": "' + b"x" * GatewaySettings().max_body_bytes + b'"}'
    error_of(rest.post("/tenants/create", content=body), 413, "RESOURCE_EXHAUSTED")


def test_chunked_body_over_the_limit_is_413(rest: httpx.Client) -> None:
    def chunks() -> Any:
        yield b'{"id": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    error_of(rest.post("/tenants/create", content=chunks()), 413, "RESOURCE_EXHAUSTED")


def test_replies_are_not_cacheable(rest: httpx.Client) -> None:
    assert rest.get("/tenants/list").headers["cache-control"] == "no-store"


def test_a_body_without_credentials_is_401_before_it_is_read(gateway: ThreadServer) -> None:
    """Anyone who reaches the gateway may send a body; it is read (and parsed) only for callers
    who name a key. Here the body never comes: the answer must not wait for it."""
    answer = _answer_then_eof(gateway.url, b"POST /tenants/create HTTP/1.1\r\nHost: gw\r\n"
                                           b"Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.lower().startswith(b"http/1.1 401"), answer[:300]
    assert b'"API_KEY_INVALID"' in body and b"\r\nconnection: close" in head.lower(), answer[:600]


def test_a_json_body_of_too_many_values_is_400_before_it_is_parsed(rest: httpx.Client) -> None:
    """Parsed JSON costs per value: 1 MiB of empty objects was ~40 MiB of dicts per request."""
    body = b'{"id": "t-x", "name": "x", "padding": [' + b"{}," * (MAX_BODY_VALUES + 1) + b"{}]}"
    error = error_of(rest.post("/tenants/create", content=body), 400, "INVALID_ARGUMENT")
    assert f"more than {MAX_BODY_VALUES} values" in error["message"]

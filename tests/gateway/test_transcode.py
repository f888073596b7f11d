"""URL and body -> proto request, and proto reply -> JSON (no server needed: pure functions)."""

from __future__ import annotations

import pytest
from wopiproxy.control.v1 import session_service_pb2 as session_pb
from wopiproxy.control.v1 import tenant_service_pb2 as tenant_pb

from gateway.routes import Route, build_routes
from gateway.transcode import HttpInput, TranscodeError, merge_query, reply_document, request_message

ROUTES = {route.operation_id: route for route in build_routes()}


def build(operation: str, *, query: list[tuple[str, str]] | None = None, body: bytes = b"") -> object:
    route: Route = ROUTES[operation]
    return request_message(route, HttpInput(path_values={}, query=query or [], body=body))


def test_repeated_query_parameter_gives_every_value() -> None:
    request = session_pb.CreateSessionRequest()
    merge_query(request, [("permissions", "view"), ("permissions", "edit")])
    assert list(request.permissions) == ["view", "edit"]


def test_nested_query_parameters_set_nested_fields() -> None:
    request = tenant_pb.UpdateTenantRequest()
    merge_query(request, [("tenant.id", "t-1"), ("tenant.settings.webhookUrl", "https://hook"),
                          ("tenant.enabled", "true"), ("tenant.settings.default_session_ttl_seconds", "600")])
    assert request.tenant.id == "t-1" and request.tenant.enabled
    assert request.tenant.settings.webhook_url == "https://hook"
    assert request.tenant.settings.default_session_ttl_seconds == 600


def test_well_known_types_take_their_json_string_in_the_query() -> None:
    request = tenant_pb.UpdateTenantRequest()
    merge_query(request, [("update_mask", "name,settings.webhookUrl"), ("tenant.createTime", "2024-05-01T10:00:00Z")])
    assert list(request.update_mask.paths) == ["name", "settings.webhook_url"]
    assert request.tenant.create_time.seconds == 1714557600


def test_query_names_json_and_proto_alike() -> None:
    by_json = build("SessionService_ListSessions", query=[("tenantId", "t-1"), ("pageSize", "5")])
    by_proto = build("SessionService_ListSessions", query=[("tenant_id", "t-1"), ("page_size", "5")])
    assert by_json == by_proto == session_pb.ListSessionsRequest(tenant_id="t-1", page_size=5)


def test_enum_in_query_by_name_or_number() -> None:
    assert build("SessionService_ListSessions", query=[("state", "SESSION_STATE_OPEN")]) == \
        build("SessionService_ListSessions", query=[("state", "1")])


def test_the_same_field_under_both_names_is_refused() -> None:
    with pytest.raises(TranscodeError) as refused:
        build("SessionService_ListSessions", query=[("tenant_id", "a"), ("tenantId", "b")])
    assert refused.value.field == "tenant_id"


def test_repeating_a_singular_field_is_refused() -> None:
    with pytest.raises(TranscodeError):
        build("SessionService_ListSessions", query=[("page_size", "1"), ("page_size", "2")])


def test_bad_boolean_in_query_is_refused() -> None:
    with pytest.raises(TranscodeError) as refused:
        merge_query(tenant_pb.UpdateTenantRequest(), [("tenant.enabled", "yes")])
    assert refused.value.field == "tenant.enabled"


def test_map_field_cannot_come_from_the_query() -> None:
    with pytest.raises(TranscodeError):
        merge_query(session_pb.CreateSessionRequest(), [("origin", "x")])


def test_body_accepts_json_names_and_int64_as_number_or_string() -> None:
    by_number = build("SessionService_CreateSession", body=b'{"tenantId": "t-1", "ttlSeconds": 600}')
    by_string = build("SessionService_CreateSession", body=b'{"tenant_id": "t-1", "ttl_seconds": "600"}')
    assert by_number == by_string == session_pb.CreateSessionRequest(tenant_id="t-1", ttl_seconds=600)


def test_body_alias_fields_of_the_original_product_pass_through() -> None:
    request = build("SessionService_CreateSession", body=b'''{"storage_name": "docs", "file_path": "a.docx",
        "permissions": ["view", "edit"], "user": "u1", "origin_connection_id": "c1", "origin_page_id": "p1"}''')
    assert request == session_pb.CreateSessionRequest(
        storage_name="docs", file_path="a.docx", permissions=["view", "edit"], user="u1",
        origin_connection_id="c1", origin_page_id="p1")


@pytest.mark.parametrize(("body", "field"), [
    (b'{"tenant": {"id": "t-1"}, "extra": []}', "extra"),
    (b'{"tenant": {"id": "t-1", "color": "red"}}', "tenant.color"),
    (b'{"tenant": {"id": "t-1", "settings": {"theme": 1}}}', "tenant.settings.theme"),
])
def test_body_refuses_unknown_members_at_every_depth_naming_them(body: bytes, field: str) -> None:
    with pytest.raises(TranscodeError) as refused:
        build("TenantService_UpdateTenant", body=body)
    assert refused.value.field == field


@pytest.mark.parametrize(("body", "field"), [
    (b'{"tenant_id": "t-1", "tenant_id": "t-2"}', "tenant_id"),
    (b'{"tenant_id": "t-1", "user": {"id": "u1", "id": "admin"}}', "id"),
])
def test_body_refuses_a_member_given_twice_in_one_object(body: bytes, field: str) -> None:
    with pytest.raises(TranscodeError) as refused:
        build("SessionService_CreateSession", body=body)
    assert refused.value.field == field
    assert "more than once" in str(refused.value)


@pytest.mark.parametrize("body", [b'{"tenant_id": "t-1", "tenantId": "t-2"}', b'{"tenantId": "t-1", "tenant_id": "t-2"}'])
def test_body_refuses_a_field_given_under_both_of_its_names(body: bytes) -> None:
    with pytest.raises(TranscodeError) as refused:
        build("SessionService_CreateSession", body=body)
    assert refused.value.field == "tenant_id"


def test_message_given_as_a_string_is_refused_naming_it() -> None:
    with pytest.raises(TranscodeError) as refused:
        build("TenantService_UpdateTenant", body=b'{"tenant": {"settings": "none"}}')
    assert refused.value.field == "tenant.settings"


def test_empty_body_is_an_empty_request() -> None:
    assert build("SessionService_CleanupSessions") == session_pb.CleanupSessionsRequest()


def test_query_is_ignored_when_the_body_is_the_whole_request() -> None:
    assert build("SessionService_CloseSession", query=[("id", "from-query")], body=b'{"id": "s-1"}') == \
        session_pb.CloseSessionRequest(id="s-1")


def test_reply_uses_proto_names_int64_strings_and_enum_names() -> None:
    session = session_pb.Session(id="s-1", permission=session_pb.PERMISSION_VIEW)
    reply = session_pb.CreateSessionResponse(session=session, access_token_ttl=2**53 + 1)
    document = reply_document(reply, ROUTES["SessionService_CreateSession"])
    assert document == {"session": {"id": "s-1", "permission": "PERMISSION_VIEW"},
                        "access_token_ttl": str(2**53 + 1)}

"""`wopi-proxy keys revoke` and `sessions list --created-by-key`: what they ask the control plane for
(no server: the call is captured)."""

from __future__ import annotations

from typing import Any

import pytest
from wopiproxy.control.v1 import key_service_pb2 as key_pb
from wopiproxy.control.v1 import session_service_pb2 as session_pb

from cli.main import build_parser


class CapturingApi:
    """Answers every call with `reply`, keeping the requests."""

    def __init__(self, reply: Any) -> None:
        self.requests: list[Any] = []
        self.reply = reply
        self.keys = self.sessions = self  # api.keys.RevokeApiKey, api.sessions.ListSessions

    def RevokeApiKey(self, request: Any) -> None:  # noqa: N802  (the stub's method name)
        raise AssertionError("called through Api.call only")

    def ListSessions(self, request: Any) -> None:  # noqa: N802
        raise AssertionError("called through Api.call only")

    def call(self, method: Any, request: Any) -> Any:
        self.requests.append(request)
        return self.reply


@pytest.mark.parametrize(("flags", "close_sessions"), [([], False), (["--close-sessions"], True)])
def test_keys_revoke_asks_to_close_sessions_only_with_the_flag(flags: list[str], close_sessions: bool) -> None:
    args = build_parser().parse_args(["keys", "revoke", "key_1", "--json", *flags])
    api = CapturingApi(key_pb.ApiKey(id="key_1"))

    args.handler(api, args)

    assert [(r.id, r.close_sessions) for r in api.requests] == [("key_1", close_sessions)]


def test_sessions_list_filters_by_the_creating_key() -> None:
    args = build_parser().parse_args(["sessions", "list", "--created-by-key", "key_1", "--json"])
    api = CapturingApi(session_pb.ListSessionsResponse())

    args.handler(api, args)

    assert [r.created_by_key for r in api.requests] == ["key_1"]

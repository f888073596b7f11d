"""`wopi-proxy editors delete`: what it asks DeleteEditor for (no server: the call is captured)."""

from __future__ import annotations

from typing import Any

import pytest

from cli.main import build_parser


class CapturingApi:
    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.editors = self  # api.editors.DeleteEditor

    def DeleteEditor(self, request: Any) -> None:  # noqa: N802  (the stub's method name)
        raise AssertionError("called through Api.call only")

    def call(self, method: Any, request: Any) -> None:
        assert method == self.DeleteEditor
        self.requests.append(request)


@pytest.mark.parametrize(("flags", "force"), [([], False), (["--force"], True)])
def test_editors_delete_asks_for_force_only_with_the_flag(flags: list[str], force: bool) -> None:
    args = build_parser().parse_args(["editors", "delete", "pad", "--tenant-id", "acme", *flags])
    api = CapturingApi()

    args.handler(api, args)

    assert [(r.name, r.tenant_id, r.force) for r in api.requests] == [("pad", "acme", force)]

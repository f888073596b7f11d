"""The suite's own precondition: both shapes serve WOPI for a session made through the control API."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.support.api import new_tenant, open_file
from tests.support.deployment import Deployment


def test_both_shapes_serve_a_file_opened_through_the_control_api(
        shape: str, deploy: Callable[..., Deployment]) -> None:
    deployment = deploy(shape)
    api = deployment.api()
    f = open_file(api, *new_tenant(api, deployment.workdir / "storage"), "a.docx", b"content")
    reply = httpx.get(f"{deployment.http_url}/wopi/files/{f.file_id}/contents", params={"access_token": f.token})
    assert reply.content == b"content", deployment.log()
    assert f.wopi_src.startswith(deployment.http_url)

"""Launch codes hold a copy of the session's access token (encrypted): one nobody used must not stay in
the database past its expiry. A control-plane task purges them."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

import httpx

from tests.security.editor_stand_in import add_editor, stand_in_editor
from tests.support.api import new_tenant, session_pb
from tests.support.deployment import Deployment

TTL_S = 3


def _launch_codes(deployment: Deployment) -> int:
    with sqlite3.connect(deployment.data_dir / "wopi-proxy.db") as db:
        return int(db.execute("SELECT count(*) FROM launch_codes").fetchone()[0])


def test_expired_launch_codes_are_purged_from_the_database(shape: str, deploy: Callable[..., Deployment]) -> None:
    """Attack: read tokens out of a stolen database backup, from launch codes nobody ever used."""
    deployment = deploy(shape, control_args=("--launch-code-ttl", str(TTL_S), "--launch-code-purge-interval", "0.2"))
    api = deployment.api()
    tenant_id, folder = new_tenant(api, deployment.workdir / "storage")
    with stand_in_editor() as editor:
        add_editor(api, editor, tenant_id)
    (folder / "a.docx").write_bytes(b"")
    opened = time.monotonic()
    reply = api.call(api.sessions.CreateSession, session_pb.CreateSessionRequest(
        tenant_id=tenant_id, storage="docs", path="a.docx", user_id="u1"))
    assert reply.host_page_url, deployment.log()
    present = _launch_codes(deployment)
    if time.monotonic() - opened < TTL_S:  # (a very slow machine may already be past the expiry)
        assert present == 1, deployment.log()

    deadline = time.monotonic() + 60
    while _launch_codes(deployment) and time.monotonic() < deadline:
        time.sleep(0.2)

    assert _launch_codes(deployment) == 0, deployment.log()
    assert time.monotonic() - opened >= TTL_S  # not purged before its expiry
    late = httpx.get(reply.host_page_url)
    assert late.status_code == 404 and "has expired" in late.text

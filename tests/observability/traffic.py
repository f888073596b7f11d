"""The WOPI traffic every observability test sends: one of each kind an operator watches."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from tests.support.api import LOCK, OpenFile, new_tenant, open_file, put
from tests.support.deployment import Deployment

CONTENT = b"first content " * 100
SAVED = b"saved by the editor " * 300


@dataclass
class Traffic:
    file: OpenFile
    correlation_id: str


def open_one(deployment: Deployment) -> OpenFile:
    api = deployment.api()
    tenant_id, folder = new_tenant(api, deployment.workdir / "storage")
    return open_file(api, tenant_id, folder, "report.docx", CONTENT)


def send(deployment: Deployment, f: OpenFile, *, correlation_id: str = "corr-observe-1") -> Traffic:
    """CheckFileInfo, LOCK, PutFile, GetFile (200 each), a lock conflict (409), a bad token (401)."""
    with httpx.Client(timeout=30) as http:
        reply = http.get(f.url(), headers={"X-WOPI-CorrelationId": correlation_id})
        assert reply.status_code == 200, f"{reply.text}\n{deployment.log()}"
        reply = http.post(f.url(), headers={"X-WOPI-Override": "LOCK", "X-WOPI-Lock": LOCK})
        assert reply.status_code == 200, f"{reply.text}\n{deployment.log()}"
        reply = put(http, f, SAVED)
        assert reply.status_code == 200, f"{reply.text}\n{deployment.log()}"
        reply = http.get(f.url("/contents"))
        assert reply.status_code == 200 and reply.content == SAVED, deployment.log()
        reply = http.post(f.url(), headers={"X-WOPI-Override": "LOCK", "X-WOPI-Lock": "another-editors-lock"})
        assert reply.status_code == 409, f"{reply.text}\n{deployment.log()}"
        reply = http.get(f.url(token="not-a-real-token-" + "x" * 30))
        assert reply.status_code == 401, f"{reply.text}\n{deployment.log()}"
    return Traffic(file=f, correlation_id=correlation_id)

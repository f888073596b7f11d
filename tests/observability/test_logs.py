"""JSON logs of real deployments: every line parses, access and RPC lines carry the request's
fields, and no secret (access token, API key, Authorization value) is ever written."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from tests.observability.traffic import open_one, send
from tests.support.deployment import Deployment

JSON_ENV = {"WOPI_PROXY_LOG_FORMAT": "json", "WOPI_PROXY_LOG_LEVEL": "DEBUG"}


def _lines(deployment: Deployment) -> list[dict[str, Any]]:
    parsed = []
    for process in deployment.processes:
        for line in process.log().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                raise AssertionError(f"not a JSON line: {line!r}\n{deployment.log()}") from None
            assert isinstance(record, dict), line
            for field in ("time", "level", "logger", "message"):
                assert field in record, (field, line)
            parsed.append(record)
    return parsed


def test_json_lines_carry_request_fields(shape: str, deploy: Callable[..., Deployment]) -> None:
    """With WOPI_PROXY_LOG_FORMAT=json each line is one JSON object; a WOPI request's access line
    has its request id (the editor's correlation id), tenant, operation, status and duration, and
    the control plane's line for the same request carries the same request id."""
    deployment = deploy(shape, env=JSON_ENV)
    f = open_one(deployment)
    traffic = send(deployment, f, correlation_id="corr-json-1")
    deployment.stop()  # every line flushed
    lines = _lines(deployment)
    access = [r for r in lines if r["logger"] == "wopi_proxy.access" and r.get("request_id") == "corr-json-1"]
    assert len(access) == 1, access
    line = access[0]
    assert (line["tenant"], line["operation"], line["status"], line["method"]) == (
        f.tenant_id, "CheckFileInfo", 200, "GET"), line
    assert isinstance(line["duration_ms"], float | int) and line["duration_ms"] >= 0
    assert line["path"] == f"/wopi/files/{f.file_id}"
    rpc = [r for r in lines if r["logger"] == "wopi_proxy.rpc" and r.get("request_id") == traffic.correlation_id]
    assert [r["rpc"] for r in rpc] == ["EdgeService/AuthorizeWopiRequest"], rpc
    assert rpc[0]["code"] == "OK" and rpc[0]["duration_ms"] >= 0
    assert not any(r["message"].startswith("tracing on") for r in lines)  # no OTEL_* here: no tracing
    conflict = [r for r in lines if r["logger"] == "wopi_proxy.access" and r.get("status") == 409]
    assert conflict and conflict[0]["operation"] == "Lock"


def test_no_secret_reaches_the_logs(shape: str, deploy: Callable[..., Deployment]) -> None:
    """Attack: read the logs (shipped to a log service many can read) for credentials. After real
    traffic at DEBUG level, with tokens in the query and in Authorization headers, no access
    token, API key or Authorization value appears in any line of any process."""
    deployment = deploy(shape, env=JSON_ENV)
    f = open_one(deployment)
    send(deployment, f)
    header_token = open_one(deployment)
    reply = httpx.get(header_token.wopi_src, headers={"Authorization": f"Bearer {header_token.token}"}, timeout=15)
    assert reply.status_code == 200, reply.text
    bad = "Bearer-guess-" + "y" * 40
    reply = httpx.get(f.wopi_src, headers={"Authorization": f"Bearer {bad}"}, timeout=15)
    assert reply.status_code == 401
    host_page = httpx.get(f"{deployment.http_url}/host/launch-code-guess-{'z' * 30}", timeout=15)
    assert host_page.status_code in (400, 401, 404, 410), host_page.status_code
    secrets = {"access token": f.token, "header token": header_token.token, "admin key": deployment.admin_key,
               "edge key": deployment.edge_key, "guessed token": bad, "launch code": "z" * 30}
    deployment.stop()
    lines = _lines(deployment)
    assert any(r["logger"] == "wopi_proxy.access" for r in lines)
    text = deployment.log()
    for what, secret in secrets.items():
        assert secret not in text, f"the {what} is in the logs"
    assert "bearer " not in text.lower()

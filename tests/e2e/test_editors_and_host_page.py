"""Editors named by their discovery URL, the action URL and form a session gets, and the host page."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import grpc
import httpx
import pytest

from tests.support.api import ControlApi, error_reason, new_tenant, session_pb, tenant_pb
from tests.support.http_stub import HttpStub
from wopiproxy.control.v1 import editor_service_pb2 as editor_pb
from wopiproxy.control.v1 import editor_service_pb2_grpc as editor_grpc

VALIDATOR = Path(__file__).resolve().parents[3] / "shared" / "wopi-validator" / "validator.py"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<wopi-discovery><net-zone name="external-https"><app name="&lol3;"/></net-zone></wopi-discovery>"""


@pytest.fixture(scope="module")
def stand_in_editor() -> Iterator[HttpStub]:
    """Serves a discovery document whose actions point at itself, and records what is posted."""
    stub = HttpStub().start()
    discovery = subprocess.run([sys.executable, str(VALIDATOR), "--print-discovery", "--urlsrc-base",
                                f"{stub.url}/editor/"], capture_output=True, check=True).stdout
    stub.routes["/hosting/discovery"] = (200, "text/xml", discovery)
    stub.routes["/hosting/billion-laughs"] = (200, "text/xml", BILLION_LAUGHS)
    stub.routes["/hosting/broken"] = (500, "text/plain", b"down for maintenance")
    page = b"<html><body>stand-in editor</body></html>"
    for path in {urlsplit(line.split('urlsrc="')[1].split('"')[0]).path
                 for line in discovery.decode().splitlines() if 'urlsrc="' in line}:
        stub.routes[path] = (200, "text/html", page)
    yield stub
    stub.stop()


@pytest.fixture(scope="module")
def editors(api: ControlApi) -> editor_grpc.EditorServiceStub:
    return editor_grpc.EditorServiceStub(api.channel)


def _add(api: ControlApi, editors: editor_grpc.EditorServiceStub, name: str, url: str, tenant_id: str = "",
         policy: int = editor_pb.PROOF_POLICY_IF_ADVERTISED) -> editor_pb.Editor:
    return editors.CreateEditor(editor_pb.CreateEditorRequest(name=name, tenant_id=tenant_id, discovery_url=url,
                                                              proof_policy=policy), metadata=api.metadata, timeout=30)


def _open(api: ControlApi, tenant_id: str, folder: Path, name: str, **fields: object) -> session_pb.CreateSessionResponse:
    (folder / name).write_bytes(b"")
    fields.setdefault("permission", session_pb.PERMISSION_EDIT)  # the editor's edit action
    return api.call(api.sessions.CreateSession, session_pb.CreateSessionRequest(
        tenant_id=tenant_id, storage="docs", path=name, user_id="u1", **fields))


def test_an_editor_is_added_from_its_discovery_document(api, editors, stand_in_editor, tmp_path) -> None:
    tenant_id, _ = new_tenant(api, tmp_path)
    editor = _add(api, editors, "validator", f"{stand_in_editor.url}/hosting/discovery", tenant_id)
    assert editor.proof_keys_advertised
    assert {"docx", "xlsx", "pptx", "wopitest"} <= set(editor.extensions)
    assert editor.HasField("discovery_fetch_time")


def test_an_unreachable_discovery_is_refused_with_the_reason(api, editors, stand_in_editor, tmp_path) -> None:
    tenant_id, _ = new_tenant(api, tmp_path)
    with pytest.raises(grpc.RpcError) as refused:
        _add(api, editors, "broken", f"{stand_in_editor.url}/hosting/broken", tenant_id)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(refused.value) == "DISCOVERY_UNAVAILABLE"
    assert "500" in refused.value.details()


def test_an_entity_expansion_attack_in_discovery_is_refused(api, editors, stand_in_editor, tmp_path) -> None:
    tenant_id, _ = new_tenant(api, tmp_path)
    with pytest.raises(grpc.RpcError) as refused:
        _add(api, editors, "evil", f"{stand_in_editor.url}/hosting/billion-laughs", tenant_id)
    assert error_reason(refused.value) == "DISCOVERY_UNAVAILABLE"


def test_a_session_gets_the_action_url_and_form_fields_never_the_token_in_a_url(
    api, editors, stand_in_editor, tmp_path
) -> None:
    tenant_id, folder = new_tenant(api, tmp_path)
    _add(api, editors, "validator", f"{stand_in_editor.url}/hosting/discovery", tenant_id)
    reply = _open(api, tenant_id, folder, "report.docx", editor="validator")
    action = urlsplit(reply.editor_action_url)
    assert f"{action.scheme}://{action.netloc}" == stand_in_editor.url
    query = {k.lower(): v for k, v in parse_qs(action.query).items()}
    assert query["wopisrc"] == [reply.session.wopi_src]
    assert reply.access_token not in reply.editor_action_url
    assert reply.access_token not in reply.host_page_url
    assert dict(reply.editor_form) == {"access_token": reply.access_token,
                                       "access_token_ttl": str(reply.access_token_ttl)}
    assert reply.session.editor == "validator"


def test_a_tenant_without_editors_gets_no_editor(api, editors, stand_in_editor, tmp_path) -> None:
    tenant_id, folder = new_tenant(api, tmp_path)
    _add(api, editors, "validator", f"{stand_in_editor.url}/hosting/discovery", tenant_id)
    api.call(api.tenants.UpdateTenant, tenant_pb.UpdateTenantRequest(
        tenant=tenant_pb.Tenant(id=tenant_id, settings=tenant_pb.TenantSettings(editor_mode="disabled"))))
    reply = _open(api, tenant_id, folder, "plain.docx")
    assert reply.editor_action_url == "" and reply.host_page_url == ""
    assert reply.editor_url == reply.session.wopi_src


def test_the_host_page_posts_the_token_in_a_form_and_works_once(api, editors, stand_in_editor, tmp_path) -> None:
    tenant_id, folder = new_tenant(api, tmp_path)
    _add(api, editors, "validator", f"{stand_in_editor.url}/hosting/discovery", tenant_id)
    reply = _open(api, tenant_id, folder, "page.docx", editor="validator")
    page = httpx.get(reply.host_page_url)
    assert page.status_code == 200
    assert 'method="post"' in page.text and 'target="office_frame"' in page.text
    assert f'value="{reply.access_token}"' in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert httpx.get(reply.host_page_url).status_code == 404


def test_a_real_browser_posts_the_form_into_the_editor_frame(api, editors, stand_in_editor, tmp_path) -> None:
    if CHROMIUM is None:
        if os.environ.get("WOPI_PROXY_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is required (WOPI_PROXY_REQUIRE_BROWSER=1) but not installed")
        pytest.skip("Chromium is not installed (Debian package chromium; tools/system_deps.sh installs it)")
    tenant_id, folder = new_tenant(api, tmp_path)
    api.call(api.tenants.UpdateTenant, tenant_pb.UpdateTenantRequest(
        tenant=tenant_pb.Tenant(id=tenant_id, settings=tenant_pb.TenantSettings(
            post_message_origin="https://app.example.com"))))
    _add(api, editors, "validator", f"{stand_in_editor.url}/hosting/discovery", tenant_id)
    reply = _open(api, tenant_id, folder, "browser.docx", editor="validator")
    before = len(stand_in_editor.requests)
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'chromium'}", "--virtual-time-budget=5000", "--dump-dom",
                    reply.host_page_url], capture_output=True, timeout=120)
    deadline = time.monotonic() + 10
    posts: list = []
    while time.monotonic() < deadline and not posts:
        posts = [r for r in stand_in_editor.requests[before:] if r.method == "POST"]
        time.sleep(0.1)
    assert posts, "the browser did not post the form to the editor"
    form = posts[0].form()
    assert form == {"access_token": reply.access_token, "access_token_ttl": str(reply.access_token_ttl)}
    assert reply.access_token not in posts[0].path

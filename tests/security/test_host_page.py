"""The host page (GET /host/<launch code>): framed only by the tenant's application, and a link that
was used or has expired shows a page a person can read."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from google.protobuf import field_mask_pb2

from tests.security.editor_stand_in import DISCOVERY, add_editor, stand_in_editor
from tests.security.storage_support import hostile_tenant
from tests.support.api import ControlApi, new_tenant, session_pb, storage_pb, tenant_pb
from tests.support.deployment import Deployment

APP_ORIGIN = "https://erp.example.com"


def _host_page_url(deployment: Deployment, api: ControlApi, *, origin: str = "") -> str:
    tenant_id, folder = new_tenant(api, deployment.workdir / "storage")
    if origin:
        api.call(api.tenants.UpdateTenant, tenant_pb.UpdateTenantRequest(
            tenant=tenant_pb.Tenant(id=tenant_id, settings=tenant_pb.TenantSettings(post_message_origin=origin)),
            update_mask=field_mask_pb2.FieldMask(paths=["settings.post_message_origin"])))
    with stand_in_editor() as editor:
        add_editor(api, editor, tenant_id)
    (folder / "a.docx").write_bytes(b"")
    reply = api.call(api.sessions.CreateSession, session_pb.CreateSessionRequest(
        tenant_id=tenant_id, storage="docs", path="a.docx", user_id="u1"))
    assert reply.host_page_url, deployment.log()
    return str(reply.host_page_url)


def _frame_ancestors(response: httpx.Response) -> str:
    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    return policy["frame-ancestors"]


def test_the_host_page_may_be_framed_only_by_the_tenants_application(
        shape: str, deploy: Callable[..., Deployment]) -> None:
    """Attack: clickjacking: another site frames the host page of a victim's document."""
    deployment = deploy(shape)
    api = deployment.api()

    page = httpx.get(_host_page_url(deployment, api, origin=APP_ORIGIN))

    assert page.status_code == 200, deployment.log()
    assert _frame_ancestors(page) == APP_ORIGIN
    assert "X-Frame-Options" not in page.headers  # it cannot name another origin; CSP decides


def test_without_a_configured_origin_the_host_page_is_framed_by_itself_only(
        shape: str, deploy: Callable[..., Deployment]) -> None:
    """Attack: clickjacking a tenant that configured no application origin (formerly: any site could frame)."""
    deployment = deploy(shape)
    api = deployment.api()

    page = httpx.get(_host_page_url(deployment, api))

    assert page.status_code == 200, deployment.log()
    assert _frame_ancestors(page) == "'self'"
    assert page.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_a_used_launch_code_shows_a_human_page_not_the_token_or_json(
        shape: str, deploy: Callable[..., Deployment]) -> None:
    """Attack: replay a host-page link (from history, a log or a shoulder) to get the session's token."""
    deployment = deploy(shape)
    api = deployment.api()
    url = _host_page_url(deployment, api)
    first = httpx.get(url)
    assert first.status_code == 200, deployment.log()

    again = httpx.get(url)

    assert again.status_code == 404, again.text
    assert again.headers["Content-Type"].startswith("text/html")
    assert "This link has been used or has expired; open the document again from your application." in again.text
    assert "access_token" not in again.text
    assert _frame_ancestors(again) == "'none'" and again.headers["X-Frame-Options"] == "DENY"
    assert again.headers["Cache-Control"] == "no-store"


def test_a_made_up_launch_code_shows_the_same_page(shape: str, deploy: Callable[..., Deployment]) -> None:
    """Attack: probe for launch codes; an unknown one looks exactly like a used one."""
    deployment = deploy(shape)

    reply = httpx.get(f"{deployment.http_url}/host/{'x' * 32}")

    assert reply.status_code == 404
    assert "This link has been used or has expired" in reply.text


# -- the editor's origin in the policy: the tenant's discovery is attacker input --------------------

INJECTED = b";frame-ancestors *;x"  # spliced into the host of every urlsrc (or favIconUrl) of the discovery


def _hostile_host_page(deployment: Deployment, discovery: bytes) -> str:
    """A host page of a tenant key's own editor whose discovery document is `discovery`."""
    tenant = hostile_tenant(deployment)
    folder = deployment.workdir / "storage" / tenant.tenant_id
    folder.mkdir(parents=True)
    (folder / "a.docx").write_bytes(b"")
    tenant.admin.call(tenant.admin.storages.CreateStorage, storage_pb.CreateStorageRequest(
        tenant_id=tenant.tenant_id, name="docs", protocol="file", root=str(folder)))
    with stand_in_editor() as editor:
        editor.routes["/hosting/discovery"] = (200, "text/xml", discovery)
        add_editor(tenant.api, editor, tenant.tenant_id)
    reply = tenant.api.call(tenant.api.sessions.CreateSession, session_pb.CreateSessionRequest(
        tenant_id=tenant.tenant_id, storage="docs", path="a.docx", user_id="u1"))
    assert reply.host_page_url, deployment.log()
    return str(reply.host_page_url)


def _directives(response: httpx.Response) -> list[str]:
    return [part.strip().split(" ", 1)[0] for part in response.headers["Content-Security-Policy"].split(";")]


def test_a_hostile_urlsrc_cannot_add_a_directive_to_the_host_pages_policy(
        shape: str, deploy: Callable[..., Deployment]) -> None:
    """Attack: a tenant's discovery whose urlsrc host is `collabora.test:9980;frame-ancestors *;x`: taken
    as the origin verbatim, the first frame-ancestors (which browsers obey) let any site frame the page."""
    deployment = deploy(shape, control_args=("--egress-allow", "127.0.0.1/32"))
    discovery = DISCOVERY.read_bytes().replace(b'urlsrc="http://collabora.test:9980/',
                                               b'urlsrc="http://collabora.test:9980' + INJECTED + b"/")

    page = httpx.get(_hostile_host_page(deployment, discovery))

    assert page.status_code == 502, page.text + deployment.log()
    assert _directives(page).count("frame-ancestors") == 1
    assert _frame_ancestors(page) == "'self'"
    assert "*" not in page.headers["Content-Security-Policy"]
    assert "access_token" not in page.text


def test_a_hostile_favicon_url_is_left_out_of_the_host_page_and_its_policy(
        shape: str, deploy: Callable[..., Deployment]) -> None:
    """Attack: the same splice in the discovery's favIconUrl, whose origin joins img-src."""
    deployment = deploy(shape, control_args=("--egress-allow", "127.0.0.1/32"))
    discovery = DISCOVERY.read_bytes().replace(b'favIconUrl="http://collabora.test:9980/',
                                               b'favIconUrl="http://collabora.test:9980' + INJECTED + b"/")

    page = httpx.get(_hostile_host_page(deployment, discovery))

    assert page.status_code == 200, page.text + deployment.log()
    assert _directives(page).count("frame-ancestors") == 1
    assert _frame_ancestors(page) == "'self'"
    assert "frame-ancestors *" not in page.headers["Content-Security-Policy"]
    assert 'rel="shortcut icon"' not in page.text

"""SSRF through URLs a tenant key sets: an editor's discovery URL and an S3 storage's endpoint_url.

A listener on loopback (127.0.0.1, and ::1 on the same port) stands for the deployment's own
network; every refused attack leaves it with zero connections. The operator's own editors
and storages are trusted and keep reaching internal addresses; `--egress-allow CIDR`
(WOPI_PROXY_EGRESS_ALLOW) opens a network to tenants.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler

import grpc
import httpx
import pytest
from google.protobuf import field_mask_pb2

from tests.control.editors.support import document
from tests.support.api import ControlApi, error_reason, new_tenant, session_pb, storage_pb
from tests.support.deployment import Deployment, start_deployment
from tests.support.listener import MARKER, Listener, Reply
from wopiproxy.control.v1 import editor_service_pb2 as editor_pb
from wopiproxy.control.v1 import editor_service_pb2_grpc as editor_grpc
from wopiproxy.control.v1 import key_service_pb2 as key_pb
from wopiproxy.control.v1 import key_service_pb2_grpc as key_grpc

S3_CREDENTIALS = {"key": "tenant-key", "secret": "tenant-secret-" + "s" * 16, "region": "us-east-1"}


@pytest.fixture
def victim() -> Iterator[Listener]:
    listener = Listener().start()
    yield listener
    listener.stop()


def _discovery_reply(handler: BaseHTTPRequestHandler) -> Reply:
    return 200, {"Content-Type": "text/xml"}, document("collabora")


@pytest.fixture
def editor_server() -> Iterator[Listener]:
    """A stand-in editor on 127.0.0.1 serving a real discovery document."""
    listener = Listener(reply=_discovery_reply).start()
    yield listener
    listener.stop()


def tenant_api(deployment: Deployment) -> tuple[ControlApi, str]:
    """A tenant (with a local storage 'docs') and a client holding that tenant's own key."""
    admin = deployment.api()
    tenant_id, _ = new_tenant(admin, deployment.workdir / "storage")
    made = admin.call(key_grpc.KeyServiceStub(admin.channel).CreateApiKey,
                      key_pb.CreateApiKeyRequest(tenant_id=tenant_id, description="tenant"))
    return deployment.api(made.api_key), tenant_id


def add_editor(api: ControlApi, tenant_id: str, url: str, name: str = "mine") -> editor_pb.Editor:
    stub = editor_grpc.EditorServiceStub(api.channel)
    return stub.CreateEditor(editor_pb.CreateEditorRequest(
        name=name, tenant_id=tenant_id, discovery_url=url, proof_policy=editor_pb.PROOF_POLICY_OFF),
        metadata=api.metadata, timeout=30)


def refused(call: Callable[[], object]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def assert_egress_refused(error: grpc.RpcError, deployment: Deployment) -> None:
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, (error.details(), deployment.log())
    assert error_reason(error) == "EGRESS_REFUSED", (error.details(), deployment.log())


def loopback_spellings(port: int, with_ipv6: bool) -> list[str]:
    urls = [
        f"http://127.0.0.1:{port}/hosting/discovery",
        f"http://localhost:{port}/hosting/discovery",  # a name that resolves to 127.0.0.1 (and ::1)
        f"http://[::ffff:127.0.0.1]:{port}/",  # IPv4-mapped IPv6
        f"http://2130706433:{port}/",  # 127.0.0.1 as one decimal number
        f"http://0x7f000001:{port}/",  # ... and in hex
        f"http://127.1:{port}/",  # ... and shortened
        f"https://127.0.0.1:{port}/",
    ]
    if with_ipv6:
        urls.append(f"http://[::1]:{port}/")
    return urls


def test_tenant_discovery_url_naming_loopback_in_any_spelling_is_refused(
        shape: str, deploy: Callable[..., Deployment], victim: Listener) -> None:
    """SSRF via CreateEditor: a tenant points its editor's discovery URL at the control plane's
    own machine, spelled as an address, a name, IPv4-mapped IPv6, decimal, hex or short form."""
    deployment = deploy(shape)
    api, tenant_id = tenant_api(deployment)
    for number, url in enumerate(loopback_spellings(victim.port, victim.has_ipv6)):
        error = refused(lambda: add_editor(api, tenant_id, url, name=f"e{number}"))
        assert_egress_refused(error, deployment)
        assert "loopback" in error.details(), (url, error.details())
    assert victim.touched == 0, (victim.requests, deployment.log())


def test_tenant_discovery_url_with_credentials_is_refused(
        shape: str, deploy: Callable[..., Deployment], victim: Listener) -> None:
    """user:password@ in a tenant's URL: credentials sent to whatever host the URL names."""
    deployment = deploy(shape, control_args=("--egress-allow", "127.0.0.1/32"))
    api, tenant_id = tenant_api(deployment)
    error = refused(lambda: add_editor(api, tenant_id, f"http://admin:secret@127.0.0.1:{victim.port}/"))
    assert_egress_refused(error, deployment)
    assert victim.touched == 0


def test_redirect_from_an_allowed_server_to_an_internal_listener_is_refused(
        shape: str, deploy: Callable[..., Deployment], victim: Listener) -> None:
    """SSRF by redirect: the discovery server is allowed (--egress-allow 127.0.0.2/32), but it
    answers 302 to the internal listener on 127.0.0.1, which must see nothing."""
    target = f"http://127.0.0.1:{victim.port}/admin"
    redirector = Listener(host="127.0.0.2", reply=lambda _: (302, {"Location": target}, b"")).start()
    try:
        deployment = deploy(shape, control_args=("--egress-allow", "127.0.0.2/32"))
        api, tenant_id = tenant_api(deployment)
        error = refused(lambda: add_editor(api, tenant_id, f"{redirector.url}/hosting/discovery"))
        assert_egress_refused(error, deployment)
        assert redirector.requests == ["GET /hosting/discovery"], deployment.log()
    finally:
        redirector.stop()
    assert victim.touched == 0, (victim.requests, deployment.log())


def test_tenant_s3_endpoint_at_an_internal_listener_is_refused(
        shape: str, deploy: Callable[..., Deployment], victim: Listener) -> None:
    """SSRF via CreateStorage: a tenant's S3 storage whose endpoint_url is the internal listener
    (as an address and as a name); no request, signed or not, reaches it."""
    deployment = deploy(shape)
    api, tenant_id = tenant_api(deployment)
    for number, host in enumerate(["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "2130706433"]):
        options = {**S3_CREDENTIALS, "endpoint_url": f"http://{host}:{victim.port}"}
        error = refused(lambda: api.call(api.storages.CreateStorage, storage_pb.CreateStorageRequest(
            tenant_id=tenant_id, name=f"s3-{number}", protocol="s3", root="bucket", options=options)))
        assert_egress_refused(error, deployment)
    assert victim.touched == 0, (victim.requests, deployment.log())


def test_tenant_http_storage_at_an_internal_listener_is_refused(
        shape: str, deploy: Callable[..., Deployment], victim: Listener) -> None:
    """SSRF via an http(s) storage: a tenant's storage root names the internal listener. The storage
    policy refuses the protocol itself for tenant keys (http is not on their default allow-list); the
    egress layer behind it is exercised in tests/shared/test_egress_storage.py."""
    deployment = deploy(shape)
    api, tenant_id = tenant_api(deployment)
    for number, host in enumerate(["127.0.0.1", "localhost"]):
        error = refused(lambda: api.call(api.storages.CreateStorage, storage_pb.CreateStorageRequest(
            tenant_id=tenant_id, name=f"web-{number}", protocol="http", root=f"http://{host}:{victim.port}/files")))
        assert error_reason(error) in ("STORAGE_POLICY_DENIED", "EGRESS_REFUSED"), (error.details(), deployment.log())
    assert victim.touched == 0, (victim.requests, deployment.log())


def test_the_operators_editor_on_loopback_is_still_fetched(
        shape: str, deploy: Callable[..., Deployment], editor_server: Listener) -> None:
    """Not an attack: URLs set with the admin key are the operator's and stay unrestricted."""
    deployment = deploy(shape)
    admin = deployment.api()
    tenant_id, _ = new_tenant(admin, deployment.workdir / "storage")
    editor = add_editor(admin, tenant_id, f"{editor_server.url}/hosting/discovery")
    assert "odt" in editor.extensions, deployment.log()
    pool = add_editor(admin, "", f"{editor_server.url}/hosting/discovery", name="pool")
    assert "odt" in pool.extensions, deployment.log()


def test_a_tenant_key_cannot_make_the_control_plane_fetch_a_pool_editor(
        shape: str, deploy: Callable[..., Deployment], editor_server: Listener) -> None:
    """Attack: a tenant key calls RefreshEditor and DiagnoseEditor on the operator's pool editor
    (tenant_id ""), to have its internal discovery fetched on demand (and the shared row rewritten)
    or described. Refused like CreateEditor and DeleteEditor, before anything is fetched."""
    deployment = deploy(shape)
    add_editor(deployment.api(), "", f"{editor_server.url}/hosting/discovery", name="pool")
    api, _ = tenant_api(deployment)
    stub = editor_grpc.EditorServiceStub(api.channel)
    seen = editor_server.touched
    calls = {
        "RefreshEditor": lambda: stub.RefreshEditor(editor_pb.RefreshEditorRequest(name="pool"),
                                                    metadata=api.metadata, timeout=30),
        "DiagnoseEditor": lambda: stub.DiagnoseEditor(editor_pb.DiagnoseEditorRequest(name="pool"),
                                                      metadata=api.metadata, timeout=30),
    }
    codes = {name: refused(call).code() for name, call in calls.items()}
    assert codes == dict.fromkeys(calls, grpc.StatusCode.PERMISSION_DENIED), deployment.log()
    assert editor_server.touched == seen


def test_a_tenant_key_reads_pool_editors_without_the_operators_addresses(
        shape: str, deploy: Callable[..., Deployment], editor_server: Listener) -> None:
    """Attack: a tenant key lists editors to learn where the operator's pool runs (its internal
    discovery URL, a bridged app's internal URL). It sees the pool's names, not its addresses;
    its own editors and the admin key see everything."""
    deployment = deploy(shape)
    admin = deployment.api()
    url = f"{editor_server.url}/hosting/discovery"
    add_editor(admin, "", url, name="pool")
    editor_grpc.EditorServiceStub(admin.channel).CreateEditor(editor_pb.CreateEditorRequest(
        name="pool-pad", kind="etherpad", app_url="http://10.0.0.7:9001/", app_public_url="https://pad.example/",
        api_key="k", webhook_secret="w" * 16), metadata=admin.metadata, timeout=30)
    api, tenant_id = tenant_api(deployment)
    add_editor(admin, tenant_id, url, name="own")  # set by the operator: not held to the egress policy

    def addresses(client: ControlApi) -> dict[str, tuple[str, str, str]]:
        listed = editor_grpc.EditorServiceStub(client.channel).ListEditors(
            editor_pb.ListEditorsRequest(tenant_id=tenant_id), metadata=client.metadata, timeout=30)
        return {e.name: (e.discovery_url, e.app_url, e.app_public_url) for e in listed.editors}

    assert addresses(api) == {"own": (url, "", ""), "pool": ("", "", ""),
                              "pool-pad": ("", "", "https://pad.example/")}
    assert addresses(admin) == {"own": (url, "", ""), "pool": (url, "", ""),
                                "pool-pad": ("", "http://10.0.0.7:9001/", "https://pad.example/")}


def test_egress_allow_opens_its_network_and_nothing_else(
        shape: str, deploy: Callable[..., Deployment], editor_server: Listener) -> None:
    """The operator's exception (WOPI_PROXY_EGRESS_ALLOW=127.0.0.1/32): the tenant's editor on
    127.0.0.1 is fetched, one on 127.0.0.3 (outside the exception) is still refused."""
    other = Listener(host="127.0.0.3", reply=_discovery_reply).start()
    try:
        deployment = deploy(shape, env={"WOPI_PROXY_EGRESS_ALLOW": "127.0.0.1/32"})
        api, tenant_id = tenant_api(deployment)
        editor = add_editor(api, tenant_id, f"{editor_server.url}/hosting/discovery")
        assert "odt" in editor.extensions, deployment.log()
        assert_egress_refused(refused(lambda: add_editor(api, tenant_id, f"{other.url}/", name="other")),
                              deployment)
    finally:
        other.stop()
    assert other.touched == 0


def test_refetching_a_tenants_discovery_checks_the_policy_again(
        shape: str, deploy: Callable[..., Deployment], editor_server: Listener) -> None:
    """An editor accepted once (its network was allowed then) is not trusted forever: after the
    operator withdraws the exception, RefreshEditor is refused and the server sees nothing more."""
    deployment = deploy(shape, control_args=("--egress-allow", "127.0.0.1/32"))
    api, tenant_id = tenant_api(deployment)
    add_editor(api, tenant_id, f"{editor_server.url}/hosting/discovery")
    tenant_key = dict(api.metadata)["authorization"].removeprefix("Bearer ")
    deployment.stop()
    seen = editor_server.touched
    again = start_deployment(shape, deployment.workdir)  # the same data, no exception any more
    try:
        client = again.api(tenant_key)
        stub = editor_grpc.EditorServiceStub(client.channel)
        error = refused(lambda: stub.RefreshEditor(editor_pb.RefreshEditorRequest(name="mine", tenant_id=tenant_id),
                                                   metadata=client.metadata, timeout=30))
        assert_egress_refused(error, again)
    finally:
        again.stop()
    assert editor_server.touched == seen


@pytest.mark.parametrize("kind", ["status", "json", "xml", "html"])
def test_errors_and_logs_never_echo_the_response(
        shape: str, deploy: Callable[..., Deployment], kind: str) -> None:
    """Reading an internal service through error messages: whatever an allowed server answers
    (an error page, JSON, foreign XML, HTML), the gRPC error and the logs never contain it."""
    bodies = {"status": (500, MARKER), "json": (200, b'{"token": "' + MARKER + b'"}'),
              "xml": (200, b"<" + MARKER + b"><a/></" + MARKER + b">"),
              "html": (200, b"<html><title>" + MARKER + b"</title></html>")}
    status, body = bodies[kind]
    server = Listener(reply=lambda _: (status, {"Content-Type": "application/xml"}, body)).start()
    try:
        deployment = deploy(shape, control_args=("--egress-allow", "127.0.0.1/32"))
        api, tenant_id = tenant_api(deployment)
        error = refused(lambda: add_editor(api, tenant_id, f"{server.url}/hosting/discovery"))
        assert error_reason(error) == "DISCOVERY_UNAVAILABLE", (error.details(), deployment.log())
        assert server.requests, deployment.log()
    finally:
        server.stop()
    assert MARKER.decode() not in error.details()
    assert MARKER.decode() not in str(error.trailing_metadata())
    assert MARKER.decode() not in deployment.log()


# -- the edge applies its own policy ------------------------------------------------------------


def _fake_s3(handler: BaseHTTPRequestHandler) -> Reply:
    """Just enough S3 for CreateStorage's check and CreateSession's HEAD of one object."""
    if handler.command == "GET" and "list-type=2" in handler.path:
        listing = (b'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult '
                   b'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bucket</Name><Prefix></Prefix>'
                   b'<KeyCount>0</KeyCount><MaxKeys>1</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>')
        return 200, {"Content-Type": "application/xml"}, listing
    if handler.path.split("?")[0] == "/bucket/a.docx":
        headers = {"ETag": '"0123456789abcdef"', "Last-Modified": email.utils.formatdate(usegmt=True),
                   "Content-Type": "application/octet-stream"}
        if handler.command == "HEAD":
            headers["Content-Length"] = "5"
            return 200, headers, b""
        return 200, headers, b"hello"
    return 404, {"Content-Type": "application/xml"}, b"<Error><Code>NoSuchKey</Code></Error>"


def test_the_edge_holds_a_tenants_s3_storage_to_its_own_policy(deploy: Callable[..., Deployment]) -> None:
    """SSRF from the edge: the control plane allows the tenant's S3 endpoint (its --egress-allow),
    the edge does not (none given): WOPI requests fail at the edge and the endpoint never hears
    from it. The grant's egress_restricted carries the storage's origin to the edge."""
    s3 = Listener(reply=_fake_s3).start()
    try:
        deployment = deploy("split", control_args=("--egress-allow", "127.0.0.1/32"))
        api, tenant_id = tenant_api(deployment)
        options = {**S3_CREDENTIALS, "endpoint_url": s3.url}
        api.call(api.storages.CreateStorage, storage_pb.CreateStorageRequest(
            tenant_id=tenant_id, name="s3", protocol="s3", root="bucket", options=options))
        session = api.call(api.sessions.CreateSession, session_pb.CreateSessionRequest(
            tenant_id=tenant_id, storage="s3", path="a.docx", user_id="u1"))
        before = list(s3.requests)
        assert before, deployment.log()  # the control plane did reach it (allowed there)
        wopi_src, token = session.session.wopi_src, session.access_token
        info = httpx.get(wopi_src, params={"access_token": token}, timeout=30)
        contents = httpx.get(f"{wopi_src}/contents", params={"access_token": token}, timeout=30)
    finally:
        s3.stop()
    assert info.status_code == 500 and contents.status_code == 500, (info.text, contents.text, deployment.log())
    assert "EGRESS_REFUSED" in contents.text
    assert s3.requests == before, deployment.log()


def _tenant_s3_storage_then_moved_to(api: ControlApi, tenant_id: str, allowed: Listener, target: Listener,
                                     updater: ControlApi) -> grpc.RpcError:
    """An honest S3 storage of the tenant (at an allowed endpoint), then UpdateStorage by `updater`
    moving its endpoint_url to `target`: the error it answers."""
    api.call(api.storages.CreateStorage, storage_pb.CreateStorageRequest(
        tenant_id=tenant_id, name="s3", protocol="s3", root="bucket",
        options={**S3_CREDENTIALS, "endpoint_url": allowed.url}))
    moved = storage_pb.Storage(tenant_id=tenant_id, name="s3", options={**S3_CREDENTIALS, "endpoint_url": target.url})
    return refused(lambda: updater.call(updater.storages.UpdateStorage, storage_pb.UpdateStorageRequest(
        storage=moved, update_mask=field_mask_pb2.FieldMask(paths=["options"]))))


def test_moving_a_tenant_s3_endpoint_to_an_internal_listener_is_refused(deploy: Callable[..., Deployment], victim: Listener) -> None:
    """SSRF via UpdateStorage: the storage was created at an endpoint the operator allows
    (--egress-allow 127.0.0.2/32), then moved to the internal listener. The probe of the new
    endpoint is held to the policy like CreateStorage's: refused, and nothing reaches it."""
    allowed = Listener(host="127.0.0.2", reply=_fake_s3).start()
    try:
        deployment = deploy("serve", control_args=("--egress-allow", "127.0.0.2/32"))
        api, tenant_id = tenant_api(deployment)
        error = _tenant_s3_storage_then_moved_to(api, tenant_id, allowed, victim, updater=api)
        assert_egress_refused(error, deployment)
    finally:
        allowed.stop()
    assert victim.touched == 0, (victim.requests, deployment.log())


def test_an_admin_moving_a_tenants_s3_endpoint_is_held_to_the_tenants_policy(deploy: Callable[..., Deployment], victim: Listener) -> None:
    """The policy follows the storage's owner, not the caller: the operator editing a tenant's
    storage does not make its endpoints trusted."""
    allowed = Listener(host="127.0.0.2", reply=_fake_s3).start()
    try:
        deployment = deploy("serve", control_args=("--egress-allow", "127.0.0.2/32"))
        api, tenant_id = tenant_api(deployment)
        error = _tenant_s3_storage_then_moved_to(api, tenant_id, allowed, victim, updater=deployment.api())
        assert_egress_refused(error, deployment)
    finally:
        allowed.stop()
    assert victim.touched == 0, (victim.requests, deployment.log())


def test_a_tenant_s3_endpoint_never_goes_through_a_proxy_from_the_environment(
        deploy: Callable[..., Deployment]) -> None:
    """An operator whose processes run with HTTP_PROXY (and who had to allow the proxy's address):
    a tenant's S3 requests still go straight to the endpoint, checked, never to the proxy, which
    would reach any name its own resolver knows (internal-only.invalid stands for one)."""
    proxy = Listener(host="127.0.0.2", reply=_fake_s3).start()
    env = {"HTTP_PROXY": proxy.url, "http_proxy": proxy.url, "HTTPS_PROXY": proxy.url, "https_proxy": proxy.url,
           "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}  # our own gRPC stays direct
    try:
        deployment = deploy("serve", control_args=("--egress-allow", "127.0.0.2/32"), env=env)
        api, tenant_id = tenant_api(deployment)
        refused(lambda: api.call(api.storages.CreateStorage, storage_pb.CreateStorageRequest(
            tenant_id=tenant_id, name="s3", protocol="s3", root="bucket",
            options={**S3_CREDENTIALS, "endpoint_url": "http://internal-only.invalid"})))
    finally:
        proxy.stop()
    assert proxy.touched == 0, (proxy.requests, deployment.log())

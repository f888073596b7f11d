"""Per-tenant caps on what a tenant key can make: storages, editors and open sessions (each is read
again by later calls: ListEditors and CreateSession load every editor of the tenant, the staging
sweep walks every storage, DeleteStorage and DeleteEditor every open session of theirs). Control-plane behaviour, so one deployment shape (`serve`)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from tests.security.storage_support import HostileTenant, create_storage, hostile_tenant, open_session, refusal
from tests.security.editor_stand_in import add_editor, stand_in_editor
from tests.support.api import ControlApi, error_reason, session_pb, storage_pb
from tests.support.deployment import Deployment
from wopiproxy.control.v1 import editor_service_pb2 as editor_pb
from wopiproxy.control.v1 import editor_service_pb2_grpc as editor_grpc

Deploy = Callable[..., Deployment]
APP_URL = "http://127.0.0.1:9/etherpad"  # never called: creating a bridged app fetches nothing


@pytest.fixture
def base(tmp_path: Path) -> Path:
    folder = tmp_path / "tenant-files"
    folder.mkdir()
    return folder


def _deployment(deploy: Deploy, base: Path, *limits: str) -> Deployment:
    return deploy("serve", control_args=("--tenant-file-base", str(base), "--egress-allow", "127.0.0.1/32", *limits))


def _folder(base: Path, tenant: HostileTenant, name: str) -> Path:
    folder = base / tenant.tenant_id / name
    folder.mkdir(parents=True)
    return folder


def _storages(tenant: HostileTenant, base: Path, count: int) -> None:
    for i in range(count):
        create_storage(tenant.api, tenant.tenant_id, _folder(base, tenant, f"s{i}"), name=f"s{i}")


def _bridged_editor(api: ControlApi, tenant_id: str, name: str) -> editor_pb.Editor:
    return editor_grpc.EditorServiceStub(api.channel).CreateEditor(editor_pb.CreateEditorRequest(
        name=name, tenant_id=tenant_id, kind="etherpad", app_url=APP_URL, api_key="key",
        webhook_secret=secrets.token_hex(16)), metadata=api.metadata, timeout=30)


def _assert_limit(error: grpc.RpcError, log: str, *words: str) -> None:
    assert (error.code(), error_reason(error)) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "TENANT_LIMIT_EXCEEDED"), (
        f"{error.code()} {error.details()}\n{log}")
    for word in words:
        assert word in (error.details() or ""), f"{word!r} not in {error.details()!r}"


def _storage_names(tenant: HostileTenant) -> list[str]:
    reply = tenant.admin.call(tenant.admin.storages.ListStorages,
                              storage_pb.ListStoragesRequest(tenant_id=tenant.tenant_id))
    return sorted(s.name for s in reply.storages)


# -- storages -------------------------------------------------------------------------------------


def test_a_tenant_key_cannot_create_storages_past_the_tenants_cap(deploy: Deploy, base: Path) -> None:
    """Attack: a tenant key creates storages without end (each is walked by the staging sweep)."""
    deployment = _deployment(deploy, base, "--max-storages-per-tenant", "2")
    tenant = hostile_tenant(deployment)
    _storages(tenant, base, 2)

    error = refusal(lambda: create_storage(tenant.api, tenant.tenant_id, _folder(base, tenant, "more"), name="more"))

    _assert_limit(error, deployment.log(), "2 storages", "--max-storages-per-tenant")
    assert _storage_names(tenant) == ["s0", "s1"]


def test_the_storage_cap_counts_each_tenant_apart(deploy: Deploy, base: Path) -> None:
    """Attack: one tenant at its cap must not use up another tenant's places (or be counted with it)."""
    deployment = _deployment(deploy, base, "--max-storages-per-tenant", "1")
    full, other = hostile_tenant(deployment), hostile_tenant(deployment)
    _storages(full, base, 1)

    _storages(other, base, 1)

    assert _storage_names(other) == ["s0"]


def test_concurrent_creations_cannot_pass_the_storage_cap(deploy: Deploy, base: Path) -> None:
    """Attack: many CreateStorage calls at once, all looking at the count before any has inserted."""
    deployment = _deployment(deploy, base, "--max-storages-per-tenant", "3")
    tenant = hostile_tenant(deployment)
    folders = [_folder(base, tenant, f"c{i}") for i in range(10)]

    def create(i: int) -> str:
        try:
            create_storage(tenant.api, tenant.tenant_id, folders[i], name=f"c{i}")
        except grpc.RpcError as error:
            return error_reason(error)
        return "OK"

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(create, range(10)))

    assert sorted(outcomes) == ["OK"] * 3 + ["TENANT_LIMIT_EXCEEDED"] * 7, deployment.log()
    assert len(_storage_names(tenant)) == 3


def test_an_admin_key_is_not_held_to_the_storage_cap(deploy: Deploy, base: Path) -> None:
    """The operator provisions as many storages for a tenant as it decides to."""
    deployment = _deployment(deploy, base, "--max-storages-per-tenant", "1")
    tenant = hostile_tenant(deployment)
    _storages(tenant, base, 1)

    create_storage(tenant.admin, tenant.tenant_id, _folder(base, tenant, "by-admin"), name="by-admin")

    assert _storage_names(tenant) == ["by-admin", "s0"]


# -- editors --------------------------------------------------------------------------------------


def test_a_tenant_key_cannot_create_editors_past_the_tenants_cap(deploy: Deploy, base: Path) -> None:
    """Attack: a tenant key creates editors without end (every ListEditors and CreateSession loads them all)."""
    deployment = _deployment(deploy, base, "--max-editors-per-tenant", "2")
    tenant = hostile_tenant(deployment)
    _bridged_editor(tenant.api, tenant.tenant_id, "e0")
    _bridged_editor(tenant.api, tenant.tenant_id, "e1")

    error = refusal(lambda: _bridged_editor(tenant.api, tenant.tenant_id, "e2"))

    _assert_limit(error, deployment.log(), "2 editors", "--max-editors-per-tenant")
    listed = editor_grpc.EditorServiceStub(tenant.api.channel).ListEditors(
        editor_pb.ListEditorsRequest(tenant_id=tenant.tenant_id), metadata=tenant.api.metadata, timeout=15)
    assert sorted(e.name for e in listed.editors) == ["e0", "e1"]


def test_an_editor_over_the_cap_is_refused_before_its_discovery_is_fetched(deploy: Deploy, base: Path) -> None:
    """Attack: make the control plane download a 5 MiB discovery again and again, each refused after."""
    deployment = _deployment(deploy, base, "--max-editors-per-tenant", "1")
    tenant = hostile_tenant(deployment)
    _bridged_editor(tenant.api, tenant.tenant_id, "e0")
    with stand_in_editor() as discovery:
        error = refusal(lambda: editor_grpc.EditorServiceStub(tenant.api.channel).CreateEditor(
            editor_pb.CreateEditorRequest(name="wopi", tenant_id=tenant.tenant_id,
                                          discovery_url=f"{discovery.url}/hosting/discovery",
                                          proof_policy=editor_pb.PROOF_POLICY_OFF),
            metadata=tenant.api.metadata, timeout=30))

        _assert_limit(error, deployment.log(), "1 editors")
        assert discovery.requests == []


def test_the_operators_pool_editors_are_not_capped(deploy: Deploy, base: Path) -> None:
    """Pool editors (tenant_id "") are made by the operator's admin key, which is trusted."""
    deployment = _deployment(deploy, base, "--max-editors-per-tenant", "1")
    admin = deployment.api()

    made = [_bridged_editor(admin, "", f"pool{i}").name for i in range(3)]

    assert made == ["pool0", "pool1", "pool2"]


# -- open sessions --------------------------------------------------------------------------------


def _tenant_with_a_file(deployment: Deployment, base: Path) -> HostileTenant:
    tenant = hostile_tenant(deployment)
    (_folder(base, tenant, "docs") / "a.docx").write_bytes(b"hello")
    create_storage(tenant.api, tenant.tenant_id, base / tenant.tenant_id / "docs")
    return tenant


def test_a_tenant_key_cannot_open_sessions_past_the_tenants_cap(deploy: Deploy, base: Path) -> None:
    """Attack: a tenant key opens sessions without end (each lives up to 7 days; DeleteStorage and
    DeleteEditor walk all of theirs in one transaction)."""
    deployment = _deployment(deploy, base, "--max-open-sessions-per-tenant", "2")
    tenant = _tenant_with_a_file(deployment, base)
    opened = [open_session(tenant.api, tenant.tenant_id, "a.docx") for _ in range(2)]

    error = refusal(lambda: open_session(tenant.api, tenant.tenant_id, "a.docx"))

    _assert_limit(error, deployment.log(), "2 open sessions", "--max-open-sessions-per-tenant")
    tenant.api.call(tenant.api.sessions.CloseSession, session_pb.CloseSessionRequest(id=opened[0].session.id))
    open_session(tenant.api, tenant.tenant_id, "a.docx")  # a closed session gives its place back


def test_the_open_session_cap_counts_each_tenant_apart_and_spares_admin_keys(deploy: Deploy, base: Path) -> None:
    deployment = _deployment(deploy, base, "--max-open-sessions-per-tenant", "1")
    full, other = _tenant_with_a_file(deployment, base), _tenant_with_a_file(deployment, base)
    open_session(full.api, full.tenant_id, "a.docx")

    open_session(other.api, other.tenant_id, "a.docx")
    open_session(full.admin, full.tenant_id, "a.docx")


# -- discovery fetches ----------------------------------------------------------------------------


def test_a_tenant_key_cannot_have_more_discovery_fetches_running_than_its_cap(deploy: Deploy, base: Path) -> None:
    """Attack: RefreshEditor called many times at once, each reading a discovery document of up to
    5 MiB into the control plane's memory. The editor here answers slowly (held until released):
    two refreshes are on their way, a third is refused at once and never fetches."""
    deployment = _deployment(deploy, base, "--max-discovery-fetches-per-tenant", "2")
    tenant = hostile_tenant(deployment)
    stub = editor_grpc.EditorServiceStub(tenant.api.channel)
    release = threading.Event()
    with stand_in_editor() as discovery:
        document = discovery.routes["/hosting/discovery"]
        add_editor(tenant.api, discovery, tenant.tenant_id)

        def held(_: object) -> tuple[int, str, bytes]:
            release.wait(60)
            return document  # type: ignore[return-value]

        discovery.routes["/hosting/discovery"] = held
        arrived = len(discovery.requests)

        def refresh() -> str:
            try:
                stub.RefreshEditor(editor_pb.RefreshEditorRequest(name="collabora", tenant_id=tenant.tenant_id),
                                   metadata=tenant.api.metadata, timeout=90)
            except grpc.RpcError as error:
                return error_reason(error)
            return "OK"

        with ThreadPoolExecutor(max_workers=2) as pool:
            running = [pool.submit(refresh) for _ in range(2)]
            deadline = time.monotonic() + 60
            while len(discovery.requests) < arrived + 2:
                assert time.monotonic() < deadline, f"the two refreshes never reached the editor\n{deployment.log()}"
                time.sleep(0.05)
            error = refusal(lambda: stub.RefreshEditor(editor_pb.RefreshEditorRequest(
                name="collabora", tenant_id=tenant.tenant_id), metadata=tenant.api.metadata, timeout=30))
            release.set()
            outcomes = [future.result(timeout=90) for future in running]

        _assert_limit(error, deployment.log(), "2 concurrent discovery fetches", "--max-discovery-fetches-per-tenant")
        assert outcomes == ["OK", "OK"], deployment.log()
        assert len(discovery.requests) == arrived + 2, "the refused refresh fetched nothing"
        refresh()  # the places were given back

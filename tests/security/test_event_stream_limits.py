"""WatchSessionEvents: a tenant's keys may hold only so many streams open at once in one control
plane (each reads the database every second and at every commit), and a stream's place is given
back however it ends. Real streams over gRPC against a real control plane (`serve`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import field_mask_pb2

from tests.security.storage_support import HostileTenant, hostile_tenant
from tests.support.api import ControlApi, error_reason, open_file, session_pb, storage_pb, tenant_pb
from tests.support.deployment import Deployment

Deploy = Callable[..., Deployment]
CAP = 2


@pytest.fixture
def deployment(deploy: Deploy) -> Deployment:
    return deploy("serve", control_args=("--max-event-streams-per-tenant", str(CAP)))


def _tenant_with_an_event(deployment: Deployment, root: Path) -> HostileTenant:
    """A tenant with its own key and one session opened, so that a stream from cursor 0 has an event."""
    tenant = hostile_tenant(deployment)
    folder = root / tenant.tenant_id
    folder.mkdir(parents=True)
    tenant.admin.call(tenant.admin.storages.CreateStorage, storage_pb.CreateStorageRequest(
        tenant_id=tenant.tenant_id, name="docs", protocol="file", root=str(folder)))
    open_file(tenant.admin, tenant.tenant_id, folder, "a.docx")
    return tenant


def _watch(api: ControlApi, tenant_id: str, timeout: float = 60) -> grpc.Future:
    return api.sessions.WatchSessionEvents(session_pb.WatchSessionEventsRequest(tenant_id=tenant_id, cursor="0"),
                                           metadata=api.metadata, timeout=timeout)


def _running(api: ControlApi, tenant_id: str, timeout: float = 60) -> grpc.Future:
    """A stream the server runs: it has delivered the tenant's first event (so it holds its place)."""
    call = _watch(api, tenant_id, timeout)
    assert next(call).type == session_pb.SESSION_EVENT_TYPE_OPENED  # type: ignore[call-overload]
    return call


def _refusal(api: ControlApi, tenant_id: str) -> grpc.RpcError:
    call = _watch(api, tenant_id)
    try:
        next(call)  # type: ignore[call-overload]
    except grpc.RpcError as error:
        return error
    call.cancel()
    raise AssertionError("the stream was accepted")


def _accepted_soon(api: ControlApi, tenant_id: str, within_s: float = 10) -> grpc.Future:
    """A stream accepted once a place is free (giving one back happens as the old stream winds down)."""
    deadline = time.monotonic() + within_s
    while True:
        call = _watch(api, tenant_id)
        try:
            next(call)  # type: ignore[call-overload]
            return call
        except grpc.RpcError as error:
            if error_reason(error) != "TENANT_LIMIT_EXCEEDED" or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


@pytest.fixture
def streams() -> Iterator[list[grpc.Future]]:
    opened: list[grpc.Future] = []
    yield opened
    for call in opened:
        call.cancel()


def test_a_tenant_key_cannot_hold_more_streams_than_the_cap(
        deployment: Deployment, tmp_path: Path, streams: list[grpc.Future]) -> None:
    """Attack: a tenant key opens streams without end, each polling the database."""
    tenant = _tenant_with_an_event(deployment, tmp_path)
    streams += [_running(tenant.api, tenant.tenant_id) for _ in range(CAP)]

    error = _refusal(tenant.api, tenant.tenant_id)

    assert (error.code(), error_reason(error)) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "TENANT_LIMIT_EXCEEDED")
    assert f"{CAP} concurrent event streams" in (error.details() or "")
    assert "--max-event-streams-per-tenant" in (error.details() or "")


def test_a_stream_the_client_cancels_gives_its_place_back(
        deployment: Deployment, tmp_path: Path, streams: list[grpc.Future]) -> None:
    tenant = _tenant_with_an_event(deployment, tmp_path)
    streams += [_running(tenant.api, tenant.tenant_id) for _ in range(CAP)]

    streams[0].cancel()

    streams.append(_accepted_soon(tenant.api, tenant.tenant_id))


def test_a_stream_ended_by_its_deadline_gives_its_place_back(
        deployment: Deployment, tmp_path: Path, streams: list[grpc.Future]) -> None:
    tenant = _tenant_with_an_event(deployment, tmp_path)
    streams += [_running(tenant.api, tenant.tenant_id, timeout=1) for _ in range(CAP)]
    for call in streams:
        with pytest.raises(grpc.RpcError) as ended:
            next(call)  # type: ignore[call-overload]
        assert ended.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

    streams.append(_accepted_soon(tenant.api, tenant.tenant_id))


def test_a_stream_ended_by_an_error_gives_its_place_back(
        deployment: Deployment, tmp_path: Path, streams: list[grpc.Future]) -> None:
    """A disabled tenant's streams end with TENANT_DISABLED; enabled again, it has all its places."""
    tenant = _tenant_with_an_event(deployment, tmp_path)
    streams += [_running(tenant.api, tenant.tenant_id) for _ in range(CAP)]
    _set_enabled(tenant, False)
    for call in streams:
        with pytest.raises(grpc.RpcError) as ended:
            next(call)  # type: ignore[call-overload]
        assert error_reason(ended.value) == "TENANT_DISABLED"
    _set_enabled(tenant, True)

    streams += [_accepted_soon(tenant.api, tenant.tenant_id) for _ in range(CAP)]


def test_the_stream_cap_counts_each_tenant_apart(
        deployment: Deployment, tmp_path: Path, streams: list[grpc.Future]) -> None:
    """Attack: one tenant's streams must not lock another tenant out of its own."""
    full, other = _tenant_with_an_event(deployment, tmp_path), _tenant_with_an_event(deployment, tmp_path)
    streams += [_running(full.api, full.tenant_id) for _ in range(CAP)]

    streams += [_running(other.api, other.tenant_id) for _ in range(CAP)]


def test_the_operators_admin_key_is_not_held_to_the_stream_cap(
        deployment: Deployment, tmp_path: Path, streams: list[grpc.Future]) -> None:
    """The operator watches a tenant even when the tenant's own keys use all of its places."""
    tenant = _tenant_with_an_event(deployment, tmp_path)
    streams += [_running(tenant.api, tenant.tenant_id) for _ in range(CAP)]

    streams += [_running(tenant.admin, tenant.tenant_id) for _ in range(CAP + 1)]


def _set_enabled(tenant: HostileTenant, enabled: bool) -> None:
    tenant.admin.call(tenant.admin.tenants.UpdateTenant, tenant_pb.UpdateTenantRequest(
        tenant=tenant_pb.Tenant(id=tenant.tenant_id, enabled=enabled),
        update_mask=field_mask_pb2.FieldMask(paths=["enabled"])))

"""serve's in-process channel (shared.grpc_local) answers as the control plane's gRPC server does.

Each behaviour is asked of a real control plane (SQLite file, its own gRPC port) twice, over its
port and in process, and the two answers must be the same: the edge's code is shared by both.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb
from wopiproxy.internal.v1 import edge_service_pb2_grpc as edge_grpc

from control.server import RunningControl, start_control
from control.services.keys import EDGE_KEY_FILE
from control.settings import ControlSettings
from edge.control_client import ControlClient, _call_error
from shared import errors, logs
from shared.grpc_local import LocalChannel
from shared.wopi_operation import WopiOperation


@pytest.fixture
async def control(tmp_path: Path) -> AsyncIterator[RunningControl]:
    running = await start_control(ControlSettings(data_dir=tmp_path / "data", grpc_port=0))
    try:
        yield running
    finally:
        await running.stop(grace=0)


def _edge_key(control: RunningControl, tmp_path: Path) -> tuple[tuple[str, str], ...]:
    key = (tmp_path / "data" / EDGE_KEY_FILE).read_text().strip()
    return (("authorization", f"Bearer {key}"),)


def _made_up_grant() -> edge_pb.AuthorizeWopiRequestRequest:
    return edge_pb.AuthorizeWopiRequestRequest(call=edge_pb.WopiCall(
        access_token="not-a-token", file_id="f-1", operation=WopiOperation.CHECK_FILE_INFO.number,
        client_address="127.0.0.1", correlation_id="c-1"))


async def _both(control: RunningControl, call: object) -> tuple[object, object]:
    """The outcome (reply or AioRpcError) of `call(stub)` over the port and in process."""
    outcomes = []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{control.port}") as wire:
        for channel in (wire, control.local):
            try:
                outcomes.append(await call(edge_grpc.EdgeServiceStub(channel)))  # type: ignore[operator]
            except grpc.aio.AioRpcError as error:
                outcomes.append(error)
    return outcomes[0], outcomes[1]


async def test_a_refused_grant_is_the_same_error_in_process_as_over_the_wire(
        control: RunningControl, tmp_path: Path) -> None:
    metadata = _edge_key(control, tmp_path)
    wire, local = await _both(control, lambda stub: stub.AuthorizeWopiRequest(
        _made_up_grant(), metadata=metadata, timeout=10))
    assert isinstance(wire, grpc.aio.AioRpcError) and isinstance(local, grpc.aio.AioRpcError)
    assert local.code() == wire.code() == grpc.StatusCode.PERMISSION_DENIED
    assert local.details() == wire.details()
    assert isinstance(_call_error(local), errors.AccessTokenInvalid)
    assert type(_call_error(local)) is type(_call_error(wire))


async def test_an_in_process_call_without_the_edge_key_is_refused_by_the_servers_authentication(
        control: RunningControl) -> None:
    wire, local = await _both(control, lambda stub: stub.AuthorizeWopiRequest(
        _made_up_grant(), metadata=(("authorization", "Bearer wrong"),), timeout=10))
    assert isinstance(local, grpc.aio.AioRpcError), local
    assert isinstance(wire, grpc.aio.AioRpcError), wire
    assert local.code() == wire.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_an_admin_key_may_not_call_the_edge_service_in_process_either(
        control: RunningControl, tmp_path: Path) -> None:
    admin = (tmp_path / "data" / "admin.key").read_text().strip()
    _, local = await _both(control, lambda stub: stub.AuthorizeWopiRequest(
        _made_up_grant(), metadata=(("authorization", f"Bearer {admin}"),), timeout=10))
    assert isinstance(local, grpc.aio.AioRpcError) and local.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_batch_of_grants_answers_each_item_in_process(control: RunningControl, tmp_path: Path) -> None:
    request = edge_pb.AuthorizeWopiRequestsRequest(requests=[_made_up_grant(), _made_up_grant()])
    wire, local = await _both(control, lambda stub: stub.AuthorizeWopiRequests(
        request, metadata=_edge_key(control, tmp_path), timeout=10))
    assert isinstance(local, edge_pb.AuthorizeWopiRequestsResponse), local
    assert local == wire
    assert [item.WhichOneof("outcome") for item in local.results] == ["error", "error"]


async def test_health_answers_in_process(control: RunningControl) -> None:
    reply = await health_pb2_grpc.HealthStub(control.local).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_a_streaming_method_is_unimplemented_in_process(control: RunningControl) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        health_pb2_grpc.HealthStub(control.local).Watch(health_pb2.HealthCheckRequest())
    assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_an_unknown_method_is_unimplemented_in_process(control: RunningControl) -> None:
    call = control.local.unary_unary("/wopiproxy.internal.v1.EdgeService/NoSuchMethod")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call(b"", timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_a_call_past_its_deadline_is_deadline_exceeded_and_its_handler_is_cancelled(
        control: RunningControl, tmp_path: Path) -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def slow(request: object, context: object) -> object:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        raise AssertionError("unreachable")

    class Slow(grpc.GenericRpcHandler):
        def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
            if details.method == "/test.Slow/Wait":
                return grpc.unary_unary_rpc_method_handler(slow)
            return None

    control.local._handlers.generic.append(Slow())  # a method of the test's own, behind the same interceptors
    call = LocalChannel(control.local._handlers, ()).unary_unary("/test.Slow/Wait")
    with pytest.raises(grpc.aio.AioRpcError) as late:
        await call(b"", timeout=0.2)
    assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert started.is_set()
    await asyncio.wait_for(cancelled.wait(), 10)


async def test_the_handlers_log_fields_stay_its_own(control: RunningControl, tmp_path: Path) -> None:
    logs.begin(request_id="the-edge-request")
    await _both(control, lambda stub: stub.AuthorizeWopiRequest(
        _made_up_grant(), metadata=_edge_key(control, tmp_path), timeout=10))
    assert logs._context.get() == {"request_id": "the-edge-request"}


async def test_the_edges_control_client_works_over_the_in_process_channel(
        control: RunningControl, tmp_path: Path) -> None:
    key = (tmp_path / "data" / EDGE_KEY_FILE).read_text().strip()
    client = ControlClient("unused:1", key, read_timeout_s=10, write_timeout_s=10, channel=control.local)
    assert await client.readiness() == (True, "SERVING")
    with pytest.raises(errors.LaunchCodeInvalid):
        await client.redeem_launch_code("made-up", "127.0.0.1")
    await client.close()
    assert control.local.closed


async def test_an_unexpected_handler_error_is_logged_with_its_traceback_in_process(
        control: RunningControl, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A database error that is no outage escapes the authentication (control/db/availability.py):
    the gRPC server logs it with its traceback, and so must the in-process call (review l)."""
    with sqlite3.connect(tmp_path / "data" / "wopi-proxy.db") as db:  # the key table gone: a real error
        db.execute("ALTER TABLE api_keys RENAME TO api_keys_moved")
    caplog.set_level(logging.INFO)
    wire, local = await _both(control, lambda stub: stub.AuthorizeWopiRequest(
        _made_up_grant(), metadata=(("authorization", "Bearer no-such-key"),), timeout=10))

    assert isinstance(local, grpc.aio.AioRpcError) and isinstance(wire, grpc.aio.AioRpcError)
    assert local.code() == wire.code() == grpc.StatusCode.UNKNOWN
    assert local.details() == wire.details()
    logged = [r for r in caplog.records if r.exc_info is not None and r.levelno >= logging.ERROR]
    assert len(logged) == 2, [r.getMessage() for r in caplog.records]  # once per path


async def test_a_caller_past_its_deadline_does_not_wait_for_a_slow_cancellation(control: RunningControl) -> None:
    release = asyncio.Event()

    async def stubborn(request: object, context: object) -> object:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await release.wait()  # cleanup that takes its time (a hung database read, say)
            raise
        raise AssertionError("unreachable")

    class Stubborn(grpc.GenericRpcHandler):
        def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
            return grpc.unary_unary_rpc_method_handler(stubborn) if details.method == "/test.S/Wait" else None

    control.local._handlers.generic.append(Stubborn())
    call = LocalChannel(control.local._handlers, ()).unary_unary("/test.S/Wait")
    try:
        with pytest.raises(grpc.aio.AioRpcError) as late:
            await asyncio.wait_for(call(b"", timeout=0.2), 30)
        assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    finally:
        release.set()

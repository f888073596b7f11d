"""Grants that share one control-plane call (AuthorizeWopiRequests, edge/call_batching.py): every
request in a batch is decided on its own, exactly as if it had come alone. A batch must never let one
request ride on another's token, tenant or lock, and a bad item must not spoil the others."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2

from tests.e2e.test_audit import events
from tests.security.principals import new_key, refused_as, stubs
from tests.support.api import OpenFile, new_tenant, open_file
from tests.support.deployment import Deployment
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

DENIED = (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")


@pytest.fixture
def channels() -> Iterator[list[grpc.Channel]]:
    opened: list[grpc.Channel] = []
    yield opened
    for channel in opened:
        channel.close()


def _item(f: OpenFile, operation: int, *, token: str | None = None, lock_id: str = "",
          correlation_id: str = "") -> edge_pb.AuthorizeWopiRequestRequest:
    return edge_pb.AuthorizeWopiRequestRequest(call=edge_pb.WopiCall(
        access_token=f.token if token is None else token, file_id=f.file_id, operation=operation,  # type: ignore[arg-type]
        lock_id=lock_id, correlation_id=correlation_id))


def _reason(result: edge_pb.AuthorizeWopiResult) -> str:
    for detail in result.error.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    return ""


def _two_tenants(deployment: Deployment) -> tuple[OpenFile, OpenFile]:
    api = deployment.api()
    acme = open_file(api, *new_tenant(api, deployment.workdir / "a"), "acme.docx", b"acme")
    globex = open_file(api, *new_tenant(api, deployment.workdir / "g"), "globex.docx", b"globex")
    return acme, globex


def test_a_batch_item_with_another_tenants_token_is_refused_and_the_others_granted(
        shape: str, deploy: Callable[..., Deployment], channels: list[grpc.Channel]) -> None:
    """Attack: a request for acme's file carries globex's token (or a made-up one) in the same
    batch as acme's own requests, hoping the batch is authorized as a whole."""
    deployment = deploy(shape)
    acme, globex = _two_tenants(deployment)
    edge = stubs(deployment, deployment.edge_key, channels)
    reply = edge.call(edge.edge.AuthorizeWopiRequests, edge_pb.AuthorizeWopiRequestsRequest(requests=[
        _item(acme, edge_pb.WOPI_OPERATION_CHECK_FILE_INFO),
        _item(acme, edge_pb.WOPI_OPERATION_GET_FILE, token=globex.token),
        _item(acme, edge_pb.WOPI_OPERATION_GET_FILE, token="not-a-token"),
        _item(globex, edge_pb.WOPI_OPERATION_GET_FILE),
    ]))
    outcomes = [r.WhichOneof("outcome") for r in reply.results]
    assert outcomes == ["grant", "error", "error", "grant"], deployment.log()
    assert reply.results[0].grant.tenant_id == acme.tenant_id and reply.results[0].grant.path == "acme.docx"
    assert reply.results[3].grant.tenant_id == globex.tenant_id and reply.results[3].grant.path == "globex.docx"
    foreign, made_up = reply.results[1], reply.results[2]
    # Another tenant's file id is one globex's token does not know at all: like a missing file.
    assert (foreign.error.code, _reason(foreign)) == (grpc.StatusCode.NOT_FOUND.value[0], "FILE_NOT_FOUND")
    assert (made_up.error.code, _reason(made_up)) == (grpc.StatusCode.PERMISSION_DENIED.value[0],
                                                      "ACCESS_TOKEN_INVALID")
    assert not foreign.HasField("grant") and not made_up.HasField("grant")


def test_a_batch_of_competing_locks_has_exactly_one_winner(
        shape: str, deploy: Callable[..., Deployment], channels: list[grpc.Channel]) -> None:
    """Attack (on integrity): eight LOCKs of one file with different lock ids arrive in one batch,
    decided together in one transaction; each must still be its own compare-and-set."""
    deployment = deploy(shape)
    acme, _ = _two_tenants(deployment)
    edge = stubs(deployment, deployment.edge_key, channels)
    reply = edge.call(edge.edge.AuthorizeWopiRequests, edge_pb.AuthorizeWopiRequestsRequest(requests=[
        _item(acme, edge_pb.WOPI_OPERATION_LOCK, lock_id=f"lock-{n}") for n in range(8)]))
    winners = [r.grant.lock_id for r in reply.results if r.HasField("grant")]
    assert len(winners) == 1, (reply, deployment.log())
    losers = [r for r in reply.results if r.HasField("error")]
    assert len(losers) == 7 and {_reason(r) for r in losers} == {"LOCK_CONFLICT"}
    assert all(dict(_info(r).metadata).get("current_lock") == winners[0] for r in losers)


def _info(result: edge_pb.AuthorizeWopiResult) -> error_details_pb2.ErrorInfo:
    for detail in result.error.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info
    return error_details_pb2.ErrorInfo()


def test_empty_and_oversized_batches_are_refused(
        deploy: Callable[..., Deployment], channels: list[grpc.Channel]) -> None:
    """Attack: a flood of grants in one call (memory and one long transaction), or an empty call."""
    deployment = deploy("serve")
    acme, _ = _two_tenants(deployment)
    edge = stubs(deployment, deployment.edge_key, channels)
    for count in (0, 257):
        request = edge_pb.AuthorizeWopiRequestsRequest(
            requests=[_item(acme, edge_pb.WOPI_OPERATION_CHECK_FILE_INFO)] * count)
        code, reason = refused_as(lambda: edge.call(edge.edge.AuthorizeWopiRequests, request))
        assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"), count


def test_tenant_and_admin_keys_cannot_call_the_batch_grant(
        deploy: Callable[..., Deployment], channels: list[grpc.Channel]) -> None:
    """Attack: a tenant key (or an admin key) asks for storage credentials through the batch call."""
    deployment = deploy("serve")
    acme, _ = _two_tenants(deployment)
    admin = stubs(deployment, deployment.admin_key, channels)
    tenant = stubs(deployment, new_key(admin, tenant_id=acme.tenant_id), channels)
    request = edge_pb.AuthorizeWopiRequestsRequest(requests=[_item(acme, edge_pb.WOPI_OPERATION_GET_FILE)])
    for key in (admin, tenant):
        assert refused_as(lambda: key.call(key.edge.AuthorizeWopiRequests, request)) == DENIED


def _batch_calls(metrics: str) -> float:
    found = re.search(r'^wopi_proxy_edge_control_rpc_duration_seconds_count\{method="AuthorizeWopiRequests"\} (\S+)$',
                      metrics, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def _wave(client: httpx.AsyncClient, acme: OpenFile, globex: OpenFile, wave: int) -> list[tuple[str, int, str]]:
    """48 requests at once: acme's and globex's own, and two with the wrong tenant's token."""
    asked = [("acme", acme.url(), f"w{wave}-a{n}") for n in range(23)]
    asked += [("globex", globex.url(), f"w{wave}-g{n}") for n in range(23)]
    asked += [("cross", globex.url(token=acme.token), f"w{wave}-x{n}") for n in range(2)]

    async def one(kind: str, url: str, correlation: str) -> tuple[str, int, str]:
        reply = await client.get(url, headers={"X-WOPI-CorrelationId": correlation})
        return kind, reply.status_code, reply.json().get("BaseFileName", "") if reply.status_code == 200 else ""

    return await asyncio.gather(*(one(*a) for a in asked))


def test_concurrent_requests_through_the_edge_each_get_their_own_answer_and_record(
        shape: str, deploy: Callable[..., Deployment]) -> None:
    """Attack: requests of two tenants, and cross-tenant ones, at once through the edge, so that
    their grants share calls: each answer and each audit record must be its own request's."""
    deployment = deploy(shape)
    acme, globex = _two_tenants(deployment)
    answers: list[tuple[str, int, str]] = []

    async def waves() -> float:
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=64)) as client:
            for wave in range(8):  # until the edge has shared a call (the first wave nearly always does)
                answers.extend(await _wave(client, acme, globex, wave))
                shared = _batch_calls((await client.get(deployment.http_url + "/metrics")).text)
                if shared and wave >= 1:
                    return shared
        return 0.0

    shared = asyncio.run(waves())
    assert shared > 0, "no grants shared a call: " + deployment.log()[-3000:]
    expected = {"acme": (200, "acme.docx"), "globex": (200, "globex.docx"), "cross": (404, "")}  # another tenant's id: missing
    wrong = [a for a in answers if (a[1], a[2]) != expected[a[0]]]
    assert not wrong, (wrong, deployment.log()[-3000:])
    api = deployment.api()
    for f, kind in ((acme, "a"), (globex, "g")):
        recorded = [e for e in events(api, tenant_id=f.tenant_id, operation="CheckFileInfo")
                    if e.session_id == f.session_id]
        correlations = sorted(e.correlation_id for e in recorded)
        granted = sorted(c for c in correlations if re.fullmatch(rf"w\d+-{kind}\d+", c))
        assert len(granted) == sum(1 for a in answers if a[0] == ("acme" if kind == "a" else "globex")), correlations
        assert len(set(granted)) == len(granted)  # one record per request, none shared


def test_the_same_token_twice_in_a_batch_is_two_requests_with_two_records(
        deploy: Callable[..., Deployment], channels: list[grpc.Channel]) -> None:
    """Attack (on the audit): one request repeated in a batch, hoping to be recorded once (the
    batch's grant rows are read together, once per token)."""
    deployment = deploy("serve")
    acme, _ = _two_tenants(deployment)
    edge = stubs(deployment, deployment.edge_key, channels)
    reply = edge.call(edge.edge.AuthorizeWopiRequests, edge_pb.AuthorizeWopiRequestsRequest(requests=[
        _item(acme, edge_pb.WOPI_OPERATION_GET_FILE, correlation_id=f"twice-{n}") for n in range(2)]))
    assert [r.WhichOneof("outcome") for r in reply.results] == ["grant", "grant"], deployment.log()
    recorded = [e.correlation_id for e in events(deployment.api(), tenant_id=acme.tenant_id, operation="GetFile")]
    assert sorted(c for c in recorded if c.startswith("twice-")) == ["twice-0", "twice-1"]


def test_requests_of_two_tenants_queued_for_fair_shares_each_get_their_own_answer(
        shape: str, deploy: Callable[..., Deployment]) -> None:
    """The per-tenant shares of grant slots (edge/tenant_fairness.py) at their tightest: two slots,
    one per tenant while both are active. Requests wait for a slot, in share order rather than
    arrival order; none may be lost, answered twice, or answered with another request's grant."""
    deployment = deploy(shape, edge_args=("--grant-slots", "2", "--grant-slots-lead", "1"))
    acme, globex = _two_tenants(deployment)

    async def waves() -> list[tuple[str, int, str]]:
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=64)) as client:
            return [answer for wave in range(3) for answer in await _wave(client, acme, globex, wave)]

    answers = asyncio.run(waves())
    expected = {"acme": (200, "acme.docx"), "globex": (200, "globex.docx"), "cross": (404, "")}  # another tenant's id: missing
    wrong = [a for a in answers if (a[1], a[2]) != expected[a[0]]]
    assert len(answers) == 3 * 48 and not wrong, (wrong, deployment.log()[-3000:])
    metrics = httpx.get(deployment.http_url + "/metrics", timeout=30).text
    for gauge in ("wopi_proxy_edge_grant_slots_taken", "wopi_proxy_edge_grants_waiting"):
        found = re.search(rf"^{gauge} (\S+)$", metrics, re.MULTILINE)
        assert found and float(found.group(1)) == 0.0, (gauge, found)  # every slot given back

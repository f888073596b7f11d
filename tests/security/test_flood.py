"""Floods of requests without a valid access token: limited per client address at the edge (429 with
Retry-After, no control-plane call), audited as one record per address and window with the count,
while everyone else's valid requests go on."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

import httpx

from tests.support.api import ControlApi, OpenFile, new_tenant, open_file
from tests.support.deployment import Deployment
from wopiproxy.control.v1 import audit_service_pb2 as audit_pb
from wopiproxy.control.v1 import audit_service_pb2_grpc as audit_grpc

BURST = 5
FLOODER = "127.0.0.2"  # a second loopback address: the flood comes from another client than the editor
# One refill a minute: nothing refills during a test, so exactly BURST refusals reach the control plane.
LIMITS = ("--invalid-token-limit", "1", "--invalid-token-burst", str(BURST), "--refusal-report-interval", "0.2")
WINDOW = ("--invalid-token-audit-window", "2")


def _start(deploy: Callable[..., Deployment], shape: str, *edge_args: str) -> Deployment:
    return deploy(shape, control_args=WINDOW, edge_args=(*LIMITS, *edge_args))


def _client(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30)


def _flood(deployment: Deployment, f: OpenFile, count: int, *, headers: dict[str, str] | None = None,
           token: str | None = "") -> list[httpx.Response]:
    """`count` CheckFileInfo requests from FLOODER with made-up tokens (token None: no token at all)."""
    with _client(FLOODER) as http:
        replies = []
        for _ in range(count):
            params = {} if token is None else {"access_token": token or secrets.token_urlsafe(32)}
            replies.append(http.get(f.wopi_src, params=params, headers=headers or {}))
        return replies


def _invalid_token_records(api: ControlApi, address: str) -> list[audit_pb.AuditEvent]:
    stub = audit_grpc.AuditServiceStub(api.channel)
    reply = stub.ListAuditEvents(audit_pb.ListAuditEventsRequest(operation="InvalidTokenRequests", page_size=1000),
                                 metadata=api.metadata, timeout=15)
    return [e for e in reply.events if e.client_address == address]


def _counts(event: audit_pb.AuditEvent) -> dict[str, str]:
    return dict(part.split("=", 1) for part in event.detail.split() if "=" in part)


def _wait_for_total(api: ControlApi, address: str, total: int, deployment: Deployment) -> list[audit_pb.AuditEvent]:
    """Polls until the address's records count `total` requests (windows close every 2 s)."""
    deadline = time.monotonic() + 30
    while True:
        records = _invalid_token_records(api, address)
        if sum(int(_counts(r)["count"]) for r in records) >= total or time.monotonic() > deadline:
            return records
        time.sleep(0.2)


def _file(deployment: Deployment) -> tuple[ControlApi, OpenFile]:
    api = deployment.api()
    return api, open_file(api, *new_tenant(api, deployment.workdir / "storage"), "a.docx", b"content")


def test_a_flood_of_made_up_tokens_is_answered_429_past_the_limit(
        shape: str, deploy: Callable[..., Deployment]) -> None:
    """Attack: guess tokens (or just load the database) by sending many requests with made-up tokens."""
    deployment = _start(deploy, shape)
    api, f = _file(deployment)

    replies = _flood(deployment, f, BURST + 10)

    statuses = [r.status_code for r in replies]
    assert statuses == [401] * BURST + [429] * 10, deployment.log()
    assert all(int(r.headers["Retry-After"]) >= 1 for r in replies[BURST:]), deployment.log()
    # The 429s never reached the control plane: it refused exactly the first BURST requests.
    records = _wait_for_total(api, FLOODER, BURST + 10, deployment)
    assert sum(int(_counts(r)["refused"]) for r in records) == BURST, (records, deployment.log())
    assert sum(int(_counts(r)["rate_limited"]) for r in records) == 10, (records, deployment.log())


def test_a_flood_is_audited_as_one_record_per_address_and_window_never_one_per_request(
        shape: str, deploy: Callable[..., Deployment]) -> None:
    """Attack: make the audit trail (and its hash chain) grow by one record per junk request."""
    deployment = _start(deploy, shape)
    api, f = _file(deployment)
    sent = BURST + 25

    _flood(deployment, f, sent)

    records = _wait_for_total(api, FLOODER, sent, deployment)
    assert sum(int(_counts(r)["count"]) for r in records) == sent, (records, deployment.log())
    windows = [_counts(r)["window_start"] for r in records]
    assert len(windows) == len(set(windows)) <= 3, records  # one record per window (the flood spans at most 3)
    assert all((r.actor, r.outcome, r.status) == ("token", "denied", 401) for r in records)
    stub = audit_grpc.AuditServiceStub(api.channel)
    per_request = [e for e in stub.ListAuditEvents(audit_pb.ListAuditEventsRequest(outcome="denied", page_size=1000),
                                                   metadata=api.metadata, timeout=15).events
                   if e.client_address == FLOODER and e.operation != "InvalidTokenRequests"]
    assert per_request == [], per_request


def test_requests_without_any_token_are_limited_and_counted_too(
        shape: str, deploy: Callable[..., Deployment]) -> None:
    """Attack: flood without a token at all, which the edge refuses on its own (no control call to count it)."""
    deployment = _start(deploy, shape)
    api, f = _file(deployment)

    statuses = [r.status_code for r in _flood(deployment, f, BURST + 3, token=None)]

    assert statuses == [401] * BURST + [429] * 3, deployment.log()
    records = _wait_for_total(api, FLOODER, BURST + 3, deployment)
    assert sum(int(_counts(r)["missing_token"]) for r in records) == BURST, (records, deployment.log())
    assert sum(int(_counts(r)["refused"]) for r in records) == 0, records


def test_a_flood_does_not_slow_other_clients_valid_sessions(
        shape: str, deploy: Callable[..., Deployment]) -> None:
    """Attack: lock editors out of their documents by flooding bad tokens (denial of service)."""
    deployment = _start(deploy, shape)
    api, f = _file(deployment)
    with _client(FLOODER) as flooder_editor:  # an editor working from the flooder's address (shared NAT)
        assert flooder_editor.get(f.url()).status_code == 200, deployment.log()

    assert [r.status_code for r in _flood(deployment, f, BURST + 5)][-1] == 429

    with _client("127.0.0.1") as other:
        assert [other.get(f.url("/contents")).status_code for _ in range(20)] == [200] * 20, deployment.log()
    with _client(FLOODER) as flooder_editor:  # a token granted before still passes from the limited address
        assert flooder_editor.get(f.url()).status_code == 200, deployment.log()
        assert flooder_editor.get(f.url(token="made-up")).status_code == 429


def test_a_forged_x_forwarded_for_does_not_dodge_the_limit(shape: str, deploy: Callable[..., Deployment]) -> None:
    """Attack: claim a new client address in every request to get a fresh allowance each time."""
    deployment = _start(deploy, shape)
    _, f = _file(deployment)

    replies = [_flood(deployment, f, 1, headers={"X-Forwarded-For": f"198.51.100.{i}"})[0] for i in range(BURST + 2)]

    assert [r.status_code for r in replies][-2:] == [429, 429], deployment.log()


def test_behind_a_trusted_proxy_the_rightmost_forwarded_hop_is_the_client(
        deploy: Callable[..., Deployment]) -> None:
    """Attack: behind a proxy, prepend a fake address to X-Forwarded-For to get a fresh allowance."""
    deployment = _start(deploy, "split", "--trust-forwarded-headers")
    _, f = _file(deployment)

    forged = [_flood(deployment, f, 1, headers={"X-Forwarded-For": f"198.51.100.{i}, 203.0.113.7"})[0]
              for i in range(BURST + 1)]
    other = _flood(deployment, f, 1, headers={"X-Forwarded-For": "203.0.113.8"})[0]

    assert [r.status_code for r in forged] == [401] * BURST + [429], deployment.log()
    assert other.status_code == 401, deployment.log()  # another client behind the same proxy is not limited

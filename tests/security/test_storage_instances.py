"""fsspec keeps every filesystem instance it builds in a class-level cache keyed by the options,
without bound; a tenant key chooses the options, and an S3 instance that was probed holds its own
client and service model (about 13 MiB). Before shared.storage.instances, each CreateStorage with
new credentials left one behind, even when it was refused (review h, H2: 40 calls, 530 MiB)."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import grpc

from tests.security.storage_support import create_storage, hostile_tenant
from tests.support.deployment import Deployment
from tests.support.http_stub import HttpStub

Deploy = Callable[..., Deployment]
ACCESS_DENIED = (403, "application/xml", b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
                                         b"<Message>Access Denied</Message></Error>")


def _rss_mib(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * 4096 // (1 << 20)


def test_refused_s3_storages_of_a_tenant_key_do_not_grow_the_control_planes_memory(deploy: Deploy) -> None:
    """Attack: a tenant key calls CreateStorage over and over for an S3 storage at its own endpoint
    (here a stub on 127.0.0.1, allowed by --egress-allow as a stand-in for any public address) with
    fresh random credentials each time. Each call is refused (the endpoint answers AccessDenied), yet
    the control plane's memory grows by the instance fsspec keeps for it, without bound."""
    endpoint = HttpStub().start()
    endpoint.routes["/bucket"] = ACCESS_DENIED
    try:
        grown, calls = _attack(deploy, endpoint)
    finally:
        endpoint.stop()
    assert grown < 100, (f"{calls} refused CreateStorage calls of one tenant key grew the control plane by "
                         f"{grown} MiB ({grown / calls:.1f} MiB each), never given back")


def _attack(deploy: Deploy, endpoint: HttpStub) -> tuple[int, int]:
    deployment = deploy("split", control_args=("--egress-allow", "127.0.0.1/32"))
    control_pid = deployment.processes[0].process.pid
    hostile = hostile_tenant(deployment)

    def attempt() -> None:
        try:
            create_storage(hostile.api, hostile.tenant_id, "bucket", protocol="s3", name="s3", options={
                "key": secrets.token_hex(16), "secret": secrets.token_hex(32),
                "endpoint_url": f"{endpoint.url}", "addressing_style": "path"})
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, error.details()
        else:
            raise AssertionError("the stub's AccessDenied should have refused the storage")

    for _ in range(10):  # warm-up: first imports, the first client
        attempt()
    before = _rss_mib(control_pid)
    calls = 40
    for _ in range(calls):
        attempt()
    return _rss_mib(control_pid) - before, calls

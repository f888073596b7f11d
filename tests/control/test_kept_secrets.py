"""UpdateStorage keeps a secret sent back as read ("***") only for the same destination: with a
real S3 server, a tenant key cannot move its storage to another bucket the stored credentials
reach (review m), whether it sends the options back or only the root."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest

from control.services import storages
from control.services.context import Principal, ServiceContext
from shared.egress import EgressPolicy
from shared.errors import InvalidArgument
from shared.storage import REDACTED
from tests.control.helpers import TENANT
from tests.support.s3 import S3Server, s3_bucket, s3_server  # noqa: F401  (fixtures)


@pytest.fixture
def s3_ctx(ctx: ServiceContext) -> ServiceContext:
    """The control plane with the test S3 server (127.0.0.1) allowed by the egress policy."""
    return dataclasses.replace(ctx, egress=EgressPolicy(allow=(ipaddress.ip_network("127.0.0.1/32"),)))


@pytest.mark.parametrize("paths", [("root",), ("options", "root")], ids=["root-only", "root-and-read-options"])
async def test_a_kept_secret_never_follows_the_storage_to_another_bucket(
        s3_ctx: ServiceContext, admin: Principal, acme_key: Principal, acme, s3_server: S3Server,  # noqa: F811
        s3_bucket: str, paths: tuple[str, ...]) -> None:  # noqa: F811
    ctx = s3_ctx
    await storages.create_storage(ctx, acme_key, tenant_id=TENANT, name="docs", protocol="s3", root=s3_bucket,
                                  options=s3_server.options)
    await storages.update_storage(ctx, admin, tenant_id=TENANT, name="docs", paths=["options"],
                                  options=s3_server.options)  # credentials the operator entered
    private = s3_server.new_bucket()  # another bucket they reach: the operator's own
    try:
        read = await storages.get_storage(ctx, acme_key, tenant_id=TENANT, name="docs")
        shown = storages.storage_options(read)
        assert shown["secret"] == REDACTED
        with pytest.raises(InvalidArgument) as refused:
            await storages.update_storage(ctx, acme_key, tenant_id=TENANT, name="docs", paths=list(paths),
                                          root=private, options=shown)
        assert "send the secret again" in refused.value.message
        assert (await storages.get_storage(ctx, acme_key, tenant_id=TENANT, name="docs")).root == s3_bucket
    finally:
        s3_server.remove_bucket(private)

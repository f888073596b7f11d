"""A secret kept as stored ("***") stays only on the same bucket (shared.storage.options.bucket_of),
named as s3fs names it (review n): a root such as "<other-bucket>/x://<stored-bucket>" sends every
request to <other-bucket>, and each S3 access point (arn:aws:s3:<region>:<account>:accesspoint/<name>)
is a bucket of its own. An update that sends no options never fails on the stored ones.
"""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest
import s3fs

from control.services import storages
from control.services.context import Principal, ServiceContext
from shared.egress import EgressPolicy
from shared.errors import InvalidArgument
from shared.storage import REDACTED, redact_options
from shared.storage.options import with_kept_secrets
from tests.control.helpers import TENANT
from tests.support.s3 import S3Server, s3_bucket, s3_server  # noqa: F401  (fixtures)


@pytest.fixture
def s3_ctx(ctx: ServiceContext) -> ServiceContext:
    return dataclasses.replace(ctx, egress=EgressPolicy(allow=(ipaddress.ip_network("127.0.0.1/32"),)))


async def _one(data: bytes):
    yield data


async def test_a_kept_secret_never_reaches_another_bucket_through_a_scheme_inside_the_root(
        s3_ctx: ServiceContext, admin: Principal, acme_key: Principal, acme, s3_server: S3Server,  # noqa: F811
        s3_bucket: str) -> None:  # noqa: F811
    ctx = s3_ctx
    await storages.create_storage(ctx, acme_key, tenant_id=TENANT, name="docs", protocol="s3", root=s3_bucket,
                                  options=s3_server.options)
    await storages.update_storage(ctx, admin, tenant_id=TENANT, name="docs", paths=["options"],
                                  options=s3_server.options)  # credentials the operator entered
    private = s3_server.new_bucket()  # another bucket they reach: the operator's own
    try:
        read = await storages.get_storage(ctx, acme_key, tenant_id=TENANT, name="docs")
        assert storages.storage_options(read)["secret"] == REDACTED
        try:
            # root only: options stay "as read", i.e. the operator's key and secret are kept.
            await storages.update_storage(ctx, acme_key, tenant_id=TENANT, name="docs", paths=["root"],
                                          root=f"{private}/x://{s3_bucket}")
        except InvalidArgument:
            return  # sound: the secret must be sent again
        # Accepted: show where the storage now writes, with the operator's credentials.
        async with ctx.read() as db:
            from control.db import stores
            row = await stores.get_storage(db, tenant_id=TENANT, name="docs")
        storage = storages.open_storage(ctx, row)
        await storage.write_atomic("planted.txt", _one(b"tenant bytes"), limit=1 << 20)
        landed = s3_server.filesystem().find(private)
        raise AssertionError(
            f"a tenant key moved its storage to root {row.root!r}: the operator's credentials were kept and "
            f"the storage now writes into the operator's bucket {private!r}: {landed}")
    finally:
        s3_server.remove_bucket(private)


STORED = {"key": "AKIA-operator", "secret": "operator-secret"}


@pytest.mark.parametrize(("stored_root", "new_root"), [
    ("tenant-bucket", "operator-private/x://tenant-bucket"),
    ("tenant-bucket/docs", "operator-private/s3://tenant-bucket/docs"),
    ("arn:aws:s3:us-east-1:123456789012:accesspoint/tenant-ap",
     "arn:aws:s3:us-east-1:123456789012:accesspoint/operator-private-ap"),
], ids=["scheme-inside-root", "s3-scheme-inside-root", "access-point-arn"])
def test_with_kept_secrets_compares_the_bucket_s3fs_uses(stored_root: str, new_root: str) -> None:
    fs = s3fs.S3FileSystem(anon=True)
    old_bucket = fs.split_path(fs._strip_protocol(stored_root) + "/f")[0]
    new_bucket = fs.split_path(fs._strip_protocol(new_root) + "/f")[0]
    assert old_bucket != new_bucket  # s3fs sends the requests to another bucket

    with pytest.raises(InvalidArgument):
        with_kept_secrets("s3", stored_root, STORED, "s3", new_root, {"key": REDACTED, "secret": REDACTED})


@pytest.mark.parametrize("stored", [
    {"anon": "true", "endpoint_url": "https://user:***@s3.example.com/"},  # what 866ea07 stored (review m F4)
    {"key": "AKIA", "secret": REDACTED},  # a secret whose value happens to be ***
], ids=["url-password-stored-as-three-stars", "secret-stored-as-three-stars"])
def test_an_update_that_sends_no_options_never_fails_on_the_stored_ones(stored: dict[str, str]) -> None:
    """update_storage with paths ["version_retention"] (or max_file_size) now passes the stored
    options through with_kept_secrets as if sent back as read; a stored value that reads the same as
    it is stored (a literal *** — such as the rows 866ea07 wrote when a URL password was sent back as
    read) is then refused as "*** stands for a stored secret this storage does not hold"."""
    sent = redact_options(stored)  # what update_storage sends when "options" is not in paths

    assert with_kept_secrets("s3", "b", stored, "s3", "b", sent) == stored


async def test_update_storage_of_retention_only_is_refused_for_a_row_holding_three_stars(
        ctx: ServiceContext, admin: Principal, open_session) -> None:  # noqa: ANN001
    """The same through UpdateStorage: only version_retention in the mask, no options sent."""
    import json

    from control.db import stores
    from control.db.models import Storage

    await open_session()  # the tenant's storage STORAGE exists
    from tests.control.helpers import STORAGE
    async with ctx.transaction() as db:
        row = await stores.get_storage(db, tenant_id=TENANT, name=STORAGE)
        assert row is not None
        row = await db.get(Storage, row.id)
        options = {**storages.storage_options(row), "endpoint_url": "https://user:***@s3.example.com/"}
        row.options_json = json.dumps(options, sort_keys=True)
        db.add(row)

    updated = await storages.update_storage(ctx, admin, tenant_id=TENANT, name=STORAGE,
                                            paths=["version_retention"], version_retention=5)
    assert updated.version_retention == 5

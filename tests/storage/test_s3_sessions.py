"""S3 storages share the process's one aiobotocore session (shared/storage/s3.py,
with_shared_session): each session loads botocore's service models for itself, about 12 MiB per
storage instance, so a control plane or edge serving many tenants' S3 storages grew by that much
per storage. What tells storages apart stays each storage's own: its client, key and secret."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from shared.storage import FsspecStorage
from tests.support.s3 import S3Server

ENDPOINT = {"endpoint_url": "http://127.0.0.1:9"}


def test_two_s3_storages_share_one_session_and_keep_their_own_keys() -> None:
    first = FsspecStorage("s3", "bucket-a", {**ENDPOINT, "key": "ann", "secret": "a" * 20}, egress=None)
    second = FsspecStorage("s3", "bucket-b", {**ENDPOINT, "key": "bob", "secret": "b" * 20}, egress=None)
    assert first.fs.session is second.fs.session is not None
    assert (first.fs.key, second.fs.key) == ("ann", "bob")


def test_a_storage_naming_a_profile_gets_a_session_of_its_own() -> None:
    """A profile is the session's to read (s3fs hands options it does not take to the session)."""
    shared = FsspecStorage("s3", "bucket-a", {**ENDPOINT, "key": "ann", "secret": "a" * 20}, egress=None)
    own = FsspecStorage("s3", "bucket-b", {**ENDPOINT, "profile": "operator"}, egress=None)
    assert own.fs.session is not shared.fs.session


async def test_a_wrong_secret_on_one_storage_leaves_the_others_credentials_alone(
        s3_server: S3Server, s3_bucket: str) -> None:
    right = FsspecStorage("s3", s3_bucket, s3_server.options, egress=None)
    wrong = FsspecStorage("s3", s3_bucket, {**s3_server.options, "secret": "not-the-secret"}, egress=None)
    await right.check_reachable()
    assert "access denied" in str(await _unreachable(wrong))
    await right.check_reachable()
    assert "access denied" in str(await _unreachable(wrong))


async def _unreachable(storage: FsspecStorage) -> BaseException:
    try:
        await storage.check_reachable()
    except Exception as error:  # noqa: BLE001  (StorageUnreachable, its message checked by the caller)
        return error
    raise AssertionError("the storage was reachable with a wrong secret")


def test_each_further_s3_storage_costs_well_under_a_mebibyte() -> None:
    """In a fresh process (so that what the test process loaded does not count): 20 storages,
    each with its client made. Each made its own session before: ~12 MiB each."""
    script = textwrap.dedent("""
        from fsspec.asyn import sync
        from shared.storage import FsspecStorage

        def rss_kib():
            with open("/proc/self/status") as status:
                return int(next(line for line in status if line.startswith("VmRSS:")).split()[1])

        kept = []
        def one(n):
            storage = FsspecStorage("s3", f"bucket-{n}", {"endpoint_url": "http://127.0.0.1:9", "key": f"k{n}",
                                                          "secret": "s" * 20}, egress=None)
            sync(storage.fs.loop, storage.fs.set_session)
            kept.append(storage)

        one(0)
        before = rss_kib()
        for n in range(1, 21):
            one(n)
        print((rss_kib() - before) / 20 / 1024)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < 1.5, f"{float(done.stdout):.1f} MiB per S3 storage"

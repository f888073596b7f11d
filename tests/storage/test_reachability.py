"""check_reachable: a storage that cannot work is refused with the cause in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import InvalidArgument, StorageUnreachable
from shared.storage import FsspecStorage
from tests.support.s3 import S3Server


async def _reason(storage: FsspecStorage, **kwargs: float) -> str:
    with pytest.raises(StorageUnreachable) as caught:
        await storage.check_reachable(**kwargs)
    return caught.value.message


async def test_a_missing_local_root(tmp_path: Path) -> None:
    assert "root does not exist" in await _reason(FsspecStorage("file", str(tmp_path / "nothing"), egress=None))


async def test_a_local_root_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"x")
    assert "root is not a folder" in await _reason(FsspecStorage("file", str(tmp_path / "file"), egress=None))


async def test_a_missing_memory_root() -> None:
    assert "root does not exist" in await _reason(FsspecStorage("memory", "/no-such-root-anywhere", egress=None))


def test_an_unknown_protocol_names_itself() -> None:
    with pytest.raises(StorageUnreachable, match="nosuchfs"):
        FsspecStorage("nosuchfs", "/x", egress=None)


def test_a_malformed_option_is_invalid_argument(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="auto_mkdir"):
        FsspecStorage("file", str(tmp_path), {"auto_mkdir": "perhaps"}, egress=None)


async def test_an_s3_bucket_and_an_empty_prefix_are_reachable(s3_server: S3Server, s3_bucket: str) -> None:
    await FsspecStorage("s3", s3_bucket, s3_server.options, egress=None).check_reachable()
    await FsspecStorage("s3", f"{s3_bucket}/not/yet/used", s3_server.options, egress=None).check_reachable()
    await FsspecStorage("s3", f"s3://{s3_bucket}/prefix/", s3_server.options, egress=None).check_reachable()
    assert FsspecStorage("s3", f"/{s3_bucket}/prefix/", s3_server.options, egress=None).root == f"{s3_bucket}/prefix"


async def test_a_missing_bucket(s3_server: S3Server) -> None:
    reason = await _reason(FsspecStorage("s3", "no-such-bucket/docs", s3_server.options, egress=None))
    assert "bucket 'no-such-bucket' does not exist" in reason


async def test_a_wrong_secret(s3_server: S3Server, s3_bucket: str) -> None:
    options = {**s3_server.options, "secret": "not-the-secret"}
    reason = await _reason(FsspecStorage("s3", s3_bucket, options, egress=None))
    assert "access denied" in reason and "signature" in reason.lower()


async def test_an_unknown_access_key(s3_server: S3Server, s3_bucket: str) -> None:
    options = {**s3_server.options, "key": "nobody"}
    assert "access denied" in await _reason(FsspecStorage("s3", s3_bucket, options, egress=None))


async def test_a_prefix_that_is_an_object(s3_server: S3Server, s3_bucket: str) -> None:
    s3_server.filesystem().pipe_file(f"{s3_bucket}/docs", b"a file, not a folder")
    assert "not a folder" in await _reason(FsspecStorage("s3", f"{s3_bucket}/docs", s3_server.options, egress=None))


async def test_an_endpoint_that_does_not_answer_in_time() -> None:
    # s3fs keeps retrying a refused connection for about 15 s: the check gives up earlier.
    options = {"endpoint_url": "http://127.0.0.1:9", "key": "k", "secret": "s"}
    assert "no answer within 1 s" in await _reason(FsspecStorage("s3", "bucket", options, egress=None), timeout_s=1.0)

"""The storage conformance suite's fixture: every test runs on each backend (a local folder,
S3 on a real SeaweedFS, fsspec's memory filesystem), through the same FsspecStorage API.

A Backend also reaches the same bytes directly, as someone outside wopi-proxy would: to put
files in place, to look at what is stored, to find leftovers.
"""

from __future__ import annotations

import posixpath
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import pytest

from shared.storage import FsspecStorage
from tests.support.s3 import S3Server, s3_bucket, s3_server  # noqa: F401  (fixtures)


@dataclass
class Backend:
    kind: str  # "local" | "s3" | "memory"
    storage: FsspecStorage
    fs: Any  # direct access to the same filesystem
    root: str
    bucket: str = ""

    def full(self, path: str) -> str:
        return posixpath.join(self.root, path)

    def put(self, path: str, data: bytes) -> None:
        if self.kind == "local":
            self.fs.makedirs(posixpath.dirname(self.full(path)), exist_ok=True)
        self.fs.pipe_file(self.full(path), data)

    def get(self, path: str) -> bytes:
        return bytes(self.fs.cat_file(self.full(path)))

    def names(self) -> list[str]:
        """Every stored file under the root, relative to it."""
        prefix = self.root.rstrip("/") + "/"
        return sorted(name[len(prefix):] for name in self.fs.find(self.root) if name.startswith(prefix))

    def pending_uploads(self) -> list[str]:
        """Multipart uploads started and neither completed nor aborted (S3 only)."""
        if self.kind != "s3":
            return []
        reply = self.fs.call_s3("list_multipart_uploads", Bucket=self.bucket)
        return [upload["Key"] for upload in reply.get("Uploads", [])]


def _local(tmp_path: Path) -> Backend:
    root = tmp_path / "root"
    root.mkdir()
    return Backend("local", FsspecStorage("file", str(root), egress=None), fsspec.filesystem("file"), str(root))


def _memory() -> Backend:
    fs = fsspec.filesystem("memory")
    root = f"/wopi-test-{secrets.token_hex(6)}"
    fs.mkdir(root)
    return Backend("memory", FsspecStorage("memory", root, egress=None), fs, root)


def _s3(server: S3Server, bucket: str) -> Backend:
    root = f"{bucket}/tenants/acme"  # a prefix inside the bucket, as deployments use them
    return Backend("s3", FsspecStorage("s3", root, server.options, egress=None), server.filesystem(), root, bucket)


@pytest.fixture(params=["local", "s3", "memory"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "local":
        yield _local(tmp_path)
    elif request.param == "memory":
        made = _memory()
        yield made
        made.fs.rm(made.root, recursive=True)
    else:
        # Looked up here, not declared: a run without S3 tests never starts SeaweedFS.
        server: S3Server = request.getfixturevalue("s3_server")
        yield _s3(server, request.getfixturevalue("s3_bucket"))

"""PutFile under stress: dropped connections, size limits, chunked bodies. Nothing is ever lost."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from shared.storage.fsspec_storage import STAGE_BLOCK_SIZE
from tests.support.api import LOCK, ControlApi, lock, open_file, put
from tests.support.processes import WopiProxyProcess, serve

LIMIT = 4 * 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WopiProxyProcess]:
    """A server whose upload limit is small enough to test cheaply."""
    proc = serve(tmp_path_factory.mktemp("serve-limits"), "--max-file-size", str(LIMIT))
    yield proc
    proc.stop()


def _temp_objects(folder: Path) -> list[Path]:
    return list(folder.rglob(".~wopi-*"))


def _wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _start_put(url: str, content_length: int) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port))
    head = (f"POST {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"X-WOPI-Override: PUT\r\nX-WOPI-Lock: {LOCK}\r\nContent-Length: {content_length}\r\n\r\n")
    sock.sendall(head.encode())
    return sock


def test_connection_dropped_mid_body_leaves_old_content_and_no_debris(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "drop.docx", b"precious original")
    lock(http, f)
    sock = _start_put(f.url("/contents"), content_length=3 * STAGE_BLOCK_SIZE)
    sock.sendall(b"x" * (2 * STAGE_BLOCK_SIZE))
    # The edge has written a first block to its temporary object: the drop happens mid-write.
    assert _wait_for(lambda: bool(_temp_objects(f.local_path.parent)))
    sock.close()
    assert _wait_for(lambda: not _temp_objects(f.local_path.parent))
    assert f.local_path.read_bytes() == b"precious original"


def test_file_still_readable_and_writable_after_a_dropped_upload(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "drop2.docx", b"original")
    lock(http, f)
    sock = _start_put(f.url("/contents"), content_length=1000)
    sock.sendall(b"partial")
    sock.close()
    assert http.get(f.url("/contents")).content == b"original"
    assert put(http, f, b"saved").status_code == 200
    assert f.local_path.read_bytes() == b"saved"


def test_declared_body_over_the_limit_is_413_and_changes_nothing(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "big.docx", b"small")
    lock(http, f)
    reply = put(http, f, b"y" * (LIMIT + 1))
    assert reply.status_code == 413
    assert f.local_path.read_bytes() == b"small"
    assert not _temp_objects(f.local_path.parent)


def test_chunked_body_over_the_limit_is_413_and_changes_nothing(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "chunked.docx", b"small")
    lock(http, f)

    def body() -> Iterator[bytes]:  # no Content-Length: the limit must hold while streaming
        for _ in range(LIMIT // 65536 + 2):
            yield b"z" * 65536

    reply = put(http, f, body())
    assert reply.status_code == 413
    assert f.local_path.read_bytes() == b"small"
    assert _wait_for(lambda: not _temp_objects(f.local_path.parent))


def test_body_exactly_at_the_limit_is_saved(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "exact.docx", b"small")
    lock(http, f)
    reply = put(http, f, b"e" * LIMIT)
    assert reply.status_code == 200
    assert f.local_path.stat().st_size == LIMIT

"""Uploads at once (edge/upload_slots.py): each body arriving holds edge memory, so one access token
may send only --max-uploads-per-token bodies at once (429 past it), one tenant only
--max-uploads-per-tenant whatever its tokens (429), and the edge receive only --max-uploads (503
past it), refused before the body is read; every way an upload ends gives its place back, and one
token's or tenant's cap never touches another's uploads."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from shared.storage.fsspec_storage import STAGE_BLOCK_SIZE
from tests.support.api import LOCK, ControlApi, OpenFile, lock, new_tenant, open_file, put
from tests.support.processes import WopiProxyProcess, serve

PER_TOKEN = 2
PER_TENANT = 3
TOTAL = 4
BODY = 1000  # what a held upload declares; it sends HEAD_START bytes, then nothing until finished
HEAD_START = 10


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WopiProxyProcess]:
    proc = serve(tmp_path_factory.mktemp("serve-upload-slots"),
                 "--max-uploads-per-token", str(PER_TOKEN), "--max-uploads-per-tenant", str(PER_TENANT),
                 "--max-uploads", str(TOTAL))
    yield proc
    proc.stop()


class HeldUpload:
    """A PutFile whose body arrives slowly: the edge holds a place for it until it ends."""

    def __init__(self, f: OpenFile, *, length: int = BODY, start: bytes = b"h" * HEAD_START) -> None:
        parts = urlsplit(f.url("/contents"))
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        self.length, self.sent = length, len(start)
        head = (f"POST {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\nX-WOPI-Override: PUT\r\n"
                f"X-WOPI-Lock: {LOCK}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n")
        self.sock.sendall(head.encode() + start)

    def status(self) -> tuple[int, str]:
        """The answer's status and head (read until the server closes or the head is complete)."""
        data = b""
        while b"\r\n\r\n" not in data:
            piece = self.sock.recv(65536)
            if not piece:
                break
            data += piece
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        return int(head.split(" ", 2)[1]), head

    def finish(self) -> int:
        self.sock.sendall(b"f" * (self.length - self.sent))
        code, _ = self.status()
        self.sock.close()
        return code

    def close(self) -> None:
        self.sock.close()


def uploads_in_progress(server: WopiProxyProcess) -> int:
    text = httpx.get(f"{server.http_url}/metrics", timeout=10).text
    return int(float(re.search(r"^wopi_proxy_edge_uploads_in_progress (\S+)$", text, re.M).group(1)))


def refused(server: WopiProxyProcess, cap: str) -> int:
    text = httpx.get(f"{server.http_url}/metrics", timeout=10).text
    pattern = rf'^wopi_proxy_edge_uploads_refused_total\{{cap="{cap}"\}} (\S+)$'
    return int(float(re.search(pattern, text, re.M).group(1)))


def wait_for_uploads(server: WopiProxyProcess, count: int, timeout: float = 20.0) -> None:
    """Until the edge says `count` bodies are arriving (it took their places)."""
    deadline = time.monotonic() + timeout
    while (now := uploads_in_progress(server)) != count:
        assert time.monotonic() < deadline, f"{now} uploads in progress, not {count}:\n{server.log()}"
        time.sleep(0.05)


def hold(server: WopiProxyProcess, f: OpenFile, count: int, already: int = 0) -> list[HeldUpload]:
    held = [HeldUpload(f) for _ in range(count)]
    wait_for_uploads(server, already + count)
    return held


def staging_objects(folder: Path) -> list[Path]:
    return list(folder.rglob(".~wopi-*"))


@pytest.fixture
def two_files(api: ControlApi, tenant, http: httpx.Client) -> tuple[OpenFile, OpenFile]:
    """Two files, each opened for editing and locked: two access tokens."""
    files = (open_file(api, *tenant, "a.docx", b"original a"), open_file(api, *tenant, "b.docx", b"original b"))
    for f in files:
        lock(http, f)
    return files


def test_a_token_past_its_cap_is_refused_429_before_its_body_is_read(
        server: WopiProxyProcess, two_files: tuple[OpenFile, OpenFile], http: httpx.Client) -> None:
    f, _ = two_files
    held = hold(server, f, PER_TOKEN)
    before = refused(server, "token")

    # More than a block: the edge would have written a staging object had it read the body.
    extra = HeldUpload(f, length=4 * STAGE_BLOCK_SIZE, start=b"x" * (STAGE_BLOCK_SIZE + 65536))
    code, head = extra.status()
    extra.close()

    assert code == 429, server.log()
    assert int(re.search(r"(?im)^retry-after: *(\d+)", head).group(1)) >= 1
    assert refused(server, "token") == before + 1
    assert not staging_objects(f.local_path.parent)
    assert f.local_path.read_bytes() == b"original a"
    assert "upload refused before its body was read: an access token already has 2 uploads" in server.log()

    # The held uploads finish normally, and give their places back: the token may upload again.
    assert [u.finish() for u in held] == [200, 200], server.log()
    wait_for_uploads(server, 0)
    assert put(http, f, b"saved after").status_code == 200
    assert f.local_path.read_bytes() == b"saved after"


def test_a_client_gone_mid_body_gives_its_place_back(
        server: WopiProxyProcess, two_files: tuple[OpenFile, OpenFile], http: httpx.Client) -> None:
    f, _ = two_files
    gone, staying = hold(server, f, PER_TOKEN)
    assert put(http, f, b"refused").status_code == 429

    gone.close()  # the editor vanished with its body half sent
    wait_for_uploads(server, 1)

    assert put(http, f, b"accepted").status_code == 200, server.log()
    assert f.local_path.read_bytes() == b"accepted"
    staying.close()
    wait_for_uploads(server, 0)
    assert f.local_path.read_bytes() == b"accepted"


def test_one_tokens_cap_does_not_touch_another_token(
        server: WopiProxyProcess, two_files: tuple[OpenFile, OpenFile], http: httpx.Client) -> None:
    f, other = two_files
    held = hold(server, f, PER_TOKEN)
    assert put(http, f, b"refused").status_code == 429

    assert put(http, other, b"other token saved").status_code == 200, server.log()
    assert other.local_path.read_bytes() == b"other token saved"
    for u in held:
        u.close()
    wait_for_uploads(server, 0)


def test_put_relative_file_shares_the_tokens_cap(
        server: WopiProxyProcess, two_files: tuple[OpenFile, OpenFile], http: httpx.Client) -> None:
    f, _ = two_files
    held = hold(server, f, PER_TOKEN)
    headers = {"X-WOPI-Override": "PUT_RELATIVE", "X-WOPI-SuggestedTarget": ".pdf"}

    reply = http.post(f.url(), content=b"%PDF copy", headers=headers)

    assert reply.status_code == 429, server.log()
    assert reply.json()["error"] == "TOO_MANY_UPLOADS"
    assert not (f.local_path.parent / "a.pdf").exists()
    for u in held:
        u.close()
    wait_for_uploads(server, 0)
    assert http.post(f.url(), content=b"%PDF copy", headers=headers).status_code == 200
    assert (f.local_path.parent / "a.pdf").read_bytes() == b"%PDF copy"


def test_the_edge_past_its_cap_is_refused_503_for_any_token(
        server: WopiProxyProcess, two_files: tuple[OpenFile, OpenFile], other_tenants_file: OpenFile,
        http: httpx.Client) -> None:
    a, b = two_files
    held = hold(server, a, PER_TOKEN) + hold(server, other_tenants_file, PER_TOKEN, already=PER_TOKEN)

    reply = put(http, b, b"refused")  # its tenant holds 2 of its 3: the edge's cap is what refuses it

    assert reply.status_code == 503, server.log()
    assert reply.json()["error"] == "UPLOAD_CAPACITY_REACHED"
    assert int(reply.headers["Retry-After"]) >= 1
    assert b.local_path.read_bytes() == b"original b"
    assert "upload refused before its body was read: the edge already receives 4 uploads" in server.log()
    held[0].close()
    wait_for_uploads(server, TOTAL - 1)
    assert put(http, b, b"saved").status_code == 200, server.log()
    for u in held[1:]:
        u.close()
    wait_for_uploads(server, 0)


@pytest.fixture
def other_tenants_file(api: ControlApi, tmp_path: Path, http: httpx.Client) -> OpenFile:
    f = open_file(api, *new_tenant(api, tmp_path / "other-storage"), "o.docx", b"original o")
    lock(http, f)
    return f


def test_a_tenant_past_its_cap_is_refused_429_whatever_token_it_uses(
        server: WopiProxyProcess, api: ControlApi, tenant, two_files: tuple[OpenFile, OpenFile],
        other_tenants_file: OpenFile, http: httpx.Client) -> None:
    a, b = two_files
    third = open_file(api, *tenant, "c.docx", b"original c")  # a third token of the same tenant
    lock(http, third)
    held = hold(server, a, PER_TOKEN) + hold(server, b, PER_TENANT - PER_TOKEN, already=PER_TOKEN)
    before = refused(server, "tenant")

    reply = put(http, third, b"refused")

    assert reply.status_code == 429, server.log()
    assert reply.json()["error"] == "TOO_MANY_UPLOADS"
    assert "organisation" in reply.json()["message"]
    assert int(reply.headers["Retry-After"]) >= 1
    assert refused(server, "tenant") == before + 1
    assert third.local_path.read_bytes() == b"original c"
    assert "--max-uploads-per-tenant 3" in server.log()

    # The edge's last place is another tenant's to take.
    assert put(http, other_tenants_file, b"other tenant saved").status_code == 200, server.log()
    assert other_tenants_file.local_path.read_bytes() == b"other tenant saved"

    held[0].close()
    wait_for_uploads(server, PER_TENANT - 1)
    assert put(http, third, b"saved").status_code == 200, server.log()
    for u in held[1:]:
        u.close()
    wait_for_uploads(server, 0)

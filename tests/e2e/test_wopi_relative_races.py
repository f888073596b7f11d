"""PutRelativeFile whose body is still arriving when another save takes its name: without
X-WOPI-OverwriteRelativeTarget nothing is ever replaced, whatever the edge saw before the body."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.e2e.test_wopi_save_during_rename import WAIT_S, wait_for_grant
from tests.support.api import ControlApi, OpenFile, open_file, session_pb

UTF7_FREE = "target.docx"  # plain ASCII: its UTF-7 header value is itself


def _save_as_with_body_held(f: OpenFile, headers: dict[str, str], release: threading.Event,
                            replies: dict[str, httpx.Response]) -> threading.Thread:
    def body() -> Iterator[bytes]:
        yield b"slow "
        assert release.wait(WAIT_S)
        yield b"bytes"

    def send() -> None:
        with httpx.Client(timeout=WAIT_S * 2) as client:
            replies["slow"] = client.post(f.url(), content=body(),
                                          headers={"X-WOPI-Override": "PUT_RELATIVE", **headers})

    worker = threading.Thread(target=send)
    worker.start()
    return worker


def _race(api: ControlApi, tenant: tuple[str, Path], http: httpx.Client,
          slow_headers: dict[str, str]) -> tuple[httpx.Response, Path]:
    """The slow save is authorized and reading its body when a fast one creates target.docx."""
    tenant_id, folder = tenant
    f = open_file(api, tenant_id, folder, "source.docx", b"source")
    release, replies = threading.Event(), {}
    worker = _save_as_with_body_held(f, slow_headers, release, replies)
    try:
        wait_for_grant(api, f, "PutRelativeFile")
        fast = http.post(f.url(), content=b"first saved",
                         headers={"X-WOPI-Override": "PUT_RELATIVE", "X-WOPI-RelativeTarget": UTF7_FREE})
        assert fast.status_code == 200, fast.text
    finally:
        release.set()
        worker.join(WAIT_S * 2)
    return replies["slow"], folder


def test_relative_mode_does_not_replace_a_file_created_while_its_body_arrived(
        api: ControlApi, tenant: tuple[str, Path], http: httpx.Client) -> None:
    slow, folder = _race(api, tenant, http, {"X-WOPI-RelativeTarget": UTF7_FREE})
    assert slow.status_code == 409, slow.text
    assert (folder / "target.docx").read_bytes() == b"first saved"
    valid = slow.headers["X-WOPI-ValidRelativeTarget"]
    assert valid != "target.docx" and not (folder / valid).exists()


def test_suggested_mode_takes_another_name_when_its_own_was_taken_while_its_body_arrived(
        api: ControlApi, tenant: tuple[str, Path], http: httpx.Client) -> None:
    slow, folder = _race(api, tenant, http, {"X-WOPI-SuggestedTarget": UTF7_FREE})
    assert slow.status_code == 200, slow.text
    name = slow.json()["Name"]
    assert name != "target.docx"
    assert (folder / "target.docx").read_bytes() == b"first saved"
    assert (folder / name).read_bytes() == b"slow bytes"


def test_a_save_as_whose_session_closes_while_its_body_arrives_is_refused_and_creates_nothing(
        api: ControlApi, tenant: tuple[str, Path], http: httpx.Client) -> None:
    """BeginWrite comes once the body is in: a session closed meanwhile writes nothing and gets no
    new token. (Closed later, between BeginWrite and CommitWrite: tests/scale/test_session_close_during_save.py.)"""
    tenant_id, folder = tenant
    f = open_file(api, tenant_id, folder, "source.docx", b"source")
    release, replies = threading.Event(), {}
    worker = _save_as_with_body_held(f, {"X-WOPI-RelativeTarget": UTF7_FREE}, release, replies)
    try:
        wait_for_grant(api, f, "PutRelativeFile")
        api.call(api.sessions.CloseSession, session_pb.CloseSessionRequest(id=f.session_id))
    finally:
        release.set()
        worker.join(WAIT_S * 2)

    slow = replies["slow"]
    assert slow.status_code == 401, slow.text
    assert sorted(p.name for p in folder.iterdir() if p.name != ".wopi-staging") == ["source.docx"]
    assert not any((folder / ".wopi-staging").rglob("*.*"))  # the staged bytes are gone too

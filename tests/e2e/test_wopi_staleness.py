"""Editors' staleness signals apply whether or not the file is locked (WOPI-NOTES, Collabora's
conflict contract; OnlyOffice sends the same X-LOOL-* header): an editor that holds the lock
cannot silently overwrite a change made to the file in storage since it loaded it."""

from __future__ import annotations

import os

import httpx
import pytest

from tests.support.api import ControlApi, lock, open_file, put


@pytest.mark.parametrize("prefix", ["X-COOL-WOPI-", "X-LOOL-WOPI-"], ids=["collabora", "onlyoffice"])
def test_a_lock_holder_with_a_stale_timestamp_gets_409_1010_not_an_overwrite(
    api: ControlApi, tenant, http: httpx.Client, prefix: str
) -> None:
    """The attack: the file changes in storage (a restore, a sync client) while an editor holds the
    lock; its next save would silently overwrite that change."""
    f = open_file(api, *tenant, "locked.odt", b"original")
    lock(http, f)
    seen = http.get(f.url()).json()["LastModifiedTime"]
    f.local_path.write_bytes(b"changed in storage")
    stat = f.local_path.stat()
    os.utime(f.local_path, (stat.st_atime, stat.st_mtime + 5))  # a later modification time, whatever the clock

    reply = put(http, f, b"the editor's stale save", **{prefix + "Timestamp": seen})

    assert reply.status_code == 409, reply.text
    assert reply.json()["COOLStatusCode"] == 1010
    assert f.local_path.read_bytes() == b"changed in storage"
    copies = [p for p in f.local_path.parent.iterdir() if "(conflict" in p.name]
    assert [p.read_bytes() for p in copies] == [b"the editor's stale save"]


def test_a_lock_holder_with_the_current_timestamp_saves(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "fresh.odt", b"original")
    lock(http, f)
    seen = http.get(f.url()).json()["LastModifiedTime"]
    reply = put(http, f, b"saved", **{"X-COOL-WOPI-Timestamp": seen})
    assert reply.status_code == 200, reply.text
    assert f.local_path.read_bytes() == b"saved"

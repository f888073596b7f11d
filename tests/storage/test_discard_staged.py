"""FsspecStorage.discard_staged: what an abandoned write intent names is removed before the
abandonment, so that a publish still on its way fails instead of landing over a later save
(control/services/write_intents.py settle)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.errors import WopiProxyError
from shared.storage import FsspecStorage


async def _body() -> AsyncIterator[bytes]:
    yield b"late bytes"


async def test_a_discarded_staging_object_can_no_longer_be_published(tmp_path: Path) -> None:
    (tmp_path / "doc.txt").write_bytes(b"later save")
    storage = FsspecStorage("file", str(tmp_path), egress=None)
    staged = await storage.stage("doc.txt", _body(), limit=1 << 20)
    assert staged.temp_path

    assert await storage.discard_staged(staged.temp_path)

    with pytest.raises((OSError, WopiProxyError)):
        await staged.publish("doc.txt")
    assert (tmp_path / "doc.txt").read_bytes() == b"later save"


@pytest.mark.parametrize("name", ["doc.txt", ".wopi-staging/other.tmp", ".wopi-staging/.~wopi-1.txt",
                                  ".wopi-staging/sub/.~wopi-1.tmp", "../.wopi-staging/.~wopi-1.tmp"])
async def test_a_path_that_is_not_one_of_its_staging_objects_is_left_alone(tmp_path: Path, name: str) -> None:
    root = tmp_path / "root"
    target = root / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"keep")
    storage = FsspecStorage("file", str(root), egress=None)

    assert not await storage.discard_staged(str(root) + "/" + name)
    assert target.read_bytes() == b"keep"

"""What every storage backend must do, in the same tests for each (see conftest.Backend)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator

import pytest

from shared.errors import FileNotFound, InvalidArgument, PathOutsideRoot, PayloadTooLarge
from shared.storage import version_object_path
from shared.storage.fsspec_storage import STAGE_BLOCK_SIZE, TEMP_PREFIX, WRITE_BLOCK_SIZE
from tests.storage.conftest import Backend

MiB = 1 << 20


async def _chunks(data: bytes, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


async def _failing_after(data: bytes) -> AsyncIterator[bytes]:
    async for chunk in _chunks(data, MiB):
        yield chunk
    raise ConnectionResetError("the client went away")


async def _read_all(backend: Backend, path: str, chunk_size: int = MiB) -> bytes:
    opened = await backend.storage.open_read(path, chunk_size=chunk_size)
    return b"".join([chunk async for chunk in opened.chunks])


def _leftovers(backend: Backend) -> list[str]:
    temporary = [n for n in backend.names() if n.rsplit("/", 1)[-1].startswith(TEMP_PREFIX)]
    return temporary + backend.pending_uploads()


# -- reading ------------------------------------------------------------------------------------


async def test_stat_gives_size_and_a_fingerprint_that_changes_with_every_write(backend: Backend) -> None:
    backend.put("a.docx", b"one")
    first = await backend.storage.stat("a.docx")
    await backend.storage.write_atomic("a.docx", _chunks(b"three"), limit=MiB)
    second = await backend.storage.stat("a.docx")
    await backend.storage.write_atomic("a.docx", _chunks(b"four!"), limit=MiB)  # same size
    third = await backend.storage.stat("a.docx")

    assert (first.size, second.size, third.size) == (3, 5, 5)
    assert len({first.fingerprint, second.fingerprint, third.fingerprint}) == 3
    assert third.modified > 0


async def test_stat_of_a_missing_file_or_of_a_folder_is_file_not_found(backend: Backend) -> None:
    backend.put("folder/inside.docx", b"x")
    for path in ("missing.docx", "folder"):
        with pytest.raises(FileNotFound):
            await backend.storage.stat(path)
    assert await backend.storage.exists("folder/inside.docx")
    assert not await backend.storage.exists("missing.docx")


async def test_open_read_streams_the_exact_bytes_in_chunks(backend: Backend) -> None:
    data = os.urandom(3 * MiB + 123)
    backend.put("big.bin", data)

    opened = await backend.storage.open_read("big.bin", chunk_size=256 * 1024)
    chunks = [chunk async for chunk in opened.chunks]

    assert b"".join(chunks) == data
    assert opened.stat.size == len(data)
    assert opened.stat == await backend.storage.stat("big.bin")
    assert len(chunks) == 13 and all(len(c) <= 256 * 1024 for c in chunks)
    assert opened.whole is None


async def test_a_file_of_one_chunk_is_read_whole_at_open(backend: Backend) -> None:
    data = os.urandom(256 * 1024)
    backend.put("one.bin", data)

    opened = await backend.storage.open_read("one.bin", chunk_size=len(data))

    assert opened.whole == data
    assert opened.stat == await backend.storage.stat("one.bin")
    assert [chunk async for chunk in opened.chunks] == [data]


async def test_an_empty_file_is_read_whole_as_no_bytes(backend: Backend) -> None:
    backend.put("empty.bin", b"")

    opened = await backend.storage.open_read("empty.bin")

    assert (opened.whole, opened.stat.size) == (b"", 0)
    assert [chunk async for chunk in opened.chunks] == []


async def test_open_read_of_a_missing_file_or_a_folder_is_file_not_found(backend: Backend) -> None:
    backend.put("folder/inside.docx", b"x")
    for path in ("missing.docx", "folder"):
        with pytest.raises(FileNotFound):
            await backend.storage.open_read(path)


async def test_a_read_closed_before_its_first_chunk_releases_the_file(backend: Backend) -> None:
    backend.put("a.docx", b"content")
    opened = await backend.storage.open_read("a.docx")
    await opened.chunks.aclose()  # type: ignore[attr-defined]
    assert [chunk async for chunk in opened.chunks] == []


# -- staged writes ------------------------------------------------------------------------------


async def test_stage_then_publish_replaces_the_file_in_one_step(backend: Backend) -> None:
    backend.put("doc.docx", b"old bytes")
    new = os.urandom(100_000)

    staged = await backend.storage.stage("doc.docx", _chunks(new), limit=MiB)
    assert backend.get("doc.docx") == b"old bytes"  # nothing visible before publish
    await staged.publish("doc.docx")

    assert backend.get("doc.docx") == new
    assert (staged.result.size, staged.result.sha256) == (len(new), hashlib.sha256(new).hexdigest())
    assert _leftovers(backend) == []
    if backend.kind in ("local", "s3"):  # a rename keeps inode and mtime; an S3 copy keeps the ETag
        assert staged.fingerprint == (await backend.storage.stat("doc.docx")).fingerprint


async def test_publish_answers_what_stat_then_says(backend: Backend) -> None:
    """PutFile answers with publish()'s description instead of a stat of its own."""
    backend.put("doc.docx", b"old bytes")
    staged = await backend.storage.stage("doc.docx", _chunks(os.urandom(300_000)), limit=MiB)
    published = await staged.publish("doc.docx")

    assert published == await backend.storage.stat("doc.docx")


async def test_stage_describes_the_target_it_is_about_to_replace(backend: Backend) -> None:
    """stat_target: what the target holds once the bytes are staged (None: no file there)."""
    backend.put("doc.docx", b"old bytes")
    backend.put("folder/inside.docx", b"x")
    before = await backend.storage.stat("doc.docx")

    described = [(await backend.storage.stage(path, _chunks(b"new"), limit=MiB, stat_target=True))
                 for path in ("doc.docx", "missing.docx", "folder")]
    plain = await backend.storage.stage("doc.docx", _chunks(b"new"), limit=MiB)

    assert [staged.target for staged in described] == [before, None, None]
    assert plain.target is None  # not asked for: no stat made
    for staged in [*described, plain]:
        await staged.discard()
    assert _leftovers(backend) == []


async def _recorded(backend: Backend, path: str, data: bytes) -> tuple[str, str]:
    """What the control plane records for a file holding `data`: its SHA-256 and fingerprint."""
    return hashlib.sha256(data).hexdigest(), (await backend.storage.stat(path)).fingerprint


async def test_an_unchanged_body_is_kept_in_memory_and_never_written(backend: Backend) -> None:
    backend.put("doc.docx", b"same bytes")
    recorded = await _recorded(backend, "doc.docx", b"same bytes")
    staged = await backend.storage.stage("doc.docx", _chunks(b"same bytes"), limit=MiB, recorded=recorded)

    assert not staged.written and staged.temp_path is None
    assert _leftovers(backend) == []
    assert (staged.result.size, staged.result.sha256) == (10, recorded[0])
    assert staged.target == await backend.storage.stat("doc.docx")
    await staged.discard()
    assert backend.names() == ["doc.docx"]


async def test_kept_bytes_are_written_when_published_after_all(backend: Backend) -> None:
    """A refused unchanged save still becomes a conflict copy (or a recovery copy)."""
    backend.put("doc.docx", b"same bytes")
    recorded = await _recorded(backend, "doc.docx", b"same bytes")
    staged = await backend.storage.stage("doc.docx", _chunks(b"same bytes"), limit=MiB, recorded=recorded)
    published = await staged.publish("doc (conflict).docx")

    assert backend.get("doc (conflict).docx") == b"same bytes"
    assert published == await backend.storage.stat("doc (conflict).docx")
    assert _leftovers(backend) == []
    await staged.discard()
    assert backend.names() == ["doc (conflict).docx", "doc.docx"]


async def test_only_the_recorded_bytes_over_the_recorded_file_stay_unwritten(backend: Backend) -> None:
    """Other bytes, or the recorded bytes over a file changed since (another fingerprint), are
    staged as usual: they are a real save."""
    backend.put("doc.docx", b"same bytes")
    recorded = await _recorded(backend, "doc.docx", b"same bytes")
    other = await backend.storage.stage("doc.docx", _chunks(b"new bytes!"), limit=MiB, recorded=recorded)
    changed = await backend.storage.stage("doc.docx", _chunks(b"same bytes"), limit=MiB,
                                          recorded=(recorded[0], "another fingerprint"))

    assert other.written and changed.written
    assert len(_leftovers(backend)) == 2
    for staged in (other, changed):
        await staged.discard()
    assert _leftovers(backend) == []


async def test_a_stage_cancelled_after_its_first_block_leaves_nothing(backend: Backend) -> None:
    """A client that goes away after a first block was written (a cancelled request)."""
    backend.put("doc.docx", b"old")
    asked_for_more = asyncio.Event()

    async def stalls_after_two_blocks() -> AsyncIterator[bytes]:
        async for chunk in _chunks(os.urandom(2 * STAGE_BLOCK_SIZE), MiB // 4):
            yield chunk
        asked_for_more.set()  # the first block is written once the second one began
        await asyncio.Event().wait()
        yield b""

    staging = asyncio.create_task(backend.storage.stage("doc.docx", stalls_after_two_blocks(), limit=100 * MiB))
    await asyncio.wait_for(asked_for_more.wait(), 30)
    staging.cancel()
    with pytest.raises(asyncio.CancelledError):
        await staging

    assert backend.names() == ["doc.docx"]
    assert _leftovers(backend) == []
    assert backend.get("doc.docx") == b"old"


async def test_write_creates_missing_folders(backend: Backend) -> None:
    await backend.storage.write_atomic("new/sub/doc.docx", _chunks(b"x"), limit=MiB)
    assert backend.get("new/sub/doc.docx") == b"x"


async def test_a_reader_opened_before_a_save_gets_the_old_bytes_complete(backend: Backend) -> None:
    old, new = os.urandom(6 * MiB), os.urandom(6 * MiB)
    backend.put("doc.bin", old)
    opened = await backend.storage.open_read("doc.bin", chunk_size=64 * 1024)
    first = await opened.chunks.__anext__()

    await backend.storage.write_atomic("doc.bin", _chunks(new), limit=10 * MiB)
    read = first + b"".join([chunk async for chunk in opened.chunks])

    # Local files keep the old inode, memory reads a snapshot, an S3 GET keeps sending the
    # object it started with (S3's promise is only "old or new, never a mix": so is the test's).
    if backend.kind == "s3":
        assert read in (old, new)
    else:
        assert read == old
    assert opened.stat.size == len(old)
    assert backend.get("doc.bin") == new


async def test_readers_during_saves_see_old_or_new_bytes_never_a_mix(backend: Backend) -> None:
    versions = [os.urandom(2 * MiB) for _ in range(3)]
    backend.put("doc.bin", versions[0])
    seen: list[bytes] = []

    async def read_repeatedly() -> None:
        for _ in range(6):
            seen.append(await _read_all(backend, "doc.bin", chunk_size=128 * 1024))

    async def save_each_version() -> None:
        for data in versions[1:]:
            await backend.storage.write_atomic("doc.bin", _chunks(data), limit=10 * MiB)

    await asyncio.gather(read_repeatedly(), save_each_version())
    assert all(data in versions for data in seen)


async def test_discard_leaves_nothing_behind(backend: Backend) -> None:
    backend.put("doc.docx", b"old")
    staged = await backend.storage.stage("doc.docx", _chunks(b"new"), limit=MiB)
    await staged.discard()
    await staged.discard()  # twice is harmless

    assert backend.names() == ["doc.docx"]
    assert backend.get("doc.docx") == b"old"
    with pytest.raises(RuntimeError):
        await staged.publish("doc.docx")


async def test_an_upload_that_fails_midway_leaves_no_object_and_no_multipart_upload(backend: Backend) -> None:
    backend.put("doc.docx", b"old")
    # Past one multipart part, so that S3 has parts to abort.
    with pytest.raises(ConnectionResetError):
        await backend.storage.stage("doc.docx", _failing_after(os.urandom(WRITE_BLOCK_SIZE + MiB)),
                                    limit=100 * MiB)

    assert backend.names() == ["doc.docx"]
    assert _leftovers(backend) == []
    assert backend.get("doc.docx") == b"old"


async def test_a_body_over_the_limit_is_payload_too_large_and_keeps_the_old_file(backend: Backend) -> None:
    backend.put("doc.docx", b"old")
    with pytest.raises(PayloadTooLarge):
        await backend.storage.write_atomic("doc.docx", _chunks(os.urandom(WRITE_BLOCK_SIZE + 2 * MiB), MiB),
                                           limit=WRITE_BLOCK_SIZE + MiB)

    assert backend.get("doc.docx") == b"old"
    assert backend.names() == ["doc.docx"]
    assert _leftovers(backend) == []


async def test_a_staged_write_may_be_published_under_another_name(backend: Backend) -> None:
    backend.put("doc.docx", b"theirs")
    staged = await backend.storage.stage("doc.docx", _chunks(b"mine"), limit=MiB)
    await staged.publish("doc (conflict).docx")

    assert backend.get("doc.docx") == b"theirs"
    assert backend.get("doc (conflict).docx") == b"mine"
    assert _leftovers(backend) == []


# -- copies, moves, deletes ---------------------------------------------------------------------


async def test_keep_copy_keeps_the_bytes_a_later_save_replaces(backend: Backend) -> None:
    backend.put("doc.docx", b"version 1")
    kept = version_object_path("f1", 1)

    assert await backend.storage.keep_copy("doc.docx", kept) is True
    await backend.storage.write_atomic("doc.docx", _chunks(b"version 2"), limit=MiB)
    assert await backend.storage.keep_copy("doc.docx", kept) is True  # replaces an earlier copy

    assert backend.get(kept) == b"version 2"
    await backend.storage.write_atomic("doc.docx", _chunks(b"version 3"), limit=MiB)
    assert backend.get(kept) == b"version 2"
    assert await backend.storage.keep_copy("missing.docx", version_object_path("f2", 1)) is False


async def test_copy_internal_puts_kept_bytes_back(backend: Backend) -> None:
    backend.put("doc.docx", b"version 1")
    await backend.storage.keep_copy("doc.docx", version_object_path("f1", 1))
    await backend.storage.write_atomic("doc.docx", _chunks(b"version 2"), limit=MiB)

    written = await backend.storage.copy_internal(version_object_path("f1", 1), "doc.docx", limit=MiB)

    assert backend.get("doc.docx") == b"version 1"
    assert written.sha256 == hashlib.sha256(b"version 1").hexdigest()


async def test_move_renames_into_new_folders(backend: Backend) -> None:
    backend.put("doc.docx", b"content")
    await backend.storage.move("doc.docx", "archive/2026/doc.docx")

    assert backend.names() == ["archive/2026/doc.docx"]
    assert backend.get("archive/2026/doc.docx") == b"content"
    with pytest.raises(FileNotFound):
        await backend.storage.move("doc.docx", "again.docx")


async def test_move_to_an_internal_name_and_back(backend: Backend) -> None:
    backend.put("doc.docx", b"content")
    kept = version_object_path("f1", 3)
    await backend.storage.move("doc.docx", kept, internal_target=True)
    assert not await backend.storage.exists("doc.docx")
    await backend.storage.move(kept, "doc.docx", internal_source=True)
    assert backend.names() == ["doc.docx"]


async def test_delete_removes_and_ignores_what_is_not_there(backend: Backend) -> None:
    backend.put("doc.docx", b"content")
    await backend.storage.delete("doc.docx")
    await backend.storage.delete("doc.docx")
    assert backend.names() == []


# -- paths --------------------------------------------------------------------------------------

ESCAPES = ["../outside.docx", "a/../../outside.docx", "/etc/passwd", "C:/x.docx"]


@pytest.mark.parametrize("path", ESCAPES)
async def test_paths_that_leave_the_root_are_refused_everywhere(backend: Backend, path: str) -> None:
    storage = backend.storage
    attempts = [
        storage.stat(path), storage.open_read(path), storage.stage(path, _chunks(b"x"), limit=MiB),
        storage.write_atomic(path, _chunks(b"x"), limit=MiB), storage.move(path, "ok.docx"),
        storage.move("ok.docx", path), storage.delete(path),
        storage.keep_copy(path, version_object_path("f", 1)),
    ]
    for attempt in attempts:
        with pytest.raises(PathOutsideRoot):
            await attempt
    assert backend.names() == []


async def test_reserved_names_are_only_for_wopi_proxy_itself(backend: Backend) -> None:
    with pytest.raises(InvalidArgument):
        await backend.storage.write_atomic(".wopi-versions/f/1", _chunks(b"x"), limit=MiB)
    await backend.storage.write_atomic(".wopi-versions/f/1", _chunks(b"x"), limit=MiB, internal=True)
    assert (await backend.storage.stat(".wopi-versions/f/1", internal=True)).size == 1


async def test_the_root_is_reachable(backend: Backend) -> None:
    await backend.storage.check_reachable()

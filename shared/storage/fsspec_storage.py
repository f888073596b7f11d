"""A storage root inside any fsspec filesystem.

fsspec's file API is blocking, so every call runs in a worker thread: the event loop of the
edge and the control plane never waits on a disk or a network round trip.
Writes are staged in a temporary object beside the target and replace it only once complete
(a rename on local disks), so a dropped upload leaves the previous content intact.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import posixpath
import secrets
import shutil
from collections.abc import AsyncIterator, Mapping
from typing import Any

import fsspec

from shared.errors import FileNotFound, PathOutsideRoot, PayloadTooLarge, StorageUnreachable
from shared.storage.base import FileStat, OpenedRead, WriteResult
from shared.storage.paths import normalize_relative_path

log = logging.getLogger(__name__)

TEMP_PREFIX = ".~wopi-"


def _mtime(info: Mapping[str, Any]) -> float:
    """fsspec backends name the modification time differently (local: mtime, s3: LastModified)."""
    for key in ("mtime", "LastModified", "last_modified", "modified", "created"):
        value = info.get(key)
        if value is None:
            continue
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
        try:
            return float(value)
        except (TypeError, ValueError):
            continue
    return 0.0


def _file_stat(info: Mapping[str, Any]) -> FileStat:
    size = int(info.get("size") or 0)
    modified = _mtime(info)
    tag = str(info.get("ETag") or info.get("etag") or info.get("ino") or "")
    fingerprint = hashlib.sha1(f"{size}:{modified!r}:{tag}".encode()).hexdigest()[:12]
    return FileStat(size=size, modified=modified, fingerprint=fingerprint)


class StagedWrite:
    """Bytes written to a temporary object, waiting to become a file (or to be thrown away)."""

    def __init__(self, storage: FsspecStorage, temp: str, result: WriteResult, fingerprint: str) -> None:
        self._storage = storage
        self._temp: str | None = temp
        self.result = result
        # What stat() will say once published where a rename keeps inode and mtime (local
        # disks); a backend that copies on move (S3) gets a new one, which only costs SHA256.
        self.fingerprint = fingerprint

    async def publish(self, path: str, *, internal: bool = False) -> None:
        """Moves the staged bytes to `path`, replacing what was there in one step."""
        if self._temp is None:
            raise RuntimeError("staged write already published or discarded")
        target = self._storage.full_path(path, internal=internal)
        await asyncio.to_thread(self._storage._move_full, self._temp, target)
        self._temp = None

    async def discard(self) -> None:
        if self._temp is not None:
            temp, self._temp = self._temp, None
            await asyncio.shield(asyncio.to_thread(self._storage._remove_quietly, temp))


class FsspecStorage:
    """One storage root. Implements StorageReader and StorageWriter."""

    def __init__(self, protocol: str, root: str, options: Mapping[str, str] | None = None) -> None:
        self.protocol = protocol or "file"
        self.options = dict(options or {})
        try:
            self.fs = fsspec.filesystem(self.protocol, **self.options)
        except (ImportError, ValueError, TypeError) as exc:
            raise StorageUnreachable(root, f"{self.protocol}: {exc}") from exc
        self.local = self.protocol in ("file", "local")
        self.root = os.path.abspath(root) if self.local else root.rstrip("/")

    def full_path(self, path: str, *, internal: bool = False) -> str:
        """Joins a relative path to the root; on local disks also refuses symlinks that leave it."""
        relative = normalize_relative_path(path, internal=internal)
        full = posixpath.join(self.root, relative)
        if self.local:
            real_root = os.path.realpath(self.root)
            real = os.path.realpath(full)
            if os.path.commonpath([real_root, real]) != real_root:
                raise PathOutsideRoot(path)
        return full

    # -- checks ---------------------------------------------------------------------------

    async def check_reachable(self) -> None:
        """Raises StorageUnreachable unless the root exists and is a folder."""
        try:
            info = await asyncio.to_thread(self.fs.info, self.root)
        except FileNotFoundError as exc:
            raise StorageUnreachable(self.root, "root does not exist") from exc
        except Exception as exc:  # any backend failure (network, credentials, ...) is the answer
            raise StorageUnreachable(self.root, f"{type(exc).__name__}: {exc}") from exc
        if info.get("type") != "directory":
            raise StorageUnreachable(self.root, "root is not a folder")

    # -- reading --------------------------------------------------------------------------

    async def stat(self, path: str, *, internal: bool = False) -> FileStat:
        full = self.full_path(path, internal=internal)
        try:
            info = await asyncio.to_thread(self.fs.info, full)
        except FileNotFoundError as exc:
            raise FileNotFound(path) from exc
        if info.get("type") != "file":
            raise FileNotFound(path)
        return _file_stat(info)

    async def exists(self, path: str) -> bool:
        try:
            await self.stat(path)
        except FileNotFound:
            return False
        return True

    async def open_read(self, path: str, *, chunk_size: int = 1 << 20, internal: bool = False) -> OpenedRead:
        """Opens first, then describes what was opened: size and bytes always agree, even when a
        save replaces the file meanwhile."""
        full = self.full_path(path, internal=internal)
        try:
            handle = await asyncio.to_thread(self.fs.open, full, "rb")
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise FileNotFound(path) from exc
        try:
            stat = await asyncio.to_thread(self._handle_stat, handle, full)
        except BaseException:
            await asyncio.shield(asyncio.to_thread(handle.close))
            raise
        return OpenedRead(stat=stat, chunks=self._chunks(handle, chunk_size))

    def _handle_stat(self, handle: Any, full: str) -> FileStat:
        if self.local:
            st = os.fstat(handle.fileno())
            return _file_stat({"size": st.st_size, "mtime": st.st_mtime, "ino": st.st_ino})
        details = getattr(handle, "details", None) or self.fs.info(full)
        return _file_stat(details)

    @staticmethod
    async def _chunks(handle: Any, chunk_size: int) -> AsyncIterator[bytes]:
        try:
            while True:
                chunk = await asyncio.to_thread(handle.read, chunk_size)
                if not chunk:
                    return
                yield chunk
        finally:
            await asyncio.shield(asyncio.to_thread(handle.close))

    # -- writing --------------------------------------------------------------------------

    async def stage(self, path: str, chunks: AsyncIterator[bytes], *, limit: int,
                    internal: bool = False) -> StagedWrite:
        """Streams `chunks` into a temporary object beside `path`; raises PayloadTooLarge past `limit`."""
        full = self.full_path(path, internal=internal)
        folder = posixpath.dirname(full)
        temp = posixpath.join(folder, f"{TEMP_PREFIX}{secrets.token_hex(8)}.tmp")
        digest = hashlib.sha256()
        size = 0
        await asyncio.to_thread(self.fs.makedirs, folder, exist_ok=True)
        handle = await asyncio.to_thread(self.fs.open, temp, "wb")
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(limit)
                digest.update(chunk)
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(self._finish, handle)
            fingerprint = _file_stat(await asyncio.to_thread(self.fs.info, temp)).fingerprint
        except BaseException:
            # Cancellation (the client went away) lands here too: remove the partial object,
            # shielded so that a second cancellation cannot leave it behind.
            await asyncio.shield(asyncio.to_thread(self._discard, handle, temp))
            raise
        return StagedWrite(self, temp, WriteResult(size=size, sha256=digest.hexdigest()), fingerprint)

    async def write_atomic(self, path: str, chunks: AsyncIterator[bytes], *, limit: int,
                           internal: bool = False) -> WriteResult:
        staged = await self.stage(path, chunks, limit=limit, internal=internal)
        try:
            await staged.publish(path, internal=internal)
        finally:
            await staged.discard()
        return staged.result

    async def keep_copy(self, path: str, copy_path: str) -> bool:
        """Keeps the current bytes of `path` at `copy_path` (a hard link on local disks, a
        server-side copy elsewhere); False when there is nothing to keep."""
        source = self.full_path(path)
        target = self.full_path(copy_path, internal=True)
        return await asyncio.to_thread(self._keep_copy_full, source, target)

    async def move(self, path: str, new_path: str, *, internal_source: bool = False,
                   internal_target: bool = False) -> None:
        source = self.full_path(path, internal=internal_source)
        target = self.full_path(new_path, internal=internal_target)
        try:
            await asyncio.to_thread(self._move_full, source, target)
        except FileNotFoundError as exc:
            raise FileNotFound(path) from exc

    async def copy_internal(self, source_path: str, target_path: str, *, limit: int) -> WriteResult:
        """Copies kept bytes back into place through a staged write (atomic for readers)."""
        opened = await self.open_read(source_path, internal=True)
        return await self.write_atomic(target_path, opened.chunks, limit=limit)

    async def delete(self, path: str, *, internal: bool = False) -> None:
        full = self.full_path(path, internal=internal)
        await asyncio.to_thread(self._remove_quietly, full)

    # -- blocking helpers (run in worker threads) ----------------------------------------------

    def _finish(self, handle: Any) -> None:
        """Flushes to stable storage before a rename can make the new content visible."""
        if self.local:
            handle.flush()
            os.fsync(handle.fileno())
        handle.close()

    def _move_full(self, source: str, target: str) -> None:
        self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
        if self.local:
            os.replace(source, target)  # atomic on one filesystem, overwrites
        else:
            self.fs.mv(source, target)

    def _keep_copy_full(self, source: str, target: str) -> bool:
        if not self.fs.exists(source):
            return False
        self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
        self._remove_quietly(target)
        if self.local:
            try:
                os.link(source, target)  # the old inode lives on: no bytes copied
                return True
            except OSError:
                shutil.copy2(source, target)
                return True
        self.fs.copy(source, target)
        return True

    def _discard(self, handle: Any, temp: str) -> None:
        try:
            if handle is not None:
                # Closing a remote (S3) upload would publish it; discard aborts it instead.
                if not self.local and hasattr(handle, "discard"):
                    handle.discard()
                else:
                    handle.close()
        except Exception:  # closing a half-written object may fail; removing it is what matters
            log.debug("closing temporary object failed", exc_info=True)
        self._remove_quietly(temp)

    def _remove_quietly(self, full: str) -> None:
        try:
            if self.fs.exists(full):
                self.fs.rm(full)
        except Exception:
            log.warning("could not remove %s", full, exc_info=True)

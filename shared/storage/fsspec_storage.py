"""A storage root inside any fsspec filesystem.

fsspec's file API is blocking, so every call runs in a worker thread: the event loop of the
edge and the control plane never waits on a disk or a network round trip.
Writes go to a temporary object beside the target and replace it only once complete
(a rename on local disks), so a dropped upload leaves the previous content intact.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import posixpath
import secrets
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

    def full_path(self, path: str) -> str:
        """Joins a relative path to the root; on local disks also refuses symlinks that leave it."""
        relative = normalize_relative_path(path)
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

    async def stat(self, path: str) -> FileStat:
        full = self.full_path(path)
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

    async def open_read(self, path: str, *, chunk_size: int = 1 << 20) -> OpenedRead:
        """Opens first, then describes what was opened: size and bytes always agree, even when a
        save replaces the file meanwhile."""
        full = self.full_path(path)
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

    async def write_atomic(self, path: str, chunks: AsyncIterator[bytes], *, limit: int) -> WriteResult:
        """Streams `chunks` into a temporary object, then swaps it in; raises PayloadTooLarge past `limit`."""
        full = self.full_path(path)
        temp = posixpath.join(posixpath.dirname(full), f"{TEMP_PREFIX}{secrets.token_hex(8)}.tmp")
        digest = hashlib.sha256()
        size = 0
        handle = await asyncio.to_thread(self.fs.open, temp, "wb")
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(limit)
                digest.update(chunk)
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(self._finish, handle)
            handle = None
            await asyncio.to_thread(self.fs.mv, temp, full)
        except BaseException:
            # Cancellation (the client went away) lands here too: remove the partial object,
            # shielded so that a second cancellation cannot leave it behind.
            await asyncio.shield(asyncio.to_thread(self._discard, handle, temp))
            raise
        return WriteResult(size=size, sha256=digest.hexdigest())

    def _finish(self, handle: Any) -> None:
        """Flushes to stable storage before the rename makes the new content visible."""
        if self.local:
            handle.flush()
            os.fsync(handle.fileno())
        handle.close()

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
        try:
            if self.fs.exists(temp):
                self.fs.rm(temp)
        except Exception:
            log.warning("could not remove temporary object %s", temp, exc_info=True)

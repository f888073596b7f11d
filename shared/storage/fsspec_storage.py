"""A storage root inside any fsspec filesystem: a local folder, an S3 bucket/prefix, memory...

fsspec's file API is blocking, so every call runs in a worker thread: the event loop of the
edge and the control plane never waits on a disk or a network round trip. Local files are read
with os calls (shared/storage/local_files.py): bytes already in the page cache are read on the
loop with RWF_NOWAIT, which fails rather than wait for the disk.

The atomic-write protocol. Writes are staged in a temporary object and replace the target only
once complete, so a dropped upload leaves the previous content intact and a reader sees the old
bytes or the new ones, never a mix:
- staging objects are `.wopi-staging/.~wopi-<random>.tmp` at the storage root, where editors
  never see them (names starting with .wopi- are reserved); what a crash leaves there is
  removed by age (sweep_staging, run by the control plane at start and periodically);
- local disks: a temporary file, then at publish fsync and rename (the open files of readers
  keep the old inode: a download started before a save still gets the old bytes, complete); a
  target on another filesystem than the root (a mount below it) gets a copy beside it, flushed,
  then a rename. The fsync waits for the publish: staged bytes that are never published (an
  unchanged save, a refused one) are never forced to disk, and nothing reads a staging object
  after a crash (the write protocol resolves intents from the target, never from staging);
- object stores (S3): the temporary object is streamed as a multipart upload of bounded
  parts, then one server-side copy puts it in place (S3 makes a copy visible at once, whole)
  and the temporary object is deleted. An upload that fails is aborted, leaving no parts.
Folders are prefixes on object stores: there is nothing to create before writing.
A step that changes storage (publish, keep, move, delete) runs to its end even when its caller
is cancelled (an editor that hangs up mid-save): change_in_thread.

The root itself is never created: a missing root (unmounted disk, moved folder) is
StorageUnreachable; folders below it are created as needed. Failures are told apart by errno,
never by message: ENOSPC/EDQUOT is StorageFull, EROFS/EACCES/EPERM on a write StorageReadOnly.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import io
import logging
import os
import posixpath
import secrets
import shutil
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from stat import S_ISDIR, S_ISLNK, S_ISREG
from typing import Any, TypeVar

import fsspec
from fsspec.spec import AbstractBufferedFile

from shared.egress import EgressPolicy
from shared.errors import (
    FileNotFound,
    InvalidFileName,
    PathOutsideRoot,
    PayloadTooLarge,
    StorageFull,
    StorageReadOnly,
    StorageUnreachable,
    WopiProxyError,
)
from shared.storage import confined, s3
from shared.storage.egress import restrict
from shared.storage.local_files import FileChunks, advise_sequential, read_if_small
from shared.storage.base import FileStat, OpenedRead, WriteResult
from shared.storage.options import S3_PROTOCOLS, fsspec_kwargs
from shared.storage.paths import STAGING_FOLDER, normalize_relative_path

log = logging.getLogger(__name__)

S3_CALL_ATTEMPTS = 2  # s3fs's tries of one call (its default 5, each with botocore's own retries)
try:  # connection refused or cut, connect or read timed out: the endpoint, not the request, is at fault
    from botocore.exceptions import ConnectionError as _BotoConnectionError
    from botocore.exceptions import HTTPClientError as _BotoHTTPClientError
    _S3_UNREACHABLE: tuple[type[BaseException], ...] = (_BotoConnectionError, _BotoHTTPClientError)
except ImportError:  # no S3 support installed
    _S3_UNREACHABLE = ()
T = TypeVar("T")

TEMP_PREFIX = ".~wopi-"
# Object stores whose folders are key prefixes (nothing to create, nothing to remove).
PREFIX_FOLDER_PROTOCOLS = S3_PROTOCOLS | {"gs", "gcs", "az", "abfs", "abfss", "adl"}
# Multipart part size of uploads to object stores: the memory an upload holds (about three
# times this, while a part is sent). S3 wants parts of at least 5 MiB and at most 10,000 of
# them: the smallest part size that lets an upload reach its limit.
WRITE_BLOCK_SIZE = 5 << 20
MAX_PARTS = 10_000
# Staging hands the body to its worker thread in blocks of about this size (a received chunk is
# ~64 KiB): one thread hand-off and one event-loop wake-up per block, the SHA-256 taken in the
# thread too (hashlib releases the GIL). An upload holds at most this much on top of what its
# request body buffers (edge.streaming.HIGH_WATER).
STAGE_BLOCK_SIZE = 1 << 20
# Read-ahead of remote files read through fsspec's file objects (not S3: one streamed GET).
READ_BLOCK_SIZE = 4 << 20
REACHABILITY_TIMEOUT_S = 20.0
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
_REFUSED = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def write_block_size(limit: int) -> int:
    """Part size of an upload that may grow to `limit` bytes (whole MiB, at least 5 MiB)."""
    needed = -(-limit // (MAX_PARTS - 1))
    return max(WRITE_BLOCK_SIZE, -(-needed // (1 << 20)) << 20)


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
    etag = info.get("ETag") or info.get("etag")
    # An ETag changes with the content (and, encrypted, with every write): with it the
    # fingerprint survives S3's server-side copies, which keep the ETag but not the time.
    identity = f"{size}:{etag}" if etag else f"{size}:{modified!r}:{info.get('ino') or ''}"
    fingerprint = hashlib.sha1(identity.encode()).hexdigest()[:12]
    return FileStat(size=size, modified=modified, fingerprint=fingerprint)


def _local_stat(st: os.stat_result) -> FileStat:
    """The stat of a local file, as _file_stat describes fsspec's info() of it."""
    return _file_stat({"size": st.st_size, "mtime": st.st_mtime, "ino": st.st_ino})


async def _in_daemon_thread(call: Callable[[], None]) -> None:
    """Runs `call` in a thread of its own that nobody waits for once abandoned: a check that
    gives up on a dead endpoint must not hold the default executor (nor a shutdown) for as
    long as the backend keeps retrying."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def settle(error: BaseException | None) -> None:
        if not done.done():
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)

    def run() -> None:
        error: BaseException | None = None
        try:
            call()
        except BaseException as exc:  # noqa: BLE001  (handed to the awaiting task)
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting any more
            loop.call_soon_threadsafe(settle, error)

    threading.Thread(target=run, name="storage-check", daemon=True).start()
    await done


class _Chunks:
    """The bytes of an open file. Reading to the end, an error, or aclose() releases the file,
    even when no chunk was ever asked for (an async generator would not run its cleanup then).
    With `prefetch`, the next chunk is read (in its thread) while the caller sends this one."""

    def __init__(self, read: Callable[[], Awaitable[bytes]], close: Callable[[], Awaitable[None]], *,
                 prefetch: bool = False) -> None:
        self._read = read
        self._close: Callable[[], Awaitable[None]] | None = close
        self._prefetch = prefetch
        self._next: asyncio.Future[bytes] | None = None

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        if self._close is None:
            raise StopAsyncIteration
        try:
            if self._next is not None:
                # Shielded: a cancelled caller must not cancel a read whose thread keeps the file
                # busy; aclose() waits for it before closing the file.
                chunk = await asyncio.shield(self._next)
                self._next = None
            else:
                chunk = await self._read()
        except BaseException:
            await self.aclose()
            raise
        if not chunk:
            await self.aclose()
            raise StopAsyncIteration
        if self._prefetch:
            self._next = asyncio.ensure_future(self._read())
        return chunk

    async def aclose(self) -> None:
        if self._close is not None:
            close, self._close = self._close, None
            pending, self._next = self._next, None

            async def finish() -> None:
                if pending is not None:  # a read still running in its thread: let it end first
                    with contextlib.suppress(BaseException):
                        await pending
                await close()

            # Shielded: a cancelled download (the client went away) still releases the file.
            await asyncio.shield(finish())


def _read_whole(stat: FileStat, whole: bytes) -> OpenedRead:
    async def once() -> AsyncIterator[bytes]:
        if whole:
            yield whole

    return OpenedRead(stat=stat, chunks=once(), whole=whole)


class _Staging:
    """A staging object being written by FsspecStorage.stage: its blocking steps, each run whole
    in a worker thread (one at a time), and its removal when the write fails."""

    def __init__(self, storage: FsspecStorage, temp: str, block_size: int, target: str | None,
                 recorded: tuple[str, str] | None) -> None:
        self.storage = storage
        self.temp = temp
        self.block_size = block_size
        self.handle: Any = None  # set by the thread that opens it, so that abandon() sees it
        self.digest = hashlib.sha256()
        self._target = target  # described by finish() when set
        self._recorded = recorded
        self.target: FileStat | None = None
        self.kept: list[bytes] | None = None  # the bytes of an unchanged save, not written

    def write(self, block: list[bytes]) -> None:
        self.storage._guard(self._write, block, writing=True)

    def finish(self, block: list[bytes]) -> FileStat | None:
        """The last block; the staged object's description (None: kept in memory, unwritten)."""
        def run() -> FileStat | None:
            whole = self.handle is None and self._recorded is not None  # the body is this one block
            if whole:
                for chunk in block:
                    self.digest.update(chunk)
            if self._target is not None:
                self.target = self.storage._guard(self.storage._stat_full, self._target, writing=False)
            if whole and self.target is not None and (self.digest.hexdigest(), self.target.fingerprint) == self._recorded:
                self.kept = block
                return None
            self._write(block, hashed=whole)
            return self.storage._finish(self.handle, self.temp)
        return self.storage._guard(run, writing=True)  # type: ignore[no-any-return]

    def _write(self, block: list[bytes], *, hashed: bool = False) -> None:
        if self.handle is None:
            self.handle = self.storage._open_for_writing(self.temp, self.block_size)
        for chunk in block:
            if not hashed:
                self.digest.update(chunk)
            self.handle.write(chunk)

    async def abandon(self, running: asyncio.Future[Any] | None) -> None:
        if running is not None and not running.done():  # a thread still writing: let it end first
            with contextlib.suppress(BaseException):
                await running
        await asyncio.to_thread(self.storage._discard, self.handle, self.temp)


class StagedWrite:
    """Bytes written to a temporary object, waiting to become a file (or to be thrown away)."""

    def __init__(self, storage: FsspecStorage, temp: str, result: WriteResult, fingerprint: str, *,
                 kept: list[bytes] | None = None) -> None:
        self._storage = storage
        self._temp: str | None = temp
        self.result = result
        # What stat() will say once published: a rename keeps inode and mtime (local disks),
        # an S3 copy keeps the ETag. A backend that keeps neither costs only CheckFileInfo's SHA256.
        # Empty for bytes kept in memory (unknown until written: the write protocol then compares
        # size and SHA-256).
        self.fingerprint = fingerprint
        # stage(stat_target=True): what the target held once the bytes were staged (None: no file).
        self.target: FileStat | None = None
        # stage(recorded=...): an unchanged save's bytes, not written unless published after all.
        self._kept = kept

    @property
    def temp_path(self) -> str | None:
        """The temporary object, while staged (for write intents' records); None when the bytes
        are kept in memory (no object) or gone."""
        return None if self._kept is not None else self._temp

    @property
    def written(self) -> bool:
        """False for the bytes of an unchanged save kept in memory (stage's `recorded`)."""
        return self._kept is None

    async def publish(self, path: str, *, internal: bool = False) -> FileStat:
        """Moves the staged bytes to `path`, replacing what was there in one step; returns what
        `path` holds then (what stat() says), taken in the same thread call."""
        if self._temp is None:
            raise RuntimeError("staged write already published or discarded")
        target = self._storage.full_path(path, internal=internal)
        if self._kept is not None:  # written now, then published, in the same thread call
            stat: FileStat = await change_in_thread(self._storage._guard, self._storage._publish_kept, self._temp,
                                                    self._kept, target, writing=True)
        else:
            stat = await change_in_thread(self._storage._guard, self._storage._publish_full, self._temp, target,
                                          writing=True)
        self._temp, self._kept = None, None
        return stat

    async def discard(self) -> None:
        if self._kept is not None:  # nothing was written
            self._temp, self._kept = None, None
        if self._temp is not None:
            temp, self._temp = self._temp, None
            await asyncio.shield(asyncio.to_thread(self._storage._remove_quietly, temp))


async def change_in_thread(func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """asyncio.to_thread for a step that changes storage (publish, keep, move, delete). A thread
    cannot be stopped: cancelling its caller (an editor that hangs up mid-save) would let the
    caller go on, and the write protocol's next step (AbandonWrite, whose settle looks at what
    storage holds) run while storage is still changing, then see the old bytes and abandon a
    change that lands a moment later. So the caller waits for the thread either way, and its
    cancellation is raised once the step is done."""
    step = asyncio.ensure_future(asyncio.to_thread(func, *args, **kwargs))
    cancelled = False
    while not step.done():
        try:
            await asyncio.wait((step,))
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        step.exception()  # retrieved: the cancellation is what the caller hears
        raise asyncio.CancelledError
    return step.result()


def _symlink_below(root: str, relative: str) -> bool:
    """Whether a component of `relative` (normalized: no "..", no empty parts) under `root` is a
    symlink. Without one, root/relative cannot resolve outside the root, so full_path's check
    costs an lstat per component below the root instead of realpath's walk over every component
    of both paths (the largest CPU cost of a CheckFileInfo on the edge)."""
    current = root
    for part in relative.split("/"):
        current = current + "/" + part
        try:
            if S_ISLNK(os.lstat(current).st_mode):
                return True
        except FileNotFoundError:  # nothing further down exists either
            return False
        except OSError:  # unreadable, not a folder...: realpath decides, as before
            return True
    return False


class FsspecStorage:
    """One storage root. Implements StorageReader and StorageWriter.

    `root` is a folder path for local disks, "bucket/prefix" (or "bucket") for S3.
    `options` are the storage's string options (see shared.storage.options).
    `egress`: the policy a tenant's storage is held to (None: the operator's, unrestricted).
    """

    def __init__(self, protocol: str, root: str, options: Mapping[str, str] | None = None, *,
                 egress: EgressPolicy | None, real_root: str | None = None) -> None:
        """`egress`: the policy every connection is held to; None (unrestricted) only for the
        operator's own storages. Required, so that a forgotten argument is a type error rather
        than a storage that reaches anything. `real_root` (local disks): the root as the storage
        policy resolved and checked it; every file reached must lie in it (shared.storage.confined).
        None: the root's own real path at each call (the operator's tools)."""
        self._real_root = real_root
        self.protocol = protocol or "file"
        self.options = dict(options or {})
        kwargs = fsspec_kwargs(self.protocol, self.options)  # InvalidArgument for a malformed option
        if self.protocol in ("file", "local"):
            # fsspec's auto_mkdir would recreate a missing root on the first write.
            kwargs["auto_mkdir"] = False
        if egress is not None:  # EgressRefused for an endpoint the policy refuses
            restrict(self.protocol, root, kwargs, egress)
        # Never in fsspec's own instance cache, which has no bound (shared.storage.instances).
        kwargs["skip_instance_cache"] = True
        if self.protocol in S3_PROTOCOLS:
            kwargs = s3.with_shared_session(kwargs)
            kwargs["config_kwargs"] = {**kwargs.get("config_kwargs", {}),
                                       "http_session_cls": s3.bounded_answers_session()}
        try:
            self.fs = fsspec.filesystem(self.protocol, **kwargs)
        except (ImportError, ValueError, TypeError) as exc:
            raise StorageUnreachable(root, f"{self.protocol}: {exc}") from exc
        self.local = self.protocol in ("file", "local")
        self.s3 = self.protocol in S3_PROTOCOLS
        if self.s3:  # botocore retries already (shared.storage.options): s3fs adds one try of its own
            self.fs.retries = S3_CALL_ATTEMPTS
        self.prefix_folders = self.protocol in PREFIX_FOLDER_PROTOCOLS
        if self.local:
            self.root = os.path.abspath(root)
        else:
            self.root = self.fs._strip_protocol(root).rstrip("/")
            if self.prefix_folders:  # "bucket/prefix", however it was written
                self.root = self.root.lstrip("/")

    def _confinement(self) -> str:
        """The folder every local call must stay in (see __init__'s real_root)."""
        return self._real_root or os.path.realpath(self.root)

    def _shown(self, full: str) -> str:
        """A full path as the storage's user may see it (relative to the root)."""
        return full[len(self.root) + 1:] if full.startswith(self.root + "/") else posixpath.basename(full)

    def full_path(self, path: str, *, internal: bool = False) -> str:
        """Joins a relative path to the root; on local disks also refuses symlinks that leave it."""
        relative = normalize_relative_path(path, internal=internal)
        full = posixpath.join(self.root, relative)
        if self.local and _symlink_below(self.root, relative):
            real_root = os.path.realpath(self.root)
            real = os.path.realpath(full)
            if os.path.commonpath([real_root, real]) != real_root:
                raise PathOutsideRoot(path)
        return full

    # -- checks ---------------------------------------------------------------------------

    async def check_reachable(self, *, timeout_s: float = REACHABILITY_TIMEOUT_S) -> None:
        """Raises StorageUnreachable, with the cause, unless the root can be used.

        A local or memory root must exist and be a folder. An S3 root needs a reachable
        endpoint, valid credentials, an existing bucket and the right to list it; its prefix
        may be empty (it comes into being with the first file).
        """
        try:
            await asyncio.wait_for(_in_daemon_thread(self._check_reachable), timeout_s)
        except TimeoutError:
            # s3fs retries a dead endpoint for a while: say so rather than keep the caller waiting.
            raise StorageUnreachable(self.root, f"no answer within {timeout_s:g} s") from None

    def _check_reachable(self) -> None:
        if self.s3:
            s3.check_bucket_root(self.fs, self.root)
            return
        bucket = self.root.partition("/")[0]
        try:
            info = self.fs.info(self.root)
        except FileNotFoundError as exc:
            if not self.prefix_folders:
                raise StorageUnreachable(self.root, "root does not exist") from exc
            # An object store's empty prefix is a folder to be: only its bucket must exist.
            info = {"type": "directory"} if bucket != self.root and self.fs.exists(bucket) else {}
            if not info:
                raise StorageUnreachable(self.root, f"bucket {bucket!r} does not exist") from exc
        except PermissionError as exc:
            raise StorageUnreachable(self.root, f"access denied: {exc}") from exc
        except Exception as exc:  # any backend failure (network, credentials, ...) is the answer
            raise StorageUnreachable(self.root, f"{type(exc).__name__}: {exc}") from exc
        if info.get("type") != "directory":
            raise StorageUnreachable(self.root, "root is not a folder")

    # -- reading --------------------------------------------------------------------------

    async def stat(self, path: str, *, internal: bool = False) -> FileStat:
        info = await self._info(path, internal=internal)
        if info is None or info.get("type") != "file":
            raise FileNotFound(path)
        return _file_stat(info)

    async def kind(self, path: str, *, internal: bool = False) -> str | None:
        """"file", "folder" or None (nothing there): a name taken by a folder is taken too."""
        info = await self._info(path, internal=internal)
        if info is None:
            return None
        return "folder" if info.get("type") == "directory" else "file"

    async def _info(self, path: str, *, internal: bool) -> Mapping[str, Any] | None:
        try:
            if self.local:
                # The path's symlink check (an lstat per component below the root) and one stat, on
                # the loop: metadata is nearly always cached, and a thread hand-off cost more than both.
                return self._guard(self._local_info, path, internal, writing=False)  # type: ignore[no-any-return]
            full = self.full_path(path, internal=internal)
            return await asyncio.to_thread(self._guard, self.fs.info, full, writing=False)
        except FileNotFoundError:
            return None

    def _local_info(self, path: str, internal: bool) -> Mapping[str, Any]:
        """The fields of fs.info() used here, from one os.stat (fsspec's path handling cost more
        than the stat itself); symlinks followed, as fs.info() follows them."""
        fd = confined.open_within(self.full_path(path, internal=internal), os.O_PATH, self._confinement(), path)
        try:
            st = os.fstat(fd)
        finally:
            os.close(fd)
        kind = "directory" if S_ISDIR(st.st_mode) else "file" if S_ISREG(st.st_mode) else "other"
        return {"type": kind, "size": st.st_size, "mtime": st.st_mtime, "ino": st.st_ino}

    async def exists(self, path: str) -> bool:
        try:
            await self.stat(path)
        except FileNotFound:
            return False
        return True

    async def open_read(self, path: str, *, chunk_size: int = 1 << 20, internal: bool = False) -> OpenedRead:
        """Opens first, then describes what was opened: size and bytes always agree, even when a
        save replaces the file meanwhile. A file of at most `chunk_size` bytes is read whole and
        released in the same step (OpenedRead.whole): one hand-off to a worker thread (one trip
        to s3fs's loop) for the whole download."""
        try:
            if self.s3:
                stream = await s3.ObjectStream.open(self.fs, self.full_path(path, internal=internal),
                                                    whole_up_to=chunk_size)
                if stream.whole is not None:
                    return _read_whole(_file_stat(stream.info), stream.whole)
                return OpenedRead(stat=_file_stat(stream.info),
                                  chunks=_Chunks(lambda: stream.read(chunk_size), stream.close))
            if self.local:
                # The path's symlink check (lstat()s) runs in the worker thread too.
                stat, whole, file = await asyncio.to_thread(self._guard, self._open_local, path, internal,
                                                            chunk_size, writing=False)
                if whole is not None:
                    return _read_whole(stat, whole)
                return OpenedRead(stat=stat, chunks=FileChunks(file, chunk_size))
            full = self.full_path(path, internal=internal)
            stat, whole, handle = await asyncio.to_thread(self._guard, self._open_blocking, full, chunk_size,
                                                          writing=False)
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise FileNotFound(path) from exc
        if whole is not None:
            return _read_whole(stat, whole)
        return OpenedRead(stat=stat, chunks=_Chunks(lambda: asyncio.to_thread(handle.read, chunk_size),
                                                    lambda: asyncio.to_thread(handle.close), prefetch=True))

    def _open_local(self, path: str, internal: bool, chunk_size: int) -> tuple[FileStat, bytes | None, Any]:
        """os calls, not fsspec's file objects (whose path handling cost more than the read): the
        bytes when the file fits in one chunk (the descriptor closed), else the open file (a
        FileIO: if the caller was cancelled meanwhile, the garbage collector closes it)."""
        full = self.full_path(path, internal=internal)
        # O_NONBLOCK: a FIFO someone left in the folder cannot hold the thread in open(); reads of
        # regular files ignore the flag.
        fd = confined.open_within(full, os.O_RDONLY | os.O_NONBLOCK, self._confinement(), path)
        try:
            st, whole = read_if_small(fd, chunk_size)
        except BaseException:
            os.close(fd)
            raise
        if whole is not None:
            os.close(fd)
            file = None
        else:
            advise_sequential(fd)
            file = open(fd, "rb", buffering=0)  # FileChunks closes it
        # The same fields as fs.info() gives stat(): CheckFileInfo's version and GetFile's agree.
        return _file_stat({"size": st.st_size, "mtime": st.st_mtime, "ino": st.st_ino}), whole, file

    def _open_blocking(self, full: str, chunk_size: int) -> tuple[FileStat, bytes | None, Any]:
        if self.protocol == "memory":
            # fsspec's memory files are shared objects with one position: read a snapshot.
            info = self.fs.info(full)
            if info.get("type") != "file":
                raise IsADirectoryError(full)
            data = bytes(self.fs.cat_file(full))
            stat = _file_stat({**info, "size": len(data)})
            return (stat, data, None) if len(data) <= chunk_size else (stat, None, io.BytesIO(data))
        handle = self.fs.open(full, "rb", block_size=READ_BLOCK_SIZE)
        try:
            details = getattr(handle, "details", None) or self.fs.info(full)
            if details.get("type", "file") != "file":
                raise IsADirectoryError(full)
            return _file_stat(details), None, handle
        except BaseException:
            handle.close()
            raise

    # -- writing --------------------------------------------------------------------------

    async def stage(self, path: str, chunks: AsyncIterator[bytes], *, limit: int, internal: bool = False,
                    stat_target: bool = False, recorded: tuple[str, str] | None = None) -> StagedWrite:
        """Streams `chunks` into a temporary object beside `path`; raises PayloadTooLarge past `limit`.

        The chunks go to the worker thread in blocks of STAGE_BLOCK_SIZE (the object is opened
        with the first): a 1 MiB body is opened, written, hashed and closed in one thread call.
        With `stat_target`, that call also describes what `path` holds then (StagedWrite.target).
        `recorded` is the (sha256, fingerprint) recorded for `path`: a body of one block with that
        SHA-256, over a target with that fingerprint (an unchanged save: the write protocol
        publishes nothing), is kept in memory instead of written; publish() writes it after all."""
        target = self.full_path(path, internal=internal)  # refuses a bad target before any byte is stored
        staging = _Staging(self, posixpath.join(self.root, STAGING_FOLDER, f"{TEMP_PREFIX}{secrets.token_hex(8)}.tmp"),
                           write_block_size(limit), target if stat_target or recorded else None, recorded)
        loop = asyncio.get_running_loop()
        running: asyncio.Future[Any] | None = None
        block: list[bytes] = []
        block_size = size = 0
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(limit)
                if block and block_size + len(chunk) > STAGE_BLOCK_SIZE:
                    running = loop.run_in_executor(None, staging.write, block)
                    await asyncio.shield(running)
                    block, block_size = [], 0
                block.append(chunk)
                block_size += len(chunk)
            running = loop.run_in_executor(None, staging.finish, block)
            stat: FileStat | None = await asyncio.shield(running)
        except BaseException:
            # Cancellation (the client went away) lands here too: remove the partial object once
            # the thread's call (if any) is over, shielded so that a second cancellation cannot
            # leave it behind.
            await asyncio.shield(staging.abandon(running))
            raise
        staged = StagedWrite(self, staging.temp, WriteResult(size=size, sha256=staging.digest.hexdigest()),
                             stat.fingerprint if stat is not None else "", kept=staging.kept)
        staged.target = staging.target
        return staged

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
        server-side copy on S3); False when there is nothing to keep."""
        source = self.full_path(path)
        target = self.full_path(copy_path, internal=True)
        return await change_in_thread(self._guard, self._keep_copy_full, source, target, writing=True)

    async def move(self, path: str, new_path: str, *, internal_source: bool = False,
                   internal_target: bool = False) -> None:
        source = self.full_path(path, internal=internal_source)
        target = self.full_path(new_path, internal=internal_target)
        try:
            await change_in_thread(self._guard, self._move_full, source, target, writing=True)
        except FileNotFoundError as exc:
            raise FileNotFound(path) from exc

    async def copy_internal(self, source_path: str, target_path: str, *, limit: int) -> WriteResult:
        """Copies kept bytes back into place through a staged write (atomic for readers)."""
        opened = await self.open_read(source_path, internal=True)
        return await self.write_atomic(target_path, opened.chunks, limit=limit)

    async def delete(self, path: str, *, internal: bool = False) -> None:
        full = self.full_path(path, internal=internal)
        await change_in_thread(self._remove_quietly, full)

    # -- blocking helpers (run in worker threads) ----------------------------------------------

    def _makedirs(self, folder: str) -> None:
        # Not on object stores: folders are prefixes there, and s3fs's makedirs would even
        # create a missing bucket instead of failing. Never the root: a missing root is an
        # unmounted disk or a moved folder, and recreating it would hide the files elsewhere.
        if not self.prefix_folders:
            problem = self._root_problem()
            if problem:
                raise StorageUnreachable(self.root, problem)
            if self.local:  # each folder made in its checked parent (shared.storage.confined)
                confined.makedirs(folder, self._confinement(), self._shown(folder))
            else:
                self.fs.makedirs(folder, exist_ok=True)

    def _root_problem(self) -> str | None:
        """Why the root cannot hold files (None: it can, or it is an object store's prefix)."""
        if self.prefix_folders:
            return None
        try:
            info = self.fs.info(self.root)
        except FileNotFoundError:
            return "root does not exist"
        except PermissionError:
            return "root cannot be read (access denied)"
        return None if info.get("type") == "directory" else "root is not a folder"

    def _guard(self, call: Callable[..., Any], *args: Any, writing: bool) -> Any:
        """Runs a blocking storage call; OS errors that say the storage (not the file) is at fault
        become the domain errors naming the storage, by errno."""
        try:
            return call(*args)
        except _S3_UNREACHABLE as exc:  # botocore's own; ConnectTimeoutError is an OSError too
            raise StorageUnreachable(self.root, f"S3 endpoint unreachable ({type(exc).__name__})") from exc
        except OSError as exc:
            error = self._storage_error(exc, writing=writing)
            if error is None:
                raise
            raise error from exc

    def _storage_error(self, exc: OSError, *, writing: bool) -> WopiProxyError | None:
        if exc.errno in _FULL:
            return StorageFull(self.root)
        if exc.errno in _REFUSED or isinstance(exc, PermissionError):
            problem = self._root_problem()
            if problem:
                return StorageUnreachable(self.root, problem)
            if writing:
                return StorageReadOnly(self.root, exc.strerror or type(exc).__name__)
            return StorageUnreachable(self.root, "access denied")
        if exc.errno in (errno.ENOENT, errno.ENOTDIR) or isinstance(exc, (FileNotFoundError, NotADirectoryError)):
            problem = self._root_problem()
            return StorageUnreachable(self.root, problem) if problem else None
        if exc.errno in (errno.EIO, errno.ENODEV, errno.ESTALE, errno.ENXIO):
            return StorageUnreachable(self.root, exc.strerror or "I/O error")
        if exc.errno == errno.ENAMETOOLONG:
            # A backstop: shared.storage.names and paths measure in UTF-8 bytes, but this storage's
            # limits may be lower. Names the file, never the root (the tenant must not see it).
            name = posixpath.basename(str(exc.filename2 or exc.filename or ""))
            return InvalidFileName(name[:64], "the name or its path is longer than the storage allows")
        return None

    def _open_for_writing(self, temp: str, block_size: int) -> Any:
        if self.local:  # a new file in the staging folder the kernel reached, checked (never a symlink)
            root, shown = self._confinement(), STAGING_FOLDER
            try:
                return open(confined.create_exclusive(temp, root, shown), "wb")  # noqa: SIM115  (_finish/_discard)
            except FileNotFoundError:  # the staging folder (or the root) is missing
                self._makedirs(posixpath.dirname(temp))
                return open(confined.create_exclusive(temp, root, shown), "wb")  # noqa: SIM115
        self._makedirs(posixpath.dirname(temp))
        # block_size bounds the memory of an upload: s3fs sends a multipart part each time
        # this much is buffered (its default is 50 MiB).
        return self.fs.open(temp, "wb", block_size=block_size)

    def _finish(self, handle: Any, temp: str) -> FileStat:
        """Closes the staged object (completes the upload on object stores) and describes it.
        Local disks: the fsync waits for the publish (_publish_full)."""
        if self.local:
            handle.flush()
            st = os.fstat(handle.fileno())
            handle.close()
            return _local_stat(st)
        handle.close()
        return _file_stat(self.fs.info(temp))

    def _publish_full(self, temp: str, target: str) -> FileStat:
        """Local disks: the staged bytes reach stable storage before the rename can make them
        visible (fsync through a descriptor of its own: it flushes the file, whichever descriptor
        wrote it). Then the move, and what the target holds."""
        if self.local:
            # Never through a symlink, never blocking on a FIFO someone put in its place.
            descriptor = confined.open_within(temp, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW, self._confinement(),
                                              self._shown(target))
            try:
                if not S_ISREG(os.fstat(descriptor).st_mode):
                    raise StorageUnreachable(self.root, "a staging object was replaced by something not a file")
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            return _local_stat(self._move_full(temp, target))
        self._move_full(temp, target)
        return _file_stat(self.fs.info(target))

    def _publish_kept(self, temp: str, block: list[bytes], target: str) -> FileStat:
        """Bytes kept in memory: written to `temp` first, then published like any staged object."""
        handle = self._open_for_writing(temp, WRITE_BLOCK_SIZE)
        try:
            for chunk in block:
                handle.write(chunk)
            self._finish(handle, temp)
        except BaseException:
            self._discard(handle, temp)
            raise
        try:
            return self._publish_full(temp, target)
        except BaseException:
            self._remove_quietly(temp)
            raise

    def _stat_full(self, full: str) -> FileStat | None:
        """stat() in a worker thread: None when no file is there (nothing, or a folder)."""
        try:
            info = self.fs.info(full)
        except FileNotFoundError:
            return None
        return _file_stat(info) if info.get("type") == "file" else None

    def _move_full(self, source: str, target: str) -> Any:
        """Local disks: returns what the target holds afterwards (an os.stat_result)."""
        if self.local:
            try:
                return self._replace_local(source, target)
            except FileNotFoundError:  # the target's folder is missing (or the source, or the root)
                self._makedirs(posixpath.dirname(target))
                return self._replace_local(source, target)
        self._makedirs(posixpath.dirname(target))
        if self.prefix_folders:
            # A server-side copy: the target switches from the old bytes to the new at once.
            self.fs.cp_file(source, target)
            self._remove_quietly(source)
        else:
            self.fs.mv(source, target)
        return None

    def _replace_local(self, source: str, target: str) -> os.stat_result:
        try:  # atomic on one filesystem, overwrites; in the folders the kernel reached, checked
            return confined.replace(source, target, self._confinement(), self._shown(target))
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            return self._replace_across_filesystems(source, target)

    def _replace_across_filesystems(self, source: str, target: str) -> os.stat_result:
        """A target below a mount point: copied beside it, flushed, then renamed (still atomic);
        every step through checked descriptors, as on one filesystem."""
        beside = posixpath.join(posixpath.dirname(target), f"{TEMP_PREFIX}{secrets.token_hex(8)}.tmp")
        try:
            self._copy_confined(source, beside)
            replaced = confined.replace(beside, target, self._confinement(), self._shown(target))
        except BaseException:
            self._remove_quietly(beside)
            raise
        self._remove_quietly(source)
        return replaced

    async def discard_staged(self, staged_path: str) -> bool:
        """Removes one staging object named by a write intent (its full path), so that a publish
        of it that is still on its way fails instead of landing after its intent was abandoned
        (write_intents.settle). False, and nothing removed, for a path that is not one of this
        storage's staging objects."""
        folder, name = posixpath.split(staged_path)
        if (folder != posixpath.join(self.root, STAGING_FOLDER) or not name.startswith(TEMP_PREFIX)
                or not name.endswith(".tmp") or "/" in name or len(name) > 64):
            return False
        await change_in_thread(self._guard, self._remove_staged, staged_path, writing=True)
        return True

    def _remove_staged(self, full: str) -> None:
        """Gone, or raises: an abandonment must not go ahead while the object may still be published."""
        try:
            if self.local:
                confined.unlink(full, self._confinement(), STAGING_FOLDER)
            else:
                self.fs.rm_file(full)
        except FileNotFoundError:
            pass
        except OSError:
            raise
        except Exception as exc:  # s3fs/botocore errors that are neither OSError nor the endpoint's
            raise StorageUnreachable(self.root, f"could not remove a staging object ({type(exc).__name__})") from exc

    # -- staging objects left by crashes ------------------------------------------------------

    async def sweep_staging(self, *, older_than_s: float, timeout_s: float = REACHABILITY_TIMEOUT_S) -> int:
        """Removes staging objects older than `older_than_s` (what a crash mid-save left);
        returns how many. Younger ones may be saves in progress on some edge."""
        removed: list[int] = [0]

        def sweep() -> None:
            removed[0] = self._sweep_staging(time.time() - older_than_s)

        await asyncio.wait_for(_in_daemon_thread(sweep), timeout_s)
        return removed[0]

    def _sweep_staging(self, cutoff: float) -> int:
        folder = posixpath.join(self.root, STAGING_FOLDER)
        try:
            entries = self.fs.ls(folder, detail=True)
        except (FileNotFoundError, NotADirectoryError):
            return 0
        removed = 0
        for entry in entries:
            name = posixpath.basename(str(entry.get("name", "")).rstrip("/"))
            if name.startswith(TEMP_PREFIX) and entry.get("type") == "file" and _mtime(entry) < cutoff:
                self._remove_quietly(str(entry["name"]))
                removed += 1
        return removed

    def _keep_copy_full(self, source: str, target: str) -> bool:
        if self.local:
            try:
                return self._link(source, target)
            except FileExistsError:  # left by a write that was never confirmed: replaced
                self._remove_quietly(target)
            except FileNotFoundError:
                if not os.path.exists(source):
                    return False
                self._makedirs(posixpath.dirname(target))  # the versions folder is missing
            try:
                return self._link(source, target)
            except FileNotFoundError:
                return False
        self._makedirs(posixpath.dirname(target))
        try:
            self.fs.cp_file(source, target)  # server-side on object stores
        except FileNotFoundError:
            return False
        return True

    def _link(self, source: str, target: str) -> bool:
        """A hard link (the old inode lives on: no bytes copied), or a copy where links fail."""
        try:
            confined.link(source, target, self._confinement(), self._shown(source))
        except (FileExistsError, FileNotFoundError, PathOutsideRoot):
            raise
        except OSError:  # links refused (another filesystem, EPERM): a copy, through checked descriptors too
            self._copy_confined(source, target)
        return True

    def _copy_confined(self, source: str, target: str) -> None:
        root, shown = self._confinement(), self._shown(source)
        src = confined.open_within(source, os.O_RDONLY | os.O_NONBLOCK, root, shown)
        try:
            if not S_ISREG(os.fstat(src).st_mode):
                raise FileNotFoundError(errno.ENOENT, "not a regular file", shown)
            with open(src, "rb", closefd=False) as reader, \
                    open(confined.create_exclusive(target, root, shown), "wb") as writer:
                shutil.copyfileobj(reader, writer, 1 << 20)
                writer.flush()
                os.fsync(writer.fileno())
        finally:
            os.close(src)

    def _discard(self, handle: Any, temp: str) -> None:
        try:
            if handle is None:  # never opened (failed or cancelled before its first block)
                pass
            elif self.local:
                handle.close()
            elif isinstance(handle, AbstractBufferedFile):
                # Closing a remote upload would complete it; discard aborts it (s3fs aborts the
                # multipart upload, so no part is left behind), and marking the file closed
                # keeps its finalizer from completing it later.
                handle.discard()
                handle.closed = True
            else:
                handle.close()
        except Exception:  # closing a half-written object may fail; removing it is what matters
            log.debug("closing temporary object failed", exc_info=True)
        self._remove_quietly(temp)

    def _remove_quietly(self, full: str) -> None:
        try:
            if self.local:  # the file in the folder the kernel reached, checked (a symlink itself, never its target)
                confined.unlink(full, self._confinement(), self._shown(full))
            else:
                self.fs.rm_file(full)
        except FileNotFoundError:
            pass
        except Exception:
            log.warning("could not remove %s", full, exc_info=True)

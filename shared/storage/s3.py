"""What S3 needs beyond fsspec's generic file API (s3fs underneath).

Reads are one streamed GET. s3fs's file objects read in ranged GETs pinned to the object's
ETag (If-Match), so a save that replaces the object during a download would make that
download fail half-way. One GET is a snapshot: S3, and S3-compatible servers such as
SeaweedFS, keep sending the bytes the GET started with, as an open file descriptor does on a
local disk. It also costs one request instead of a HEAD and one GET per block, and memory
stays bounded: aiohttp stops reading the socket while the caller is not asking for bytes.

s3fs runs its coroutines on fsspec's own event loop thread; the calls here are scheduled on
that loop and awaited from the caller's loop, without a worker thread per read.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import inspect
import threading
from collections.abc import Awaitable, Coroutine, Mapping
from typing import Any, TypeVar

from shared.errors import StorageUnreachable

T = TypeVar("T")

_session_lock = threading.Lock()
_session: Any = None

# The largest answer read whole (every answer but a download's bytes: listings, errors, a
# multipart upload's completion). S3's largest, a listing of 1,000 keys, is well under 1 MiB.
MAX_ANSWER_BYTES = 16 << 20
# How long reading one such answer may take in all (botocore bounds each socket read only, so an
# endpoint sending a byte now and then would hold the call for ever).
ANSWER_DEADLINE_S = 60.0


class AnswerTooLarge(OSError):
    """An S3 endpoint's answer passed MAX_ANSWER_BYTES, or ANSWER_DEADLINE_S (errno EIO: the
    storage, not the file, is at fault)."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.EIO, message)


@functools.cache
def bounded_answers_session() -> type:
    """aiobotocore's HTTP session class, reading each answer that is not a download with a cap and
    a deadline. Why: aiobotocore reads such an answer (and any error's) whole into memory before
    botocore parses it, and a tenant's storage may name an endpoint of its own that answers a
    listing with an endless body: one CreateStorage probe would have filled the control plane's
    memory (635 MiB for 200 MiB measured), one WOPI request the edge's."""
    from aiobotocore.httpsession import AIOHTTPSession

    class BoundedAnswers(AIOHTTPSession):  # type: ignore[misc]
        async def send(self, request: Any) -> Any:
            download = request.stream_output
            request.stream_output = True  # the answer's body left unread: read here, bounded
            try:
                response = await super().send(request)
            finally:
                request.stream_output = download
            if not download or response.status_code >= 300:
                response._content = await _read_bounded(response.raw, head=request.method == "HEAD")
            return response

    return BoundedAnswers


async def _read_bounded(raw: Any, *, head: bool) -> bytes:
    """The body of an aiohttp ClientResponse, or AnswerTooLarge (the connection then closed). An
    answer to a HEAD has no body, whatever its Content-Length says (the object's size)."""
    declared = None if head else raw.content_length
    try:
        if declared is not None and declared > MAX_ANSWER_BYTES:
            raise AnswerTooLarge(f"the S3 endpoint's answer declares {declared} bytes, over {MAX_ANSWER_BYTES}")
        body = bytearray()
        try:
            async with asyncio.timeout(ANSWER_DEADLINE_S):
                async for chunk in raw.content.iter_chunked(64 << 10):
                    body += chunk
                    if len(body) > MAX_ANSWER_BYTES:
                        raise AnswerTooLarge(f"the S3 endpoint's answer passed {MAX_ANSWER_BYTES} bytes")
        except TimeoutError:
            raise AnswerTooLarge(f"the S3 endpoint's answer took over {ANSWER_DEADLINE_S:g} s") from None
    except BaseException:
        raw.close()
        raise
    raw.release()
    return bytes(body)


def with_shared_session(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """`kwargs` for S3FileSystem, with the process's one aiobotocore session when they leave it
    nothing to set (no `profile` or other session option): every new session loads botocore's
    service models again, about 12 MiB per S3 storage instance measured, against under 0.5 MiB
    per instance sharing one. What differs between storages is the client's (key, secret,
    endpoint, config); a storage with neither key nor anon resolves the ambient credentials, which
    are the same for every session of the process (and allowed only where the operator allows them:
    control/services/storage_policy.py)."""
    if not set(kwargs) <= _s3filesystem_parameters():
        return dict(kwargs)
    global _session
    with _session_lock:
        if _session is None:
            from aiobotocore.session import AioSession

            _session = AioSession()
        return {**kwargs, "session": _session}


@functools.cache
def _s3filesystem_parameters() -> frozenset[str]:
    """The options S3FileSystem takes itself (anything else it hands to the session it makes),
    with those fsspec's base class takes from it (s3fs passes the listing cache's on; fsspec's
    instance cache reads skip_instance_cache)."""
    from s3fs import S3FileSystem

    own = frozenset(inspect.signature(S3FileSystem.__init__).parameters) - {"self", "args", "kwargs", "session"}
    return own | {"use_listings_cache", "listings_expiry_time", "max_paths", "skip_instance_cache"}


def on_fs_loop(fs: Any, coroutine: Coroutine[Any, Any, T]) -> Awaitable[T]:
    """Runs an s3fs coroutine on the filesystem's loop; cancelling the await cancels it there."""
    return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, fs.loop))


class ObjectStream:
    """One GET of one object: its description (as fs.info() would give it) and its bytes."""

    def __init__(self, fs: Any, response: dict[str, Any]) -> None:
        self._fs = fs
        self._body = response["Body"]
        self.info = {"type": "file", "size": int(response["ContentLength"]),
                     "ETag": response.get("ETag"), "LastModified": response.get("LastModified")}
        # The whole object, when open() was asked to read one this small (the GET is then over).
        self.whole: bytes | None = None

    @classmethod
    async def open(cls, fs: Any, full: str, *, whole_up_to: int = -1) -> ObjectStream:
        """Raises FileNotFoundError (s3fs translates NoSuchKey) when there is no such object.
        An object of at most `whole_up_to` bytes is read whole and released in the same trip to
        s3fs's loop (`whole`): a small download costs one hand-off there instead of four."""
        bucket, key, version = fs.split_path(full)
        if not key:
            raise IsADirectoryError(full)
        extra = {"VersionId": version} if version else {}
        return await on_fs_loop(fs, cls._open(fs, whole_up_to, Bucket=bucket, Key=key, **extra))

    @classmethod
    async def _open(cls, fs: Any, whole_up_to: int, **request: Any) -> ObjectStream:
        stream = cls(fs, await fs._call_s3("get_object", **request))
        size = int(stream.info["size"] or 0)
        if size <= whole_up_to:
            try:
                # One byte more than announced: the read goes on to the end of the body, where
                # aiobotocore checks the Content-Length (a cut connection raises).
                whole = await stream._read(size + 1)
            finally:
                await stream._body.aclose()
            if len(whole) != size:
                raise OSError(f"s3 object {request['Key']!r}: {len(whole)} bytes, {size} announced")
            stream.whole = whole
        return stream

    async def read(self, size: int) -> bytes:
        """Up to `size` bytes, fewer only at the end; b"" once the object is read.

        A connection cut early raises (aiobotocore checks Content-Length at the end): a
        reader never mistakes part of an object for all of it.
        """
        return await on_fs_loop(self._fs, self._read(size))

    async def _read(self, size: int) -> bytes:
        parts: list[bytes] = []
        missing = size
        while missing > 0:
            piece = await self._body.read(missing)
            if not piece:
                break
            parts.append(piece)
            missing -= len(piece)
        return b"".join(parts)

    async def close(self) -> None:
        await on_fs_loop(self._fs, self._body.aclose())


def check_bucket_root(fs: Any, root: str) -> None:
    """Blocking. Lists at most one key under the root: this checks the endpoint, the
    credentials, the bucket and the permission to list in one request whose error names the
    cause. Listing matters beyond the check: without it S3 answers a HEAD of a missing object
    with 403 instead of 404, and a save to a new file would be refused as "access denied".
    An empty prefix is fine: folders exist on S3 only through the objects inside them."""
    bucket, _, prefix = root.partition("/")
    try:
        fs.call_s3("list_objects_v2", Bucket=bucket, Prefix=f"{prefix}/" if prefix else "", MaxKeys=1)
    except FileNotFoundError as exc:
        raise StorageUnreachable(root, f"bucket {bucket!r} does not exist") from exc
    except PermissionError as exc:
        raise StorageUnreachable(
            root, f"access denied: {exc} (check the key and the secret, and that they may list and read "
                  f"bucket {bucket!r})") from exc
    except Exception as exc:  # endpoint down, TLS, DNS...: the backend's words are the answer
        raise StorageUnreachable(root, f"{type(exc).__name__}: {exc}") from exc
    if prefix:
        try:
            info = fs.info(root)
        except FileNotFoundError:
            return
        if info.get("type") != "directory":
            raise StorageUnreachable(root, "the root is an object, not a folder (prefix)")

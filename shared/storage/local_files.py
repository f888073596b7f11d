"""Reading a local file for a download: whole when it fits in one chunk, else chunk by chunk.

Both work on an open descriptor (a save replaces the file: the descriptor keeps the old bytes).

Large files are read into one buffer kept for the download and copied out on the event loop:
1 MiB objects made in worker threads and freed on the loop cost glibc's per-thread arenas
about a hundred page faults each, two to three times the CPU of the copy. A chunk already in
the page cache is read on the loop with RWF_NOWAIT (the kernel answers EAGAIN rather than wait
for the disk, so the loop still never waits on one); a chunk that is not is read in a worker
thread, which then asks the kernel to fetch the next one while this one is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import io
import os
from stat import S_ISREG

# Attempts at reading a small file whole while something rewrites it in place (not our saves:
# they replace the file).
SMALL_READ_ATTEMPTS = 3
_NOWAIT: int | None = getattr(os, "RWF_NOWAIT", None)


def read_if_small(fd: int, chunk_size: int) -> tuple[os.stat_result, bytes | None]:
    """The open file's stat and, when it holds at most `chunk_size` bytes, all of them, read from
    offset 0 (the descriptor's position stays there for streaming). None: too large, or it kept
    changing while read (streamed then, as large files are). Raises IsADirectoryError for
    anything but a regular file (a folder, a FIFO, a device)."""
    st = os.fstat(fd)
    for _ in range(SMALL_READ_ATTEMPTS):
        if not S_ISREG(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "not a regular file")
        if st.st_size > chunk_size:
            return st, None
        parts: list[bytes] = []
        size = 0
        while size <= st.st_size:  # one byte more than fstat said: the end must be seen there
            piece = os.pread(fd, st.st_size + 1 - size, size)
            if not piece:
                break
            parts.append(piece)
            size += len(piece)
        after = os.fstat(fd)
        if size == st.st_size and (after.st_size, after.st_mtime_ns, after.st_ctime_ns) == (
                st.st_size, st.st_mtime_ns, st.st_ctime_ns):
            return st, b"".join(parts)
        st = after
    return st, None


def advise_sequential(fd: int) -> None:
    """A larger kernel read-ahead for a file read from start to end (advice: failures ignored)."""
    with contextlib.suppress(OSError, AttributeError):
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)


class FileChunks:
    """The bytes of an open local file from offset 0, `chunk_size` at a time. Reading to the end,
    an error, or aclose() closes the file, even when no chunk was ever asked for."""

    def __init__(self, file: io.FileIO, chunk_size: int) -> None:
        self._file: io.FileIO | None = file
        self._buffer = bytearray(chunk_size)
        self._offset = 0
        self._nowait = _NOWAIT is not None
        self._reading: asyncio.Future[int] | None = None

    def __aiter__(self) -> FileChunks:
        return self

    async def __anext__(self) -> bytes:
        if self._file is None:
            raise StopAsyncIteration
        fd = self._file.fileno()
        try:
            size = self._read_cached(fd)
            if size is None:
                loop = asyncio.get_running_loop()
                self._reading = loop.run_in_executor(None, _read_from_disk, fd, self._buffer, self._offset)
                # Shielded: a cancelled download must not leave a read writing into the buffer
                # with the descriptor closed under it; aclose() waits for the read first.
                size = await asyncio.shield(self._reading)
                self._reading = None
        except BaseException:
            await self.aclose()
            raise
        if size == 0:
            await self.aclose()
            raise StopAsyncIteration
        self._offset += size
        return bytes(memoryview(self._buffer)[:size])

    def _read_cached(self, fd: int) -> int | None:
        """Bytes read into the buffer without waiting for the disk; None: not all in the page
        cache, or a file system that cannot tell (a worker thread reads then)."""
        if not self._nowait:
            return None
        try:
            return os.preadv(fd, [self._buffer], self._offset, _NOWAIT)  # type: ignore[arg-type]
        except BlockingIOError:
            return None
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                raise
            self._nowait = False
            return None

    async def aclose(self) -> None:
        file, self._file = self._file, None
        if file is None:
            return
        reading, self._reading = self._reading, None

        async def finish() -> None:
            if reading is not None:  # a read still running in its thread: let it end first
                with contextlib.suppress(BaseException):
                    await reading
            await asyncio.to_thread(file.close)  # a FUSE mount answers close() over its daemon

        # Shielded: a cancelled download (the client went away) still releases the file.
        await asyncio.shield(finish())


def _read_from_disk(fd: int, buffer: bytearray, offset: int) -> int:
    """In a worker thread: the chunk at `offset`, then the kernel is asked for the next one."""
    size = os.preadv(fd, [buffer], offset)
    if size:
        with contextlib.suppress(OSError):
            os.posix_fadvise(fd, offset + size, len(buffer), os.POSIX_FADV_WILLNEED)
    return size

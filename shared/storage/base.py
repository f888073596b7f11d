"""Storage interfaces, read split from write (a viewer never needs the writer)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class FileStat:
    """What WOPI needs to know about stored bytes without reading them."""

    size: int
    modified: float  # seconds since the epoch
    fingerprint: str  # changes whenever the stored object changes, even outside wopi-proxy


@dataclass(frozen=True)
class OpenedRead:
    """An open file: its description and its bytes (consume or close `chunks`).

    `whole`: the file's bytes when it fitted in one chunk and was read at open (nothing is left
    open then, `chunks` yields them once): a caller may answer with them directly."""

    stat: FileStat
    chunks: AsyncIterator[bytes]
    whole: bytes | None = None


@dataclass(frozen=True)
class WriteResult:
    size: int
    sha256: str


class StorageReader(Protocol):
    async def stat(self, path: str) -> FileStat: ...

    async def open_read(self, path: str, *, chunk_size: int) -> OpenedRead: ...


class StorageWriter(Protocol):
    async def write_atomic(self, path: str, chunks: AsyncIterator[bytes], *, limit: int) -> WriteResult: ...

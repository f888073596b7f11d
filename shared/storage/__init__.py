"""Tenant storage reached through fsspec: path rules, the read/write interfaces, the adapter."""

from shared.storage.base import FileStat, OpenedRead, StorageReader, StorageWriter, WriteResult
from shared.storage.fsspec_storage import FsspecStorage
from shared.storage.paths import normalize_relative_path

__all__ = [
    "FileStat",
    "FsspecStorage",
    "OpenedRead",
    "StorageReader",
    "StorageWriter",
    "WriteResult",
    "normalize_relative_path",
]

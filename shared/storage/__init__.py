"""Tenant storage reached through fsspec: path rules, the read/write interfaces, options, the adapter."""

from shared.storage.base import FileStat, OpenedRead, StorageReader, StorageWriter, WriteResult
from shared.storage.fsspec_storage import FsspecStorage, StagedWrite
from shared.storage.names import check_file_name, numbered, sanitize_file_name
from shared.storage.options import REDACTED, fsspec_kwargs, is_secret_option, redact_options
from shared.storage.paths import normalize_relative_path, version_object_path

__all__ = [
    "REDACTED",
    "FileStat",
    "FsspecStorage",
    "OpenedRead",
    "StagedWrite",
    "StorageReader",
    "StorageWriter",
    "WriteResult",
    "check_file_name",
    "fsspec_kwargs",
    "is_secret_option",
    "normalize_relative_path",
    "numbered",
    "redact_options",
    "sanitize_file_name",
    "version_object_path",
]

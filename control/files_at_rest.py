"""The control plane's own files stay private to its user: the data dir 0700, the SQLite
database 0600 (SQLite gives its -wal and -shm files the main file's mode), the keys 0600.

The database file is made here, 0600, before SQLAlchemy opens it: SQLite would otherwise create
it with the process's umask (often 0644), and its WAL and SHM files after it.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DATA_DIR_MODE = 0o700
FILE_MODE = 0o600


def prepare_data_dir(path: Path) -> None:
    """Creates the data dir 0700, or narrows an existing one that others may enter."""
    path.mkdir(mode=DATA_DIR_MODE, parents=True, exist_ok=True)
    _narrow(path, DATA_DIR_MODE, "data dir")


def prepare_sqlite_file(path: Path | None) -> None:
    """Creates the SQLite database file 0600 (or narrows it and the WAL/SHM files beside it)."""
    if path is None:
        return
    path.parent.mkdir(mode=DATA_DIR_MODE, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if name.exists():
            _narrow(name, FILE_MODE, "database file")


def _narrow(path: Path, mode: int, what: str) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current & ~mode & 0o777:
        log.warning("the %s %s had mode %o: narrowed to %o (it holds keys and secrets)", what, path, current, mode)
        os.chmod(path, current & mode)

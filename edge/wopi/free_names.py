"""The name a WOPI call gives a file it places beside others (PutRelativeFile's suggested name,
RenameFile, a refused save's conflict copy): the asked-for name, else the first numbered one
that nothing in storage holds.

Each name tried is a storage call (a HEAD and a listing on S3), and the folder is the tenant's to
fill: without a cap, a folder of thousands of numbered copies made one request cost thousands of
storage calls. Past MAX_NAME_ATTEMPTS the caller refuses, each with its own WOPI answer."""

from __future__ import annotations

import posixpath
from collections.abc import Collection

from shared.storage import FsspecStorage, numbered

MAX_NAME_ATTEMPTS = 1000


async def free_name(storage: FsspecStorage, folder: str, name: str, *, taken: Collection[str] = (),
                    own: str | None = None) -> str | None:
    """`name`, or the first of 'name (2)', 'name (3)', ... that storage holds nothing at (a folder
    takes a name as much as a file does) and that is not in `taken` (names the control plane
    refused: it knows of a file there that storage may not show yet). `own`, the file's current
    name, counts as free. None when MAX_NAME_ATTEMPTS names are all taken."""
    candidate = name
    for n in range(2, MAX_NAME_ATTEMPTS + 2):
        if candidate == own or (candidate not in taken
                                and await storage.kind(posixpath.join(folder, candidate)) is None):
            return candidate
        candidate = numbered(name, n)
    return None

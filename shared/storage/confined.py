"""Local storage: what a call opens, renames, links or removes is checked where it is, not where a
path said it was a moment before.

A tenant may change the files of its own folder at any time (a sync client, a share), so a
symlink checked harmless can point outside the root by the time a path is used: the storage root
itself, or a folder below it, flipped to the control plane's data dir or to another tenant's
folder between the check and the open. So every local call goes through descriptors: a file is
opened and the folder the kernel actually reached is checked (/proc/self/fd names the open
file's real location); a name is changed through a descriptor of its folder, checked the same
way, and the call acts on that folder (renameat, linkat, unlinkat, openat), whatever its path
names afterwards.

`real_root` is the root as the storage policy resolved and checked it (control.services.
storage_policy.check_open; the edge receives it as the storage's root): a descriptor inside it
is inside what the policy allowed.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from collections.abc import Iterator

from shared.errors import PathOutsideRoot

_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC


def location(fd: int) -> str:
    """Where the open file or folder `fd` is now."""
    return os.readlink(f"/proc/self/fd/{fd}")


def within(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root.rstrip("/") + "/")


def check_within(fd: int, real_root: str, shown: str) -> None:
    """Raises PathOutsideRoot (naming `shown`, never a real path) unless `fd` lies in `real_root`."""
    if not within(location(fd), real_root):
        raise PathOutsideRoot(shown)


def open_within(full: str, flags: int, real_root: str, shown: str, mode: int = 0o666) -> int:
    """os.open, then the check of where the descriptor landed (closed and refused outside)."""
    fd = os.open(full, flags | os.O_CLOEXEC, mode)
    try:
        check_within(fd, real_root, shown)
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def folder_of(full: str, real_root: str, shown: str) -> Iterator[tuple[int, str]]:
    """(a descriptor of `full`'s folder, checked to lie in `real_root`; the last name of `full`)."""
    folder, name = posixpath.split(full)
    fd = open_within(folder, _DIR_FLAGS, real_root, shown)
    try:
        yield fd, name
    finally:
        os.close(fd)


def replace(source: str, target: str, real_root: str, shown: str) -> os.stat_result:
    """os.replace between checked folders; returns what the target holds afterwards (not followed)."""
    with folder_of(source, real_root, shown) as (src_fd, src_name), \
            folder_of(target, real_root, shown) as (dst_fd, dst_name):
        os.replace(src_name, dst_name, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
        return os.stat(dst_name, dir_fd=dst_fd, follow_symlinks=False)


def link(source: str, target: str, real_root: str, shown: str) -> None:
    """A hard link of `source` itself (never what a symlink there points to) between checked folders."""
    with folder_of(source, real_root, shown) as (src_fd, src_name), \
            folder_of(target, real_root, shown) as (dst_fd, dst_name):
        os.link(src_name, dst_name, src_dir_fd=src_fd, dst_dir_fd=dst_fd, follow_symlinks=False)


def unlink(full: str, real_root: str, shown: str) -> None:
    with folder_of(full, real_root, shown) as (fd, name):
        os.unlink(name, dir_fd=fd)


def create_exclusive(full: str, real_root: str, shown: str) -> int:
    """A new file (never an existing one, never through a symlink) in a checked folder, for writing."""
    with folder_of(full, real_root, shown) as (fd, name):
        return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=fd)


def makedirs(full: str, real_root: str, shown: str) -> None:
    """The folder `full` and the missing ones above it, each made in its parent's checked folder
    (mkdirat): a symlink swapped in on the way is followed only while it stays inside the root,
    so no folder is ever made elsewhere. The root itself is never made (its parent is outside)."""
    try:
        os.close(open_within(full, _DIR_FLAGS, real_root, shown))
        return
    except FileNotFoundError:
        pass
    makedirs(posixpath.dirname(full), real_root, shown)
    with folder_of(full, real_root, shown) as (fd, name):
        with contextlib.suppress(FileExistsError):  # made meanwhile by a concurrent save
            os.mkdir(name, 0o777, dir_fd=fd)
    os.close(open_within(full, _DIR_FLAGS, real_root, shown))  # what is there now is inside too


__all__ = ["check_within", "create_exclusive", "folder_of", "link", "location", "makedirs", "open_within", "replace",
           "unlink", "within"]

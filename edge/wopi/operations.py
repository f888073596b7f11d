"""The WOPI operation a request asks for, named as the spec (and the audit) names it, from the
method, the path and X-WOPI-Override alone: metrics and logs label requests with it before (and
whether or not) a handler runs. The names cover exactly the override tables of edge.wopi.routes
(a test checks it); anything else is "unknown", so a label never holds what a client made up."""

from __future__ import annotations

UNKNOWN = "unknown"

# POST /wopi/files/{id}/contents, by X-WOPI-Override (edge.wopi.routes.CONTENTS_OVERRIDES).
CONTENTS_OPERATIONS = {"PUT": "PutFile"}

# POST /wopi/files/{id}, by X-WOPI-Override (edge.wopi.routes.FILE_OVERRIDES).
FILE_OPERATIONS = {
    "LOCK": "Lock",  # "UnlockAndRelock" with X-WOPI-OldLock
    "GET_LOCK": "GetLock",
    "REFRESH_LOCK": "RefreshLock",
    "UNLOCK": "Unlock",
    "PUT_RELATIVE": "PutRelativeFile",
    "RENAME_FILE": "RenameFile",
    "DELETE": "DeleteFile",
    "PUT_USER_INFO": "PutUserInfo",
}

ALL = frozenset({"CheckFileInfo", "GetFile", UNKNOWN, "UnlockAndRelock", *CONTENTS_OPERATIONS.values(),
                 *FILE_OPERATIONS.values()})

PREFIX = "/wopi/"
FILES_PREFIX = "/wopi/files/"


def is_wopi(path: str) -> bool:
    return path.startswith(PREFIX)


def operation_of(method: str, path: str, override: str, *, old_lock: bool = False) -> str:
    """The operation of a request under /wopi/ (one of ALL)."""
    if not path.startswith(FILES_PREFIX):
        return UNKNOWN
    rest = path[len(FILES_PREFIX):].split("/")
    override = override.strip().upper()
    if len(rest) == 1 and rest[0]:
        if method in ("GET", "HEAD"):
            return "CheckFileInfo"
        if method == "POST":
            name = FILE_OPERATIONS.get(override, UNKNOWN)
            return "UnlockAndRelock" if name == "Lock" and old_lock else name
    elif len(rest) == 2 and rest[0] and rest[1] == "contents":
        if method in ("GET", "HEAD"):
            return "GetFile"
        if method == "POST":
            return CONTENTS_OPERATIONS.get(override, UNKNOWN)
    return UNKNOWN

"""WOPI locks (rest/files/lock, getlock, refreshlock, unlock, unlockandrelock) against the real edge.

A lock belongs to the file, not to a session or a user; ids are opaque ASCII strings of up to
1024 characters (SupportsExtendedLockLength) compared exactly; every refusal is a 409 that
carries the current lock in X-WOPI-Lock, the empty string when the file is unlocked.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.support.api import ControlApi, OpenFile, open_file, session_pb

LOCK_A = "lock-A"
LOCK_B = "lock-B"


def _op(http: httpx.Client, f: OpenFile, override: str, **headers: Any) -> httpx.Response:
    """A POST /wopi/files/{id} operation; header names use '_' for '-' (X_WOPI_Lock)."""
    sent = {"X-WOPI-Override": override, **{k.replace("_", "-"): v for k, v in headers.items()}}
    return http.post(f.url(), headers=sent)


def _lock(http: httpx.Client, f: OpenFile, lock_id: Any) -> httpx.Response:
    return _op(http, f, "LOCK", X_WOPI_Lock=lock_id)


def _relock(http: httpx.Client, f: OpenFile, new: Any, old: Any) -> httpx.Response:
    return _op(http, f, "LOCK", X_WOPI_Lock=new, X_WOPI_OldLock=old)


def _current_lock(http: httpx.Client, f: OpenFile) -> str:
    reply = _op(http, f, "GET_LOCK")
    assert reply.status_code == 200, reply.text
    return reply.headers["X-WOPI-Lock"]


def _locked_file(
    api: ControlApi, tenant: tuple, http: httpx.Client, name: str, lock_id: str = LOCK_A
) -> OpenFile:
    f = open_file(api, *tenant, name)
    assert _lock(http, f, lock_id).status_code == 200
    return f


# --- Lock -------------------------------------------------------------------------------------


def test_lock_on_an_unlocked_file_succeeds(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "lock.docx")
    assert _lock(http, f, LOCK_A).status_code == 200
    assert _current_lock(http, f) == LOCK_A


def test_lock_with_the_current_id_is_a_refresh(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = _locked_file(api, tenant, http, "relock.docx")
    assert _lock(http, f, LOCK_A).status_code == 200
    assert _current_lock(http, f) == LOCK_A


def test_lock_with_another_id_is_409_with_the_current_lock_and_a_reason(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = _locked_file(api, tenant, http, "taken.docx")
    reply = _lock(http, f, LOCK_B)
    assert reply.status_code == 409
    assert reply.headers["X-WOPI-Lock"] == LOCK_A
    assert reply.headers.get("X-WOPI-LockFailureReason", "").strip()
    assert _current_lock(http, f) == LOCK_A


# --- Unlock / RefreshLock ---------------------------------------------------------------------


def test_unlock_with_the_current_id_releases_the_lock(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = _locked_file(api, tenant, http, "unlock.docx")
    assert _op(http, f, "UNLOCK", X_WOPI_Lock=LOCK_A).status_code == 200
    assert _current_lock(http, f) == ""


def test_unlock_of_an_unlocked_file_is_409_with_an_empty_lock(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "free-unlock.docx")
    reply = _op(http, f, "UNLOCK", X_WOPI_Lock=LOCK_A)
    assert reply.status_code == 409
    assert "X-WOPI-Lock" in reply.headers and reply.headers["X-WOPI-Lock"] == ""


def test_unlock_with_another_id_is_409_and_keeps_the_lock(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = _locked_file(api, tenant, http, "wrong-unlock.docx")
    reply = _op(http, f, "UNLOCK", X_WOPI_Lock=LOCK_B)
    assert reply.status_code == 409
    assert reply.headers["X-WOPI-Lock"] == LOCK_A
    assert _current_lock(http, f) == LOCK_A


def test_refresh_lock_with_the_current_id_succeeds(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = _locked_file(api, tenant, http, "refresh.docx")
    assert _op(http, f, "REFRESH_LOCK", X_WOPI_Lock=LOCK_A).status_code == 200
    assert _current_lock(http, f) == LOCK_A


def test_refresh_lock_of_an_unlocked_file_is_409_with_an_empty_lock(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "free-refresh.docx")
    reply = _op(http, f, "REFRESH_LOCK", X_WOPI_Lock=LOCK_A)
    assert reply.status_code == 409
    assert "X-WOPI-Lock" in reply.headers and reply.headers["X-WOPI-Lock"] == ""
    assert _current_lock(http, f) == ""


def test_refresh_lock_with_another_id_is_409_with_the_current_lock(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = _locked_file(api, tenant, http, "wrong-refresh.docx")
    reply = _op(http, f, "REFRESH_LOCK", X_WOPI_Lock=LOCK_B)
    assert reply.status_code == 409
    assert reply.headers["X-WOPI-Lock"] == LOCK_A


# --- UnlockAndRelock --------------------------------------------------------------------------


def test_unlock_and_relock_swaps_the_lock(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = _locked_file(api, tenant, http, "swap.docx")
    assert _relock(http, f, new=LOCK_B, old=LOCK_A).status_code == 200
    assert _current_lock(http, f) == LOCK_B
    # The old id is gone: it no longer unlocks the file.
    assert _op(http, f, "UNLOCK", X_WOPI_Lock=LOCK_A).status_code == 409


def test_unlock_and_relock_with_a_wrong_old_lock_is_409_with_the_current_lock(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = _locked_file(api, tenant, http, "swap-wrong.docx")
    reply = _relock(http, f, new="lock-C", old=LOCK_B)
    assert reply.status_code == 409
    assert reply.headers["X-WOPI-Lock"] == LOCK_A
    assert _current_lock(http, f) == LOCK_A


def test_unlock_and_relock_of_an_unlocked_file_is_409_with_an_empty_lock(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "swap-free.docx")
    reply = _relock(http, f, new=LOCK_B, old=LOCK_A)
    assert reply.status_code == 409
    assert "X-WOPI-Lock" in reply.headers and reply.headers["X-WOPI-Lock"] == ""
    assert _current_lock(http, f) == ""


# --- GetLock ----------------------------------------------------------------------------------


def test_get_lock_returns_the_current_lock(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = _locked_file(api, tenant, http, "get.docx")
    reply = _op(http, f, "GET_LOCK")
    assert reply.status_code == 200
    assert reply.headers["X-WOPI-Lock"] == LOCK_A


def test_get_lock_of_an_unlocked_file_returns_an_empty_lock(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "get-free.docx")
    reply = _op(http, f, "GET_LOCK")
    assert reply.status_code == 200
    assert "X-WOPI-Lock" in reply.headers and reply.headers["X-WOPI-Lock"] == ""


# --- Lock id format ---------------------------------------------------------------------------


def test_a_lock_id_of_1024_characters_is_accepted(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "long.docx")
    long_id = "L" * 1024
    assert _lock(http, f, long_id).status_code == 200
    assert _current_lock(http, f) == long_id
    assert _op(http, f, "UNLOCK", X_WOPI_Lock=long_id).status_code == 200


def test_a_lock_id_of_1025_characters_is_400_and_leaves_an_unlocked_file_unlocked(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "too-long.docx")
    assert _lock(http, f, "L" * 1025).status_code == 400
    assert _current_lock(http, f) == ""


def test_a_lock_id_of_1025_characters_is_400_and_keeps_the_current_lock(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = _locked_file(api, tenant, http, "too-long-locked.docx")
    assert _relock(http, f, new="L" * 1025, old=LOCK_A).status_code == 400
    assert _op(http, f, "UNLOCK", X_WOPI_Lock="L" * 1025).status_code == 400
    assert _current_lock(http, f) == LOCK_A


def test_a_non_ascii_lock_id_is_400(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "non-ascii.docx")
    assert _lock(http, f, "verrou-é".encode()).status_code == 400
    assert _current_lock(http, f) == ""


def test_lock_without_a_lock_id_is_400(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "no-id.docx")
    assert _op(http, f, "LOCK").status_code == 400
    assert _lock(http, f, "").status_code == 400
    assert _current_lock(http, f) == ""


def test_unlock_and_refresh_without_a_lock_id_are_400(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = _locked_file(api, tenant, http, "no-id-locked.docx")
    assert _op(http, f, "UNLOCK").status_code == 400
    assert _op(http, f, "REFRESH_LOCK").status_code == 400
    assert _current_lock(http, f) == LOCK_A


def test_json_shaped_office_lock_ids_are_compared_exactly(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    # Word for the web locks with {"S":..,"F":4} and later asks again with more fields; a
    # compliant host treats them as different strings (Office-Online-Test-Tools #353).
    first = json.dumps({"S": "5a1b7c2e-0000-4000-8000-000000000001", "F": 4}, separators=(",", ":"))
    second = json.dumps({"S": "5a1b7c2e-0000-4000-8000-000000000001", "F": 6, "E": 2, "M": "m", "P": "p"},
                        separators=(",", ":"))
    f = open_file(api, *tenant, "office.docx")
    assert _lock(http, f, first).status_code == 200
    assert _lock(http, f, first).status_code == 200
    reply = _lock(http, f, second)
    assert reply.status_code == 409
    assert reply.headers["X-WOPI-Lock"] == first
    assert _current_lock(http, f) == first


# --- Versions ---------------------------------------------------------------------------------


def test_lock_operations_answer_the_item_version_without_changing_it(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "version.docx", b"content")
    version = http.get(f.url()).json()["Version"]
    replies = [
        _lock(http, f, LOCK_A),
        _lock(http, f, LOCK_A),
        _op(http, f, "REFRESH_LOCK", X_WOPI_Lock=LOCK_A),
        _relock(http, f, new=LOCK_B, old=LOCK_A),
        _op(http, f, "GET_LOCK"),
        _op(http, f, "UNLOCK", X_WOPI_Lock=LOCK_B),
    ]
    for reply in replies:
        assert reply.status_code == 200, reply.text
        assert reply.headers["X-WOPI-ItemVersion"] == version
    assert http.get(f.url()).json()["Version"] == version


# --- Permissions and sharing ------------------------------------------------------------------


def test_a_view_session_cannot_lock_but_can_get_the_lock(api: ControlApi, tenant, http: httpx.Client) -> None:
    viewer = open_file(api, *tenant, "viewed.docx", permission=session_pb.PERMISSION_VIEW)
    assert _lock(http, viewer, LOCK_A).status_code == 401
    assert _current_lock(http, viewer) == ""


def test_a_view_session_sees_an_editors_lock(api: ControlApi, tenant, http: httpx.Client) -> None:
    editor = _locked_file(api, tenant, http, "shared-view.docx")
    viewer = open_file(api, *tenant, "shared-view.docx", content=None, user_id="u2",
                       permission=session_pb.PERMISSION_VIEW)
    assert _current_lock(http, viewer) == LOCK_A
    assert _op(http, viewer, "UNLOCK", X_WOPI_Lock=LOCK_A).status_code == 401
    assert _current_lock(http, editor) == LOCK_A


def test_a_lock_belongs_to_the_file_not_to_the_session(api: ControlApi, tenant, http: httpx.Client) -> None:
    first = _locked_file(api, tenant, http, "shared.docx")
    second = open_file(api, *tenant, "shared.docx", content=None, user_id="u2")
    assert second.file_id == first.file_id
    assert _current_lock(http, second) == LOCK_A
    reply = _lock(http, second, LOCK_B)
    assert reply.status_code == 409
    assert reply.headers["X-WOPI-Lock"] == LOCK_A


def test_another_session_holding_the_same_lock_id_may_unlock(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    # Co-authoring editors share one lock id across their users' sessions: the id, not the
    # session, is what proves the right to the lock.
    first = _locked_file(api, tenant, http, "coauth.docx")
    second = open_file(api, *tenant, "coauth.docx", content=None, user_id="u2")
    assert _op(http, second, "UNLOCK", X_WOPI_Lock=LOCK_A).status_code == 200
    assert _current_lock(http, first) == ""

"""How `wopi-proxy doctor session` reads a session's audit trail (pure functions, audit records as
ListAuditEvents returns them)."""

from __future__ import annotations

from typing import Any

from cli.doctor_commands import render_findings, render_timeline, save_refusal, summarize, timeline

SESSION = {"id": "ses_1", "tenant_id": "t1", "path": "docs:a.docx", "file_id": "f1", "user_id": "u1",
           "permission": "edit", "editor": "office", "state": "open", "create_time": "2024-05-01T10:00:00.000Z",
           "expire_time": "2024-05-01T20:00:00.000Z", "close_time": ""}


def ev(second: int, operation: str, outcome: str = "ok", status: int = 200, detail: str = "", **more: Any) -> dict:
    return {"time": f"2024-05-01T10:00:{second:02d}.000Z", "operation": operation, "outcome": outcome,
            "status": status, "detail": detail, "size": 0, "version_before": 1, "version_after": 1,
            "correlation_id": more.pop("correlation_id", ""), "actor": "user:u1", **more}


def test_a_put_file_grant_is_folded_into_the_write_it_led_to() -> None:
    rows = timeline([ev(1, "PutFile", status=0, correlation_id="c"),
                     ev(2, "PutFile", correlation_id="c", size=5, version_before=1, version_after=2)], SESSION)
    assert [r["status"] for r in rows] == [200]
    [line] = render_timeline(rows)
    assert "v1->v2" in line and "5 B" in line


def test_a_get_file_grant_stays() -> None:
    assert len(timeline([ev(1, "GetFile", status=0), ev(2, "Unlock")], SESSION)) == 2


def test_an_expired_session_gets_its_expiry_in_the_timeline_and_summary() -> None:
    expired = {**SESSION, "state": "expired", "close_time": "2024-05-01T20:00:00.000Z"}
    rows = timeline([ev(1, "CheckFileInfo", status=0)], expired)
    assert rows[-1]["operation"] == "SessionExpired"
    assert "the session expired at 2024-05-01T20:00:00.000Z" in summarize(rows, expired)


def test_lock_mismatch_saves_are_explained_whether_refused_by_the_control_plane_or_the_edge() -> None:
    rows = timeline([
        ev(1, "PutFile", "conflict", 409, "LOCK_CONFLICT: the file is locked with another lock id"),
        ev(2, "PutFile", "conflict", 409, "refused (the file is locked with another lock id); content kept at "
                                          "a (conflict 2024-05-01 100002 u1).docx"),
    ], SESSION)
    summary = summarize(rows, SESSION)
    assert any(s.startswith("2 saves refused with 409 lock mismatch: the editor lost its lock") for s in summary)
    assert any("1 refused save kept as conflict copies (a (conflict 2024-05-01 100002 u1).docx)" in s
               for s in summary), summary
    assert "no save reached storage in this session" in summary


def test_a_timestamp_conflict_is_told_apart_from_a_lock_mismatch() -> None:
    row = ev(1, "PutFile", "conflict", 409, "refused (the editor last saw 2001-01-01T00:00:00Z, the file is at "
                                            "2024-05-01T09:00:00Z); content kept at a (conflict).docx")
    assert save_refusal(row, "", row["detail"]) == "timestamp"
    assert any("changed in storage" in s for s in summarize([row], SESSION))


def test_proof_failures_point_at_the_clock_or_the_url() -> None:
    rows = [ev(1, "CheckFileInfo", "denied", 500, "PROOF_INVALID: timestamp too old"),
            ev(2, "GetFile", "denied", 500, "PROOF_INVALID: signature does not match the current or old key"),
            ev(3, "GetFile", "denied", 500, "PROOF_INVALID: signature does not match the current or old key")]
    summary = summarize(rows, SESSION)
    assert any(s.startswith("1 request failed the proof check (timestamp too old)") and "NTP" in s for s in summary)
    assert any(s.startswith("2 requests failed the proof check (signature") and "--public-url" in s for s in summary)


def test_too_large_saves_and_dead_tokens_are_explained() -> None:
    rows = [ev(1, "PutFile", "denied", 413, "FILE_TOO_LARGE: 2000000 bytes, the limit is 1000000"),
            ev(2, "CheckFileInfo", "denied", 401, "ACCESS_TOKEN_INVALID: expired")]
    summary = " / ".join(summarize(rows, SESSION))
    assert "refused as too large (413)" in summary and "open the document again" in summary


def test_other_refusals_are_counted_by_operation_and_reason() -> None:
    summary = summarize([ev(1, "PutFile", "denied", 403, "OPERATION_NOT_PERMITTED: view only")] * 2, SESSION)
    assert "2 requests refused: PutFile OPERATION_NOT_PERMITTED" in summary


def test_a_clean_session_says_so() -> None:
    rows = timeline([ev(1, "Lock"), ev(2, "PutFile", size=3, version_before=1, version_after=2), ev(3, "Unlock")],
                    SESSION)
    summary = summarize(rows, SESSION)
    assert summary[0] == "no refused requests and no conflicts" and "1 save written (v1 -> v2, last 3 B)" in summary


def test_findings_print_fixes_for_failures_and_hints_for_advice() -> None:
    lines = render_findings([
        {"check": "clock-skew", "severity": "fail", "summary": "400 s ahead", "detail": "d", "fix": "sync"},
        {"check": "host-allow-list", "severity": "ok", "summary": "Collabora", "detail": "x", "fix": "coolwsd"},
        {"check": "product", "severity": "ok", "summary": "collabora", "detail": "ignored", "fix": ""},
    ])
    assert lines[0].startswith("FAIL  clock-skew") and "      fix: sync" in lines
    assert "      hint: coolwsd" in lines and not any("ignored" in line for line in lines)
    assert lines[-1] == "1 failed, 0 warning(s), 2 ok"

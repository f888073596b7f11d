"""`wopi-proxy doctor editor|session`: diagnosing the usual support cases.

`doctor editor` asks the control plane (DiagnoseEditor: it sees the public URL and fetches from
its own network position) and prints the findings. `doctor session` reads the session and its
audit trail (ListAuditEvents with a session filter) and prints a timeline and what it means;
the reading of the trail is done by the pure functions below, so it is testable without a server.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from urllib.parse import unquote
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from wopiproxy.control.v1 import audit_service_pb2 as audit_pb
from wopiproxy.control.v1 import audit_service_pb2_grpc as audit_grpc
from wopiproxy.control.v1 import editor_service_pb2 as editor_pb
from wopiproxy.control.v1 import session_service_pb2 as session_pb

from cli.audit_commands import event_record
from cli.output import print_json

CALL_TIMEOUT_S = 60  # DiagnoseEditor fetches discovery (15 s limit) before answering
PAGE_SIZE = 1000
MAX_EVENTS = 20_000  # a session's trail; past this the timeline says it is cut
SEVERITY_NAMES = {editor_pb.FINDING_SEVERITY_OK: "ok", editor_pb.FINDING_SEVERITY_WARN: "warn",
                  editor_pb.FINDING_SEVERITY_FAIL: "fail"}
_REASON = re.compile(r"^([A-Z][A-Z0-9_]+): (.*)$", re.DOTALL)


def add_doctor_commands(commands: Any, fmt_parent: argparse.ArgumentParser) -> None:
    doctor = commands.add_parser("doctor", help="diagnose an editor or a session").add_subparsers(
        dest="verb", required=True)
    p = doctor.add_parser("editor", parents=[fmt_parent],
                          help="check an editor from the control plane: discovery, clock, public URL, proof keys; "
                               "exit code 1 when a check fails")
    p.add_argument("name", help="the editor's name (editors list)")
    p.add_argument("--tenant-id", help="the tenant's own editor (default: the shared pool)")
    p.set_defaults(handler=doctor_editor)
    p = doctor.add_parser("session", parents=[fmt_parent],
                          help="a session's timeline from the audit trail, and what went wrong")
    p.add_argument("id", help="the session's id")
    p.add_argument("--tenant-id", help="the session's tenant (with the admin key it narrows the search)")
    p.set_defaults(handler=doctor_session)


# -- doctor editor ------------------------------------------------------------------------------------


def finding_records(reply: editor_pb.DiagnoseEditorResponse) -> list[dict[str, str]]:
    return [{"check": f.check, "severity": SEVERITY_NAMES.get(f.severity, "fail"), "summary": f.summary,
             "detail": f.detail, "fix": f.fix} for f in reply.findings]


def render_findings(findings: Sequence[Mapping[str, str]]) -> list[str]:
    """One line per finding (severity, check, summary); detail and fix indented below the ones
    that need attention; a hint below an ok one when it carries advice."""
    width = max((len(f["check"]) for f in findings), default=0)
    lines: list[str] = []
    for f in findings:
        lines.append(f"{f['severity'].upper():<5} {f['check']:<{width}}  {f['summary']}")
        pad = " " * 6
        if f["severity"] != "ok":
            if f["detail"]:
                lines.append(f"{pad}detail: {f['detail']}")
            if f["fix"]:
                lines.append(f"{pad}fix: {f['fix']}")
        elif f["fix"]:
            lines.append(f"{pad}hint: {f['fix']}")
    counts = Counter(f["severity"] for f in findings)
    lines.append(f"{counts['fail']} failed, {counts['warn']} warning(s), {counts['ok']} ok")
    return lines


def doctor_editor(api: Any, args: argparse.Namespace) -> None:
    reply = api.editors.DiagnoseEditor(editor_pb.DiagnoseEditorRequest(name=args.name, tenant_id=args.tenant_id or ""),
                                       metadata=api.metadata, timeout=CALL_TIMEOUT_S)
    findings = finding_records(reply)
    if args.json:
        print_json(findings)
    else:
        owner = f"tenant {reply.editor.tenant_id}" if reply.editor.tenant_id else "pool"
        print(f"editor {reply.editor.name} ({owner}): {reply.editor.discovery_url}")
        print(f"public URL (WOPISrc base): {reply.public_url}")
        for line in render_findings(findings):
            print(line)
    if any(f["severity"] == "fail" for f in findings):
        sys.exit(1)


# -- doctor session -----------------------------------------------------------------------------------


def _iso(stamp: Any) -> str:
    return stamp.ToDatetime(tzinfo=dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def session_record(session: session_pb.Session) -> dict[str, Any]:
    state = session_pb.SessionState.Name(session.state).removeprefix("SESSION_STATE_").lower()
    return {"id": session.id, "tenant_id": session.tenant_id, "path": f"{session.storage}:{session.path}",
            "file_id": session.file_id, "user_id": session.user_id,
            "permission": session_pb.Permission.Name(session.permission).removeprefix("PERMISSION_").lower(),
            "editor": session.editor, "state": state, "create_time": _iso(session.create_time),
            "expire_time": _iso(session.expire_time),
            "close_time": _iso(session.close_time) if session.HasField("close_time") else ""}


def refusal(event: Mapping[str, Any]) -> tuple[str, str]:
    """(reason, message) of a refused request's detail ("REASON: message"), else ("", detail)."""
    match = _REASON.match(str(event.get("detail", "")))
    return (match.group(1), match.group(2)) if match else ("", str(event.get("detail", "")))


def timeline(events: Sequence[Mapping[str, Any]], session: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Oldest first. A PutFile grant (ok, status 0) directly followed by the edge's record of the
    same write is folded into it; the session's expiry (audited per tenant, not per session) is
    added from the session itself."""
    rows: list[dict[str, Any]] = []
    for i, event in enumerate(events):
        following = events[i + 1] if i + 1 < len(events) else None
        if (event["operation"] in ("PutFile", "PutRelativeFile") and event["outcome"] == "ok"
                and not event["status"] and following is not None
                and following["operation"] == event["operation"] and following["status"]
                and following.get("correlation_id", "") == event.get("correlation_id", "")):
            continue
        rows.append(dict(event))
    if session and session.get("state") == "expired":
        rows.append({"time": session["close_time"] or session["expire_time"], "operation": "SessionExpired",
                     "outcome": "ok", "status": 0, "size": 0, "version_before": 0, "version_after": 0,
                     "detail": "the access token expired (expire_time reached)", "actor": "system"})
    rows.sort(key=lambda r: r["time"])  # RFC 3339 UTC with milliseconds: sorts as text
    return rows


def render_timeline(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    lines = []
    for row in rows:
        facts = []
        if row.get("version_after") and row["version_after"] != row.get("version_before"):
            facts.append(f"v{row['version_before']}->v{row['version_after']}")
        elif row.get("version_after") and row["operation"] in ("PutFile", "GetFile"):
            facts.append(f"v{row['version_after']}")
        if row.get("size"):
            facts.append(f"{row['size']} B")
        if row.get("detail"):
            facts.append(str(row["detail"]))
        status = str(row["status"]) if row.get("status") else "-"
        lines.append(f"{row['time']}  {row['operation']:<16} {row['outcome']:<8} {status:>3}  {'  '.join(facts)}")
    return lines


KEPT = "content kept at "  # the conflict-copy record's detail: "refused (<why>); content kept at <path, %-encoded>"


def save_refusal(event: Mapping[str, Any], reason: str, message: str) -> str:
    """Why a save was refused: "lock" (lock mismatch), "timestamp" (changed in storage), "" (not
    a refused save, or another reason). Refused by the control plane, the record says
    "LOCK_CONFLICT: ..."; refused at the edge, whose conflict-copy record says "refused (<why>); ..."."""
    if event["operation"] != "PutFile":
        return ""
    if reason:
        return {"LOCK_CONFLICT": "lock", "TIMESTAMP_CONFLICT": "timestamp"}.get(reason, "")
    why = message.partition("refused (")[2].rpartition("); " + KEPT)[0] if KEPT in message else ""
    if "last saw" in why:
        return "timestamp"
    return "lock" if "lock" in why else ""


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def summarize(rows: Sequence[Mapping[str, Any]], session: Mapping[str, Any] | None) -> list[str]:
    """What the timeline means, one sentence per kind of trouble, with what to do."""
    out: list[str] = []
    # A save is a PutFile that advanced the version: answered 200, or confirmed from storage (status 0,
    # its editor's answer unknown) after the edge's CommitWrite was lost.
    saves = [r for r in rows if r["operation"] == "PutFile" and r["outcome"] == "ok"
             and (r["status"] == 200 or (r["version_after"] or 0) > (r["version_before"] or 0))]
    if saves:
        recovered = sum(1 for r in saves if r["status"] != 200)
        out.append(f"{_count(len(saves), 'save')} written (v{saves[0]['version_before']} -> "
                   f"v{saves[-1]['version_after']}, last {saves[-1]['size']} B)"
                   + (f"; {recovered} of them confirmed from storage (the editor's answer was lost)"
                      if recovered else ""))
    refused = [(r, *refusal(r)) for r in rows if r["outcome"] in ("denied", "conflict", "failed")]
    kinds = [save_refusal(r, reason, message) for r, reason, message in refused]
    lock_saves = kinds.count("lock")
    if lock_saves:
        out.append(f"{_count(lock_saves, 'save')} refused with 409 lock mismatch: the editor lost its lock "
                   "(it expired after 30 min without RefreshLock, or another session took it)")
    stamp = kinds.count("timestamp")
    if stamp:
        out.append(f"{_count(stamp, 'save')} refused because the file changed in storage since the editor "
                   "loaded it (Collabora then asks the user to overwrite or reload)")
    copies = [r for r in rows if r["operation"] == "PutFile" and KEPT in str(r.get("detail", ""))]
    if copies:
        places = ", ".join(unquote(str(r["detail"]).rpartition(KEPT)[2]) for r in copies[:3])
        out.append(f"{_count(len(copies), 'refused save')} kept as conflict copies ({places}): nothing was lost; "
                   "merge by hand what the editor could not save")
    lock_ops = [r for r, reason, _ in refused if reason == "LOCK_CONFLICT" and r["operation"] != "PutFile"]
    if lock_ops:
        ops = ", ".join(sorted({str(r['operation']) for r in lock_ops}))
        out.append(f"{_count(len(lock_ops), 'lock request')} refused with 409 ({ops}): another session or editor "
                   "holds the file's lock, or this one's expired")
    proofs = Counter(message for _, reason, message in refused if reason == "PROOF_INVALID")
    for message, n in proofs.items():
        out.append(f"{_count(n, 'request')} failed the proof check ({message}): {_proof_hint(message)}")
    large = [r for r, reason, _ in refused if reason in ("FILE_TOO_LARGE", "PAYLOAD_TOO_LARGE")]
    if large:
        out.append(f"{_count(len(large), 'save')} refused as too large (413): raise the storage's --max-file-size "
                   "(or the tenant's --max-file-size-cap), and any proxy body limit in front of the edge")
    tokens = [r for r, reason, _ in refused if reason == "ACCESS_TOKEN_INVALID"]
    if tokens:
        out.append(f"{_count(len(tokens), 'request')} with an expired or closed session's token (401): the user must "
                   "open the document again (a new session)")
    handled = {"LOCK_CONFLICT", "TIMESTAMP_CONFLICT", "PROOF_INVALID", "FILE_TOO_LARGE", "PAYLOAD_TOO_LARGE",
               "ACCESS_TOKEN_INVALID"}
    other = Counter(f"{r['operation']} {reason or r['outcome']}" for r, reason, _ in refused
                    if reason not in handled and KEPT not in str(r.get("detail", "")))
    for what, n in sorted(other.items()):
        out.append(f"{_count(n, 'request')} refused: {what}")
    if session:
        if session["state"] == "expired":
            out.append(f"the session expired at {session['expire_time']}")
        elif session["state"] == "closed":
            out.append(f"the session was closed at {session['close_time']}")
        else:
            out.append(f"the session is open until {session['expire_time']}")
        wrote = any(r["operation"] in ("Lock", "PutFile") for r in rows)
        if session["permission"] == "edit" and not saves and wrote:
            out.append("no save reached storage in this session")
    if not refused:
        out.insert(0, "no refused requests and no conflicts")
    return out


def _proof_hint(message: str) -> str:
    if "too old" in message or "future" in message:
        return "the editor's and this host's clocks differ; run `wopi-proxy doctor editor NAME` and sync them (NTP)"
    if "signature" in message:
        return ("the URL the editor signed is not the one the edge rebuilt: behind a reverse proxy start with "
                "--public-url set to the URL the editor calls, or --trust-forwarded-headers; or the editor's keys "
                "changed (`wopi-proxy editors refresh NAME`)")
    if "missing" in message or "no proof key" in message:
        return ("the editor does not sign its requests but the proof policy asks for it: give the editor a proof key "
                "or re-add it with --proof if-advertised")
    return "see `wopi-proxy doctor editor NAME`"


def _session_events(api: Any, session_id: str, tenant_id: str) -> tuple[list[dict[str, Any]], bool]:
    stub = audit_grpc.AuditServiceStub(api.channel)
    found: list[dict[str, Any]] = []
    token = ""
    while len(found) < MAX_EVENTS:
        reply = stub.ListAuditEvents(audit_pb.ListAuditEventsRequest(
            session_id=session_id, tenant_id=tenant_id, page_size=PAGE_SIZE, page_token=token),
            metadata=api.metadata, timeout=CALL_TIMEOUT_S)
        found += [event_record(e) for e in reply.events]
        token = reply.next_page_token
        if not token:
            return found, False
    return found[:MAX_EVENTS], True


def doctor_session(api: Any, args: argparse.Namespace) -> None:
    session = session_record(api.call(api.sessions.GetSession, session_pb.GetSessionRequest(id=args.id)))
    events, cut = _session_events(api, args.id, args.tenant_id or session["tenant_id"])
    rows = timeline(events, session)
    summary = summarize(rows, session)
    if args.json:
        print_json({"session": session, "timeline": rows, "summary": summary, "truncated": cut})
        return
    print(f"session {session['id']} ({session['state']}): {session['user_id']} on {session['path']} "
          f"({session['permission']}), editor {session['editor'] or '-'}, tenant {session['tenant_id']}")
    for line in render_timeline(rows):
        print(line)
    if cut:
        print(f"(only the first {MAX_EVENTS} events; `wopi-proxy audit export --session-id {args.id}` has all)")
    print("summary:")
    for line in summary:
        print(f"  - {line}")

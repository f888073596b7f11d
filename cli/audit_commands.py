"""`wopi-proxy audit list|export|verify`: the audit trail from the command line."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from google.protobuf.timestamp_pb2 import Timestamp
from wopiproxy.control.v1 import audit_service_pb2 as audit_pb
from wopiproxy.control.v1 import audit_service_pb2_grpc as audit_grpc

from cli.output import print_json, print_table

CALL_TIMEOUT_S = 30
EXPORT_PAGE_SIZE = 1000
VERIFY_TIMEOUT_S = 600  # a long trail takes a while to recompute
FIELDS = [f.name for f in audit_pb.AuditEvent.DESCRIPTOR.fields]
TABLE_COLUMNS = ["id", "time", "tenant_id", "actor", "operation", "outcome", "status", "session_id", "file_id",
                 "size", "version_before", "version_after", "detail"]


def add_audit_commands(commands: Any, fmt_parent: argparse.ArgumentParser) -> None:
    """Adds `audit list`, `audit export` and `audit verify` to the CLI's subcommands."""
    audit = commands.add_parser("audit", help="list, export and verify the audit trail").add_subparsers(
        dest="verb", required=True)

    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--tenant-id", help="only this tenant (a tenant key sees only its own)")
    filters.add_argument("--session-id", help="only this session's events")
    filters.add_argument("--file-id", help="only this file's events")
    filters.add_argument("--user-id", help="only requests of this WOPI user")
    filters.add_argument("--operation", help="e.g. PutFile, Lock, CreateSession")
    filters.add_argument("--outcome", choices=["ok", "denied", "conflict", "failed"],
                         help="only this outcome")
    filters.add_argument("--since", type=_iso_time, metavar="ISO", help="at or after, e.g. 2024-05-01T00:00:00Z")
    filters.add_argument("--until", type=_iso_time, metavar="ISO", help="before this time")

    p = audit.add_parser("list", parents=[fmt_parent, filters], help="events, oldest first")
    p.add_argument("--limit", type=int, default=100, metavar="N", help="at most N events (default 100)")
    p.set_defaults(handler=audit_list)
    p = audit.add_parser("export", parents=[filters], help="every matching event, as JSON lines or CSV")
    p.add_argument("--format", choices=["jsonl", "csv"], default="jsonl", help="jsonl (default) or csv")
    p.add_argument("--output", metavar="FILE", help="write here instead of standard output")
    p.set_defaults(handler=audit_export)
    p = audit.add_parser("verify", parents=[fmt_parent],
                         help="recompute the hash chains; exit code 1 names the first broken record")
    p.add_argument("--tenant-id", help="one tenant's chain (default: every chain the key may read)")
    p.set_defaults(handler=audit_verify)


def _iso_time(text: str) -> Timestamp:
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


def _request(args: argparse.Namespace, page_size: int, page_token: str) -> audit_pb.ListAuditEventsRequest:
    request = audit_pb.ListAuditEventsRequest(
        tenant_id=args.tenant_id or "", session_id=args.session_id or "", file_id=args.file_id or "",
        user_id=args.user_id or "", operation=args.operation or "", outcome=args.outcome or "",
        page_size=page_size, page_token=page_token,
    )
    if args.since is not None:
        request.start_time.CopyFrom(args.since)
    if args.until is not None:
        request.end_time.CopyFrom(args.until)
    return request


def _events(api: Any, args: argparse.Namespace, *, limit: int | None = None) -> Iterator[audit_pb.AuditEvent]:
    """Page after page, as they arrive (an export never holds the whole trail)."""
    stub = audit_grpc.AuditServiceStub(api.channel)
    token, seen = "", 0
    while True:
        page_size = EXPORT_PAGE_SIZE if limit is None else max(1, min(EXPORT_PAGE_SIZE, limit - seen))
        reply = stub.ListAuditEvents(_request(args, page_size, token), metadata=api.metadata,
                                     timeout=CALL_TIMEOUT_S)
        for event in reply.events:
            if limit is not None and seen >= limit:
                return
            seen += 1
            yield event
        token = reply.next_page_token
        if not token or (limit is not None and seen >= limit):
            return


def event_record(event: audit_pb.AuditEvent) -> dict[str, Any]:
    """Plain values: numbers as numbers, the time as RFC 3339 UTC with milliseconds."""
    data: dict[str, Any] = {name: getattr(event, name) for name in FIELDS}
    data["time"] = event.time.ToDatetime(tzinfo=dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return data


def audit_list(api: Any, args: argparse.Namespace) -> None:
    if args.limit < 1:
        raise SystemExit("error: --limit must be at least 1")
    rows = [event_record(e) for e in _events(api, args, limit=args.limit + 1)]
    more = len(rows) > args.limit
    rows = rows[:args.limit]
    if args.json:
        print_json(rows)
    else:
        print_table(rows, TABLE_COLUMNS)
    if more:
        print(f"(the first {args.limit} events; narrow with --since or raise --limit, or use `audit export`)",
              file=sys.stderr)


@contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    with open(path, "w", newline="", encoding="utf-8") as out:
        yield out


def audit_export(api: Any, args: argparse.Namespace) -> None:
    count = 0
    with _output(args.output) as out:
        writer = csv.DictWriter(out, fieldnames=FIELDS) if args.format == "csv" else None
        if writer is not None:
            writer.writeheader()
        for event in _events(api, args):
            record = event_record(event)
            if writer is not None:
                writer.writerow(record)
            else:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    if args.output:
        print(f"exported {count} event(s) to {args.output}", file=sys.stderr)


def audit_verify(api: Any, args: argparse.Namespace) -> None:
    stub = audit_grpc.AuditServiceStub(api.channel)
    reply = stub.VerifyAuditChain(audit_pb.VerifyAuditChainRequest(tenant_id=args.tenant_id or ""),
                                  metadata=api.metadata, timeout=VERIFY_TIMEOUT_S)
    if args.json:
        print_json({"ok": reply.ok, "checked": reply.checked, "broken_tenant_id": reply.broken_tenant_id,
                    "broken_event_id": reply.broken_event_id, "reason": reply.reason})
    elif reply.ok:
        print(f"audit chain intact: {reply.checked} record(s) checked")
    else:
        chain = f"tenant {reply.broken_tenant_id}" if reply.broken_tenant_id else "the deployment-wide chain"
        print(f"audit chain BROKEN at record #{reply.broken_event_id} ({chain}): {reply.reason}")
    if not reply.ok:
        sys.exit(1)

"""`wopi-proxy bridge list|show|save-now|close`: bridged documents (BridgeService) from the command line."""

from __future__ import annotations

import argparse
from typing import Any

from wopiproxy.control.v1 import bridge_service_pb2 as bridge_pb
from wopiproxy.control.v1 import bridge_service_pb2_grpc as bridge_grpc

from cli.output import as_dict, print_json, print_record, print_table

CALL_TIMEOUT_S = 30
STATES = ["loading", "open", "closing", "closed", "conflicted", "failed"]
COLUMNS = ["id", "tenant_id", "path", "editor_name", "state", "users", "saved_rev", "seen_rev", "last_save_time",
           "last_error"]


def add_bridge_commands(commands: Any, fmt_parent: argparse.ArgumentParser) -> None:
    """Adds `bridge list|show|save-now|close` to the CLI's subcommands."""
    bridge = commands.add_parser("bridge", help="files open in bridged apps (Etherpad, CodiMD, Hocuspocus)"
                                 ).add_subparsers(dest="verb", required=True)
    p = bridge.add_parser("list", parents=[fmt_parent], help="bridged documents, newest first")
    p.add_argument("--tenant-id", help="only this tenant's (a tenant key sees only its own)")
    p.add_argument("--state", choices=STATES, help="only documents in this state (default: all but closed)")
    p.set_defaults(handler=bridge_list)
    for verb, text, handler in (("show", "one document with its users", bridge_show),
                                ("save-now", "make the next save due now (written only if the text changed)",
                                 bridge_save_now),
                                ("close", "final save, then unlock and remove the app's copy; users are let out",
                                 bridge_close)):
        p = bridge.add_parser(verb, parents=[fmt_parent], help=text)
        p.add_argument("id", help="the document's id (from bridge list)")
        p.set_defaults(handler=handler)


def _stub(api: Any) -> bridge_grpc.BridgeServiceStub:
    return bridge_grpc.BridgeServiceStub(api.channel)


def _call(api: Any, method: Any, request: Any) -> Any:
    return method(request, metadata=api.metadata, timeout=CALL_TIMEOUT_S)


def _row(document: bridge_pb.BridgedDocument) -> dict[str, Any]:
    data = as_dict(document)
    users = data.get("users", [])
    data["users"] = f"{sum(1 for u in users if u.get('present'))}/{len(users)}"
    return data


def bridge_list(api: Any, args: argparse.Namespace) -> None:
    stub, documents, token = _stub(api), [], ""
    while True:
        reply = _call(api, stub.ListBridgedDocuments, bridge_pb.ListBridgedDocumentsRequest(
            tenant_id=args.tenant_id or "", state=args.state or "", page_size=500, page_token=token))
        documents.extend(reply.documents)
        token = reply.next_page_token
        if not token:
            break
    if args.json:
        print_json([as_dict(d) for d in documents])
    else:
        print_table([_row(d) for d in documents], COLUMNS)


def _print(document: bridge_pb.BridgedDocument, args: argparse.Namespace) -> None:
    print_json(as_dict(document)) if args.json else print_record(as_dict(document))


def bridge_show(api: Any, args: argparse.Namespace) -> None:
    _print(_call(api, _stub(api).GetBridgedDocument, bridge_pb.GetBridgedDocumentRequest(id=args.id)), args)


def bridge_save_now(api: Any, args: argparse.Namespace) -> None:
    _print(_call(api, _stub(api).SaveBridgedDocumentNow, bridge_pb.SaveBridgedDocumentNowRequest(id=args.id)), args)


def bridge_close(api: Any, args: argparse.Namespace) -> None:
    _print(_call(api, _stub(api).CloseBridgedDocument, bridge_pb.CloseBridgedDocumentRequest(id=args.id)), args)

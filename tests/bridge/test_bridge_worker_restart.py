"""A bridge worker started again in the same place (ClaimBridgeWorkRequest.first_claim, worker ids
"<name>#<run>") takes back its earlier run's leases at once, and nobody else's. Leases of ten minutes
here, so that a lease that lapsed on its own cannot pass for one that was let go. SQLite and
PostgreSQL (the release is one UPDATE in the claim's transaction)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests.bridge.control_rig import DATABASES, FAST, Rig, pad_event, refusal, start_rig
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

EVENT = edge_pb.BRIDGE_EVENT_SOURCE_ETHERPAD_EVENT
SHA = "ab" * 32
LONG_LEASES = tuple("600" if i > 0 and FAST[i - 1] == "--bridge-lease" else flag for i, flag in enumerate(FAST))
EDGE = "edge-host-127.0.0.1:8000"


@pytest.fixture(params=DATABASES)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    yield from start_rig(tmp_path, request.param, lambda: request.getfixturevalue("postgres_database_url"),
                         *LONG_LEASES)


def _save_held_by(rig: Rig, worker: str) -> tuple[edge_pb.BridgeWorkItem, str]:
    """A document whose SAVE lease `worker` holds (as when it was killed mid-save); its id."""
    tenant = rig.new_tenant()
    opened = rig.open(rig.session(tenant).access_token)
    rig.complete(opened, edge_pb.BRIDGE_WORK_OUTCOME_LOADED, app_rev=1, sha256=SHA, size=6,
                 file_version=opened.document.file_version, text_profile='{"crlf": false}')
    rig.event(EVENT, pad_event(opened.document, "change", rev=3, author="a.1"))
    held = rig.claim_until(lambda i: i.kind == edge_pb.BRIDGE_WORK_KIND_SAVE, worker=worker)
    return held, held.document.document_id


def _ids(items: list[edge_pb.BridgeWorkItem]) -> set[str]:
    return {item.document.document_id for item in items}


def test_a_worker_starting_again_gets_its_killed_runs_document_at_once(rig: Rig) -> None:
    held, doc_id = _save_held_by(rig, f"{EDGE}-0#run1")
    retaken = rig.claim(f"{EDGE}-0#run2", first_claim=True)
    assert doc_id in _ids(retaken), rig.log()
    item = next(i for i in retaken if i.document.document_id == doc_id)
    assert item.kind == edge_pb.BRIDGE_WORK_KIND_SAVE and item.document.seen_rev == 3
    assert "lease(s) of its earlier run let go" in rig.log()


def test_the_killed_runs_late_report_is_refused_and_records_nothing(rig: Rig) -> None:
    held, doc_id = _save_held_by(rig, f"{EDGE}-0#run1")
    rig.claim(f"{EDGE}-0#run2", first_claim=True)
    assert refusal(lambda: rig.complete(held, edge_pb.BRIDGE_WORK_OUTCOME_SAVED, app_rev=3, sha256=SHA)) == \
        (grpc.StatusCode.FAILED_PRECONDITION, "BRIDGE_LEASE_LOST")
    assert rig.document(doc_id).saved_rev == 1


def test_only_the_first_claim_of_a_run_lets_go_of_earlier_leases(rig: Rig) -> None:
    _, doc_id = _save_held_by(rig, f"{EDGE}-0#run1")
    assert doc_id not in _ids(rig.claim(f"{EDGE}-0#run2")), "a later claim leaves the lease alone"


def test_another_workers_leases_are_left_alone(rig: Rig) -> None:
    """Worker 1 of the same edge, worker 10 (whose name starts with worker 1's), and another port."""
    docs = [_save_held_by(rig, worker)[1] for worker in (f"{EDGE}-1#run1", f"{EDGE}-10#run1",
                                                         "edge-host-127.0.0.1:8001-1#run1")]
    assert not _ids(rig.claim(f"{EDGE}-1#run2", first_claim=True)) & set(docs[1:]), rig.log()
    assert not _ids(rig.claim(f"{EDGE}-0#run2", first_claim=True)) & set(docs), rig.log()


def test_a_worker_id_without_a_run_part_lets_go_of_nothing(rig: Rig) -> None:
    _, doc_id = _save_held_by(rig, "edge-host#run1")
    for worker in ("edge-host", "#run2", "edge-host#"):
        assert doc_id not in _ids(rig.claim(worker, first_claim=True)), worker

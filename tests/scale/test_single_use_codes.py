"""Single-use codes stay single use when redemptions race through two edges and two control-plane
replicas over PostgreSQL: a launch code (the host page's link, which answers the session's access
token) and a bridge entry code (which lets one browser into the app with the participant's app
session). Each is taken by a DELETE that only one transaction can make (stores.take_once)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from tests.bridge.control_rig import FAST, Caller, Rig
from tests.scale.cluster import Cluster, start_cluster
from tests.security.editor_stand_in import add_editor, stand_in_editor
from tests.support.api import new_tenant, session_pb
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

pytestmark = pytest.mark.postgres

ATTEMPTS = 20
RACERS = 8  # concurrent redemptions of each code, half through each replica
REDEEM = edge_pb.BRIDGE_EVENT_SOURCE_ETHERPAD_REDEEM
SHA = "ab" * 32


def _race(urls: list[str]) -> list[int]:
    barrier = threading.Barrier(len(urls))
    statuses: list[int] = [0] * len(urls)

    def run(i: int) -> None:
        with httpx.Client(timeout=30) as client:
            barrier.wait()
            try:
                statuses[i] = client.get(urls[i]).status_code
            except httpx.HTTPError:
                statuses[i] = -1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(urls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return statuses


def test_a_launch_code_is_redeemed_once_even_when_two_edges_race_for_it(cluster: Cluster, tmp_path: Path) -> None:
    api = cluster.api(0)
    tenant_id, folder = new_tenant(api, tmp_path / "storage")
    with stand_in_editor() as editor:
        add_editor(api, editor, tenant_id)
    doubles: list[tuple[int, list[int]]] = []
    for attempt in range(ATTEMPTS):
        (folder / f"a{attempt}.docx").write_bytes(b"")
        reply = cluster.api(attempt % 2).call(cluster.api(attempt % 2).sessions.CreateSession,
                                              session_pb.CreateSessionRequest(
            tenant_id=tenant_id, storage="docs", path=f"a{attempt}.docx", user_id="u1"))
        assert reply.host_page_url, cluster.log()
        path = re.sub(r"^https?://[^/]+", "", reply.host_page_url)
        urls = [cluster.edge_urls[i % 2] + path for i in range(RACERS)]
        statuses = _race(urls)
        if statuses.count(200) > 1:
            doubles.append((attempt, statuses))
    assert not doubles, (f"{len(doubles)} of {ATTEMPTS} single-use launch codes were redeemed more than once "
                         f"(each 200 carries the session's access token): {doubles[:5]}")


@pytest.fixture
def replicas(tmp_path: Path, postgres_database_url: str) -> Iterator[tuple[Cluster, list[Rig]]]:
    """Two control replicas on one PostgreSQL; no edges (this test plays the edge, with its key)."""
    cluster = start_cluster(tmp_path, postgres_database_url, edges=0, control_args=FAST)
    channels = [grpc.insecure_channel(c.grpc_address) for c in cluster.controls]
    admin_key = cluster.admin_key
    edge_key = (cluster.data_dir / "edge.key").read_text().strip()
    rigs = [Rig(control=c, channel=ch, admin=Caller(ch, admin_key), edge=Caller(ch, edge_key), workdir=tmp_path)
            for c, ch in zip(cluster.controls, channels)]
    try:
        yield cluster, rigs
    finally:
        for ch in channels:
            ch.close()
        cluster.stop()


def test_a_bridge_entry_code_lets_in_once_even_when_replicas_race(replicas: tuple[Cluster, list[Rig]]) -> None:
    cluster, rigs = replicas
    rig = rigs[0]
    tenant = rig.new_tenant()
    doubles = []
    for attempt in range(ATTEMPTS):
        created = rig.session(tenant, f"notes{attempt}.txt")
        opened = rig.open(created.access_token)
        if opened.load:
            rig.complete(opened, edge_pb.BRIDGE_WORK_OUTCOME_LOADED, app_rev=1, sha256=SHA)
        doc = opened.document
        code = rig.edge(rig.edge.edge.RegisterBridgeEntry, edge_pb.RegisterBridgeEntryRequest(
            access_token=created.access_token, document_id=doc.document_id, app_author_id="a.ann",
            app_session_id="s.ann", app_target=f"g.x${doc.app_doc_id}")).entry_code
        barrier = threading.Barrier(RACERS)
        answers: list[str] = []

        def redeem(i: int) -> None:
            barrier.wait()
            try:
                answer = rigs[i % 2].event(REDEEM, {"code": code})
                answers.append(answer.app_session_id)
            except grpc.RpcError:
                pass

        threads = [threading.Thread(target=redeem, args=(i,)) for i in range(RACERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        if len(answers) > 1:
            doubles.append((attempt, len(answers)))
    assert not doubles, (f"{len(doubles)} of {ATTEMPTS} single-use entry codes let in more than one browser "
                         f"(attempt, times accepted): {doubles[:8]}\n{cluster.log()[-3000:]}")

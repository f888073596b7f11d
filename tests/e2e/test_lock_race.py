"""Two separately started edge processes race for the same file's lock: exactly one wins each
round, because the compare-and-set happens in the control plane's database (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.api import ControlApi, new_tenant, open_file
from tests.support.processes import WopiProxyProcess

ROUNDS = 100


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def split_deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ControlApi, list[str]]]:
    """One control plane, two edges: the production shape."""
    extra = []
    if request.param == "postgresql":
        extra = ["--database-url", request.getfixturevalue("postgres_database_url")]
    control = WopiProxyProcess(args=["control", "--grpc-port", "0", "--data-dir", str(tmp_path / "data"), *extra],
                               workdir=tmp_path).start()
    key_file = tmp_path / "data" / "edge.key"
    edges = [WopiProxyProcess(args=["edge", "--control", control.grpc_address, "--api-key-file", str(key_file),
                                    "--port", "0"], workdir=tmp_path / f"edge{i}") for i in range(2)]
    for edge in edges:
        edge.workdir.mkdir()
        edge.start()
    api = ControlApi(control.grpc_address, (tmp_path / "data" / "admin.key").read_text().strip())
    try:
        yield api, [edge.http_url for edge in edges]
    finally:
        api.close()
        for edge in edges:
            edge.stop()
        control.stop()


def _race(clients: list[httpx.Client], urls: list[str], ids: list[str]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(urls))
    replies: list[httpx.Response | None] = [None] * len(urls)

    def contend(i: int) -> None:
        barrier.wait()
        replies[i] = clients[i].post(urls[i], headers={"X-WOPI-Override": "LOCK", "X-WOPI-Lock": ids[i]})

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(len(urls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [r for r in replies if r is not None]


def test_two_edges_racing_for_a_lock_see_exactly_one_winner_each_round(
    split_deployment: tuple[ControlApi, list[str]], tmp_path: Path
) -> None:
    api, edge_urls = split_deployment
    f = open_file(api, *new_tenant(api, tmp_path / "storage"), "contested.docx", b"contested")
    urls = [f"{base}/wopi/files/{f.file_id}?access_token={f.token}" for base in edge_urls]
    clients = [httpx.Client(timeout=30) for _ in urls]
    for round_number in range(ROUNDS):
        ids = [f"edge0-{round_number}", f"edge1-{round_number}"]
        replies = _race(clients, urls, ids)
        statuses = sorted(r.status_code for r in replies)
        assert statuses == [200, 409], f"round {round_number}: {statuses}"
        winner = ids[[r.status_code for r in replies].index(200)]
        loser = next(r for r in replies if r.status_code == 409)
        assert loser.headers["X-WOPI-Lock"] == winner
        unlock = clients[0].post(urls[round_number % 2], headers={"X-WOPI-Override": "UNLOCK", "X-WOPI-Lock": winner})
        assert unlock.status_code == 200
    for client in clients:
        client.close()

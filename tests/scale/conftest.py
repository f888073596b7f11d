"""Fixtures of the scale-out tests: a cluster of two control-plane replicas and two edges."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scale.cluster import Cluster, start_cluster

LEASE_TTL_S = 2.0  # short, so that a killed replica's leases pass on quickly


@pytest.fixture
def cluster(tmp_path: Path, postgres_database_url: str) -> Iterator[Cluster]:
    started = start_cluster(tmp_path, postgres_database_url, control_args=("--lease-ttl", str(LEASE_TTL_S)))
    yield started
    started.stop()

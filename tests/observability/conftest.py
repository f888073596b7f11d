"""Observability tests run against real processes in both deployment shapes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.deployment import SHAPES, Deployment, start_deployment


@pytest.fixture(params=SHAPES)
def shape(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def deploy(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    """deploy(shape, control_args=(...), edge_args=(...), env={...}) -> a running Deployment, stopped after."""
    started: list[Deployment] = []

    def start(shape: str, **kwargs: Any) -> Deployment:
        deployment = start_deployment(shape, tmp_path / f"{shape}-{len(started)}", **kwargs)
        started.append(deployment)
        return deployment

    yield start
    for deployment in started:
        deployment.stop()

"""Schema migrations from the outside: `wopi-proxy db upgrade|current`, and `control`/`serve`
starting on a database the first release made (tests/fixtures/released_db)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from control.db.schema import BASELINE, head_revision
from tests.support.processes import WopiProxyProcess, serve
from tests.support.released_db import FIXTURE_KEY, load_released

ENV = {"WOPI_PROXY_SECRET_KEY": FIXTURE_KEY}
REFUSAL = (f"error: the database schema is at revision {BASELINE}, this release needs {head_revision()}: "
           "run `wopi-proxy db upgrade` or start with --migrate")


def wopi_proxy(workdir: Path, *args: str, env: dict[str, str] | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=workdir, capture_output=True, text=True,
                          env={**os.environ, **ENV, **(env or {})}, timeout=timeout, check=False)


@pytest.fixture
def released_data_dir(tmp_path: Path) -> Path:
    """A data dir whose SQLite database the first release made."""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    load_released(f"sqlite:///{data / 'wopi-proxy.db'}")
    return data


def test_control_refuses_a_schema_of_the_first_release(released_data_dir: Path) -> None:
    result = wopi_proxy(released_data_dir.parent, "control", "--data-dir", str(released_data_dir), "--grpc-port", "0")
    assert result.returncode != 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == REFUSAL, result.stderr
    current = wopi_proxy(released_data_dir.parent, "db", "current", "--data-dir", str(released_data_dir))
    assert current.stdout.strip() == f"{BASELINE} (made before migrations); this release needs {head_revision()}"


@pytest.mark.parametrize("how", [["--migrate"], []], ids=["flag", "env"])
def test_control_told_to_migrate_upgrades_and_serves(released_data_dir: Path, how: list[str]) -> None:
    env = {**ENV, **({} if how else {"WOPI_PROXY_MIGRATE": "1"})}
    control = WopiProxyProcess(args=["control", "--data-dir", str(released_data_dir), "--grpc-port", "0", *how],
                               workdir=released_data_dir.parent, env=env).start()
    try:
        current = wopi_proxy(released_data_dir.parent, "db", "current", "--data-dir", str(released_data_dir))
        assert current.stdout.strip() == f"{head_revision()} (head)", current.stderr + control.log()
    finally:
        control.stop()
    assert f"database schema: {BASELINE} (made before migrations) -> {head_revision()}" in control.log()


def test_serve_migrates_a_local_data_dir_by_default(released_data_dir: Path) -> None:
    refused = wopi_proxy(released_data_dir.parent, "serve", "--data-dir", str(released_data_dir), "--port", "0",
                         "--grpc-port", "0", "--no-migrate")
    assert refused.stderr.strip().splitlines()[-1] == REFUSAL, refused.stderr
    proc = serve(released_data_dir.parent, env=ENV)  # its data dir is <workdir>/data: the released one
    try:
        current = wopi_proxy(released_data_dir.parent, "db", "current", "--data-dir", str(released_data_dir))
        assert current.stdout.strip() == f"{head_revision()} (head)", current.stderr + proc.log()
    finally:
        proc.stop()


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_db_upgrade_then_current_prints_head(request: pytest.FixtureRequest, tmp_path: Path, database: str) -> None:
    data = tmp_path / "data"
    if database == "sqlite":
        url = f"sqlite:///{data / 'wopi-proxy.db'}"
        data.mkdir()
    else:
        url = request.getfixturevalue("postgres_database_url")
    load_released(url)
    where = ["--data-dir", str(data), "--database-url", url]
    before = wopi_proxy(tmp_path, "db", "current", *where)
    assert before.stdout.strip() == f"{BASELINE} (made before migrations); this release needs {head_revision()}", \
        before.stderr
    upgraded = wopi_proxy(tmp_path, "db", "upgrade", *where)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip() == (f"upgraded the database schema from {BASELINE} (made before migrations) "
                                       f"to {head_revision()}")
    after = wopi_proxy(tmp_path, "db", "current", *where)
    assert after.stdout.strip() == f"{head_revision()} (head)", after.stderr
    again = wopi_proxy(tmp_path, "db", "upgrade", *where)
    assert "nothing to do" in again.stdout, again.stderr


def test_db_current_does_not_create_a_database(tmp_path: Path) -> None:
    result = wopi_proxy(tmp_path, "db", "current", "--data-dir", str(tmp_path / "data"))
    assert result.returncode != 0 and "no database at" in result.stderr
    assert not (tmp_path / "data" / "wopi-proxy.db").exists()


def test_db_upgrade_creates_a_new_database(tmp_path: Path) -> None:
    result = wopi_proxy(tmp_path, "db", "upgrade", "--data-dir", str(tmp_path / "data"), env={"WOPI_PROXY_SECRET_KEY": ""})
    assert result.returncode == 0, result.stderr
    current = wopi_proxy(tmp_path, "db", "current", "--data-dir", str(tmp_path / "data"))
    assert current.stdout.strip() == f"{head_revision()} (head)", current.stderr

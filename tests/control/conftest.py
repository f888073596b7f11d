"""Fixtures of the control plane's conformance suite: every service test runs twice, once on
SQLite (the embedded default) and once on a real PostgreSQL server.

PostgreSQL is a throwaway cluster made from Debian's binaries, started once per test session
and given a fresh database per test. initdb and postgres refuse to run as root, so as root
they run as the `postgres` system user. Without the binaries the PostgreSQL half is skipped,
unless WOPI_PROXY_REQUIRE_POSTGRES=1 (CI), where their absence is a failure.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from control.db.engine import create_engine, create_schema, session_factory
from control.db.models import Storage, Tenant
from control.services import sessions, storages, tenants
from control.services.context import Principal, ServiceContext
from control.services.sessions import OpenedSession
from tests.control.helpers import OTHER_TENANT, STORAGE, TENANT, FakeClock, OpenSession

REQUIRE_POSTGRES_ENV = "WOPI_PROXY_REQUIRE_POSTGRES"
POSTGRES_MAJOR = "15"
POSTGRES_SYSTEM_USER = "postgres"
POSTGRES_SUPERUSER = "postgres"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "xfail_on_postgresql(reason): a known product bug that only PostgreSQL exposes; "
                   "the postgresql run of the test is a strict xfail, the sqlite run must pass")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("xfail_on_postgresql")
        callspec = getattr(item, "callspec", None)
        if marker and callspec is not None and callspec.params.get("database_url") == "postgresql":
            item.add_marker(pytest.mark.xfail(strict=True, reason=marker.kwargs["reason"]))


# -- PostgreSQL ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostgresCluster:
    host: str
    port: int

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{POSTGRES_SUPERUSER}@{self.host}:{self.port}/{database}"

    def admin_connection(self) -> psycopg.Connection:
        """Autocommit, as CREATE/DROP DATABASE cannot run inside a transaction."""
        return psycopg.connect(host=self.host, port=self.port, user=POSTGRES_SUPERUSER, dbname="postgres",
                               autocommit=True, connect_timeout=10)


def _postgres_bin_dir() -> Path | None:
    """Debian's layout: /usr/lib/postgresql/<major>/bin. The pinned major first, else the newest."""
    root = Path("/usr/lib/postgresql")
    found = [d / "bin" for d in root.glob("*")
             if (d / "bin" / "initdb").is_file() and (d / "bin" / "pg_ctl").is_file()]
    newest_first = sorted((b for b in found if b.parent.name.isdigit()), key=lambda b: -int(b.parent.name))
    pinned = [b for b in newest_first if b.parent.name == POSTGRES_MAJOR]
    return next(iter(pinned + newest_first), None)


def _unavailable(why: str) -> NoReturn:
    if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
        pytest.fail(f"PostgreSQL is required ({REQUIRE_POSTGRES_ENV}=1) but {why}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {why} (set {REQUIRE_POSTGRES_ENV}=1 to make this an error)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Runner:
    """Runs the server binaries directly, or through `su postgres` when we are root."""

    def __init__(self) -> None:
        self.as_root = os.geteuid() == 0

    def run(self, argv: list[str], *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        if self.as_root:
            argv = ["su", "-s", "/bin/sh", POSTGRES_SYSTEM_USER, "-c", shlex.join(argv)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def _check(result: subprocess.CompletedProcess[str], what: str, log: Path | None = None) -> None:
    if result.returncode == 0:
        return
    log_text = log.read_text(errors="replace")[-4000:] if log is not None and log.exists() else ""
    raise RuntimeError(f"{what} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n{log_text}")


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        _unavailable("no server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    runner = _Runner()
    if runner.as_root:
        try:
            account = pwd.getpwnam(POSTGRES_SYSTEM_USER)
        except KeyError:
            _unavailable(f"we are root and there is no {POSTGRES_SYSTEM_USER!r} user to run initdb as")
    base = Path(tempfile.mkdtemp(prefix="wopi-pg-"))
    if runner.as_root:
        os.chown(base, account.pw_uid, account.pw_gid)
    data, log = base / "data", base / "postgres.log"
    started = False
    try:
        _check(runner.run([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", POSTGRES_SUPERUSER,
                           "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"]), "initdb")
        port = 0
        for _attempt in range(3):  # the free port may be taken between the probe and the bind
            port = _free_port()
            options = (f"-k {base} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
            result = runner.run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                                 "-o", options, "start"])
            if result.returncode == 0:
                started = True
                break
        _check(result, "pg_ctl start", log)
        yield PostgresCluster(host="127.0.0.1", port=port)
    finally:
        if started:
            runner.run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(base, ignore_errors=True)


# -- the database under test --------------------------------------------------------------------


def _in_new_thread(make: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Runs a coroutine on its own event loop, whatever loop the calling thread may have."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, make()).result()


async def _build_schema(url: str) -> None:
    engine = create_engine(url)
    try:
        await create_schema(engine)
    finally:
        await engine.dispose()


class FreshDatabases:
    """Hands out a new database per test, copied from a template that create_schema built once.

    CREATE DATABASE costs tens of milliseconds, so a few threads create the next ones (and drop
    the used ones) while tests run.
    """

    AHEAD = 3
    TEMPLATE = "t_schema"

    def __init__(self, cluster: PostgresCluster) -> None:
        self._cluster = cluster
        with cluster.admin_connection() as conn:
            conn.execute(f"CREATE DATABASE {self.TEMPLATE}")
        _in_new_thread(lambda: _build_schema(cluster.url(self.TEMPLATE)))
        self._workers = ThreadPoolExecutor(max_workers=self.AHEAD, thread_name_prefix="fresh-db")
        self._ready: deque[Future[str]] = deque(self._workers.submit(self._create) for _ in range(self.AHEAD))

    def take(self) -> str:
        self._ready.append(self._workers.submit(self._create))
        return self._ready.popleft().result()

    def give_back(self, database: str) -> None:
        self._workers.submit(self._drop, database)

    def close(self) -> None:
        for future in self._ready:
            if future.exception() is None:
                self._workers.submit(self._drop, future.result())
        self._workers.shutdown(wait=True)

    def _create(self) -> str:
        database = "t_" + secrets.token_hex(8)
        with self._cluster.admin_connection() as conn:
            conn.execute(f"CREATE DATABASE {database} TEMPLATE {self.TEMPLATE} STRATEGY FILE_COPY")
        return database

    def _drop(self, database: str) -> None:
        with self._cluster.admin_connection() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


@pytest.fixture(scope="session")
def postgres_databases(postgres_cluster: PostgresCluster) -> Iterator[FreshDatabases]:
    databases = FreshDatabases(postgres_cluster)
    yield databases
    databases.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file that create_schema built once; each test gets a copy."""
    path = tmp_path_factory.mktemp("sqlite-template") / "t.db"
    _in_new_thread(lambda: _build_schema(f"sqlite+aiosqlite:///{path}"))
    # Disposing the engine closed the last connection, which folds the WAL into the file.
    assert not path.with_name("t.db-wal").exists() or path.with_name("t.db-wal").stat().st_size == 0
    return path


@pytest.fixture(params=[
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own for each test, its schema already made (ctx's create_schema then
    only checks it). The PostgreSQL fixtures are looked up here, not declared, so that a
    SQLite-only run never starts a cluster."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, tmp_path / "t.db")
        yield f"sqlite+aiosqlite:///{tmp_path}/t.db"
        return
    databases: FreshDatabases = request.getfixturevalue("postgres_databases")
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    database = databases.take()
    yield cluster.url(database)
    databases.give_back(database)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await create_schema(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def ctx(engine: AsyncEngine, clock: FakeClock) -> ServiceContext:
    return ServiceContext(sessions=session_factory(engine), wopi_base_url="http://wopi.test", clock=clock)


# -- callers ------------------------------------------------------------------------------------


@pytest.fixture
def admin() -> Principal:
    return Principal(key_id="key_admin", role="admin")


@pytest.fixture
def acme_key() -> Principal:
    """A tenant key of TENANT."""
    return Principal(key_id="key_acme", role="tenant", tenant_id=TENANT)


@pytest.fixture
def globex_key() -> Principal:
    """A tenant key of OTHER_TENANT."""
    return Principal(key_id="key_globex", role="tenant", tenant_id=OTHER_TENANT)


# -- a tenant with a storage holding a few files ------------------------------------------------


@pytest.fixture
async def acme(ctx: ServiceContext, admin: Principal) -> Tenant:
    return await tenants.create_tenant(ctx, admin, tenant_id=TENANT, name="Acme")


@pytest.fixture
async def globex(ctx: ServiceContext, admin: Principal) -> Tenant:
    return await tenants.create_tenant(ctx, admin, tenant_id=OTHER_TENANT, name="Globex")


@pytest.fixture
def storage_root(tmp_path: Path) -> Path:
    """A real folder used as a tenant's storage: doc.docx, folder/sheet.xlsx and an empty sub-folder."""
    root = tmp_path / "storage"
    (root / "folder").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "doc.docx").write_bytes(b"PK\x03\x04 a document")
    (root / "folder" / "sheet.xlsx").write_bytes(b"PK\x03\x04 a sheet")
    return root


@pytest.fixture
async def docs(ctx: ServiceContext, admin: Principal, acme: Tenant, storage_root: Path) -> Storage:
    """Storage STORAGE of TENANT, rooted at storage_root."""
    return await storages.create_storage(ctx, admin, tenant_id=TENANT, name=STORAGE, protocol="file",
                                         root=str(storage_root), options={})


@pytest.fixture
def open_session(ctx: ServiceContext, admin: Principal, docs: Storage) -> OpenSession:
    """Opens a session on a file of `docs`; every argument of create_session may be overridden."""

    async def open_(**overrides: object) -> OpenedSession:
        arguments: dict[str, object] = {
            "principal": admin, "tenant_id": TENANT, "storage_name": STORAGE, "path": "doc.docx",
            "user_id": "u-1", "user_name": "Ursula", "permission": "edit", "ttl_seconds": 0,
        }
        arguments.update(overrides)
        principal = arguments.pop("principal")
        return await sessions.create_session(ctx, principal, **arguments)  # type: ignore[arg-type]

    return open_

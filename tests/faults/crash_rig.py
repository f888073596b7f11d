"""A control plane and an edge as separate processes, either of which a failpoint can kill
(WOPI_PROXY_FAILPOINTS, shared/failpoints.py), restarted on the same ports; and the check that
after recovery the database, the audit trail and the events agree with what storage holds.

Used by tests/faults/test_crash_consistency.py and bench/kill_loop.py.
"""

from __future__ import annotations

import hashlib
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import sqlalchemy

from shared.storage import version_object_path
from tests.support.api import ControlApi, OpenFile, lock, new_tenant, open_file, put
from tests.support.ports import unused_port
from tests.support.processes import WopiProxyProcess

OLD = b"old content " * 100
LOCK_ID = "crash-lock"
RESOLVE_TIMEOUT_S = 30.0

# Where each failpoint leaves storage: True when the new bytes were published before the crash.
EDGE_POINTS = {
    "putfile.after_stage": False,
    "putfile.after_begin": False,
    "putfile.after_keep": False,
    "putfile.after_publish": True,
    "putfile.after_commit": True,
}
CONTROL_POINTS = {
    "control.begin.before_commit": False,
    "control.commit.before_commit": True,
    "control.commit.after_commit": True,
}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Rig:
    workdir: Path
    database_url: str | None = None  # None: SQLite in the data dir
    intent_ttl_s: float = 2.0
    sweep_interval_s: float = 0.5
    # A killed control plane's job leases (the intent sweep's among them) pass to its restarted
    # self after this long: the production default (15 s) would be waited out by every restart.
    lease_ttl_s: float = 2.0
    grpc_port: int = field(default_factory=unused_port)
    http_port: int = field(default_factory=unused_port)
    control: WopiProxyProcess | None = None
    edge: WopiProxyProcess | None = None

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    def start_control(self, failpoints: str = "") -> None:
        args = ["control", "--grpc-port", str(self.grpc_port), "--data-dir", str(self.data_dir),
                "--public-url", f"http://127.0.0.1:{self.http_port}",
                "--write-intent-ttl", str(self.intent_ttl_s), "--intent-sweep-interval", str(self.sweep_interval_s),
                "--lease-ttl", str(self.lease_ttl_s)]
        if self.database_url:
            args += ["--database-url", self.database_url]
        self.control = WopiProxyProcess(args=args, workdir=self.workdir,
                                        env={"WOPI_PROXY_FAILPOINTS": failpoints}).start()

    def start_edge(self, failpoints: str = "", *extra: str) -> None:
        edge_dir = self.workdir / "edge"
        edge_dir.mkdir(exist_ok=True)
        args = ["edge", "--control", f"127.0.0.1:{self.grpc_port}", "--api-key-file",
                str(self.data_dir / "edge.key"), "--port", str(self.http_port), *extra]
        self.edge = WopiProxyProcess(args=args, workdir=edge_dir, env={"WOPI_PROXY_FAILPOINTS": failpoints}).start()

    def log(self) -> str:
        return "\n".join(f"--- {p.args[0]} ---\n{p.log()[-6000:]}" for p in (self.control, self.edge) if p)

    def stop(self) -> None:
        for proc in (self.edge, self.control):
            if proc is not None:
                proc.stop()

    def wait_killed(self, proc: WopiProxyProcess) -> None:
        assert proc.process is not None
        try:
            proc.process.wait(RESOLVE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{proc.args[0]} was not killed by its failpoint:\n{self.log()}") from None

    def engine(self) -> sqlalchemy.Engine:
        url = self.database_url or f"sqlite:///{self.data_dir / 'wopi-proxy.db'}"
        return sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)

    def api(self) -> ControlApi:
        return ControlApi(f"127.0.0.1:{self.grpc_port}", (self.data_dir / "admin.key").read_text().strip())


@dataclass
class Outcome:
    """What the database says about one file, next to what storage holds."""

    stored: bytes
    version: int
    size: int
    sha256: str
    pending: int  # unresolved write intents
    confirmed_saves: int  # PutFile audit records that advanced the version
    failed_saves: int  # PutFile audit records of abandoned writes
    saved_events: int
    kept: dict[int, bytes]  # kept version -> its stored bytes


def read_outcome(rig: Rig, f: OpenFile) -> Outcome:
    engine = rig.engine()
    try:
        with engine.connect() as db:
            one: Any = db.execute(sqlalchemy.text(
                "SELECT version, size, sha256 FROM files WHERE id = :id"), {"id": f.file_id}).one()
            pending = db.execute(sqlalchemy.text(
                "SELECT count(*) FROM write_intents WHERE file_id = :id AND state = 'pending'"),
                {"id": f.file_id}).scalar_one()
            confirmed = db.execute(sqlalchemy.text(
                "SELECT count(*) FROM audit_events WHERE file_id = :id AND operation = 'PutFile' AND outcome = 'ok' "
                "AND version_after = version_before + 1"), {"id": f.file_id}).scalar_one()
            failed = db.execute(sqlalchemy.text(
                "SELECT count(*) FROM audit_events WHERE file_id = :id AND operation = 'PutFile' "
                "AND outcome = 'failed'"), {"id": f.file_id}).scalar_one()
            saved = db.execute(sqlalchemy.text(
                "SELECT count(*) FROM session_events WHERE file_id = :id AND type = 'saved'"),
                {"id": f.file_id}).scalar_one()
            kept_versions = [row[0] for row in db.execute(sqlalchemy.text(
                "SELECT version FROM file_versions WHERE file_id = :id"), {"id": f.file_id})]
    finally:
        engine.dispose()
    root = f.local_path.parent
    kept = {}
    for number in kept_versions:
        path = root / version_object_path(f.file_id, number)
        kept[number] = path.read_bytes() if path.exists() else b"<missing>"
    return Outcome(stored=f.local_path.read_bytes(), version=one[0], size=one[1], sha256=one[2], pending=pending,
                   confirmed_saves=confirmed, failed_saves=failed, saved_events=saved, kept=kept)


def mismatches(outcome: Outcome, new: bytes) -> list[str]:
    """Every way the database, audit and events disagree with storage ('' list: consistent)."""
    found = []
    o = outcome
    if o.stored not in (OLD, new):
        found.append(f"storage holds neither the old nor the new bytes ({len(o.stored)} bytes)")
    if o.pending:
        found.append(f"{o.pending} write intent(s) still pending")
    if o.stored == new:
        if (o.version, o.size, o.sha256) != (2, len(new), sha(new)):
            found.append(f"storage holds the new bytes but the file row says version {o.version}, size {o.size}")
        if o.kept.get(1) != OLD:
            found.append("the old bytes were not kept as version 1")
    else:
        if o.version != 1 or o.sha256 not in ("", sha(OLD)):
            found.append(f"storage holds the old bytes but the file row says version {o.version}")
        if o.kept:
            found.append(f"kept versions registered for a write that did not happen: {sorted(o.kept)}")
    if o.confirmed_saves != o.version - 1:
        found.append(f"{o.confirmed_saves} confirmed PutFile audit records for version {o.version}")
    if o.saved_events != o.version - 1:
        found.append(f"{o.saved_events} 'saved' events for version {o.version}")
    return found


def prepare(rig: Rig) -> OpenFile:
    api = rig.api()
    try:
        tenant_id, folder = new_tenant(api, rig.workdir / "storage")
        f = open_file(api, tenant_id, folder, "doc.docx", content=OLD)
    finally:
        api.close()
    with httpx.Client(timeout=30) as http:
        lock(http, f, LOCK_ID)
    return f


def attempt_put(f: OpenFile, body: bytes) -> int | None:
    """The editor's save; None when the connection broke (the edge died)."""
    try:
        with httpx.Client(timeout=60) as http:
            return int(put(http, f, body, lock_id=LOCK_ID).status_code)
    except httpx.HTTPError:
        return None


def wait_resolved(rig: Rig, f: OpenFile) -> Outcome:
    """Polls until no write intent of the file is pending (the sweep's job), with a deadline."""
    deadline = time.monotonic() + RESOLVE_TIMEOUT_S
    while True:
        outcome = read_outcome(rig, f)
        if not outcome.pending or time.monotonic() > deadline:
            return outcome
        time.sleep(0.1)


def check_file_info(f: OpenFile) -> dict[str, Any]:
    """As an editor does after a 503 (Retry-After): asks again until the restarted process answers."""
    deadline = time.monotonic() + RESOLVE_TIMEOUT_S
    with httpx.Client(timeout=30) as http:
        while True:
            reply = http.get(f.url())
            if reply.status_code != 503 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert reply.status_code == 200, reply.text
        return dict(reply.json())


def crash_put_file(workdir: Path, point: str, *, database_url: str | None = None,
                   size: int = 1 << 20) -> tuple[Outcome, bytes, Rig, int | None]:
    """One PutFile killed at `point` (edge or control), the killed process restarted, the file
    accessed once (the first resolution path), then the sweep awaited (the second)."""
    side = "edge" if point in EDGE_POINTS else "control"
    workdir.mkdir(parents=True, exist_ok=True)
    rig = Rig(workdir, database_url=database_url)
    rig.start_control(f"{point}=kill" if side == "control" else "")
    try:
        rig.start_edge(f"{point}=kill" if side == "edge" else "")
        f = prepare(rig)
        new = secrets.token_bytes(size)
        status = attempt_put(f, new)
        killed = rig.edge if side == "edge" else rig.control
        assert killed is not None
        rig.wait_killed(killed)
        if side == "edge":
            rig.start_edge()
        else:
            rig.start_control()
        check_file_info(f)  # the next access settles what storage already shows
        return wait_resolved(rig, f), new, rig, status
    except BaseException:
        rig.stop()
        raise


# -- the other writes: RenameFile, DeleteFile, PutRelativeFile, restore ---------------------------

OTHER_POINTS = {  # point -> (operation, whether storage changed before the crash)
    "rename.after_begin": ("rename", False),
    "rename.after_move": ("rename", True),
    "delete.after_begin": ("delete", False),
    "delete.after_move": ("delete", True),
    "putrelative.after_begin": ("relative", False),
    "putrelative.after_publish": ("relative", True),
    "restore.after_keep": ("restore", False),
    "restore.after_publish": ("restore", True),
}


def _rows(rig: Rig, sql: str, **params: Any) -> list[Any]:
    engine = rig.engine()
    try:
        with engine.connect() as db:
            return list(db.execute(sqlalchemy.text(sql), params))
    finally:
        engine.dispose()


def _ok_audits(rig: Rig, operation: str, tenant_id: str) -> int:
    """Records of confirmed writes (their detail names the write intent)."""
    return len(_rows(rig, "SELECT id FROM audit_events WHERE tenant_id = :t AND operation = :o AND outcome = 'ok' "
                          "AND detail LIKE '%intent=wi_%'", t=tenant_id, o=operation))


def crash_other(workdir: Path, point: str, *, database_url: str | None = None) -> tuple[list[str], Rig]:
    """One RenameFile / DeleteFile / PutRelativeFile / restore killed at `point`, the process
    restarted, the file accessed, the sweep awaited; returns the mismatches found."""
    operation, changed = OTHER_POINTS[point]
    side = "control" if operation == "restore" else "edge"
    workdir.mkdir(parents=True, exist_ok=True)
    rig = Rig(workdir, database_url=database_url)
    rig.start_control(f"{point}=kill" if side == "control" else "")
    try:
        rig.start_edge(f"{point}=kill" if side == "edge" else "")
        f = prepare(rig)
        folder = f.local_path.parent
        new = secrets.token_bytes(4096)
        with httpx.Client(timeout=60) as http:
            if operation in ("delete", "relative", "restore"):
                http.post(f.url(), headers={"X-WOPI-Override": "UNLOCK", "X-WOPI-Lock": LOCK_ID})
            if operation == "restore":  # a kept version 1 to restore
                assert put(http, f, new, lock_id=None, **{"X-COOL-WOPI-IsAutosave": "false"}).status_code == 200
            try:
                if operation == "rename":
                    http.post(f.url(), headers={"X-WOPI-Override": "RENAME_FILE", "X-WOPI-Lock": LOCK_ID,
                                                "X-WOPI-RequestedName": "renamed"})
                elif operation == "delete":
                    http.post(f.url(), headers={"X-WOPI-Override": "DELETE"})
                elif operation == "relative":
                    http.post(f.url(), content=new, headers={"X-WOPI-Override": "PUT_RELATIVE",
                                                             "X-WOPI-RelativeTarget": "copy.docx"})
            except httpx.HTTPError:
                pass
        if operation == "restore":
            from wopiproxy.control.v1 import file_service_pb2 as file_pb
            from wopiproxy.control.v1 import file_service_pb2_grpc as file_grpc
            api = rig.api()
            try:
                api.call(file_grpc.FileServiceStub(api.channel).RestoreFileVersion,
                         file_pb.RestoreFileVersionRequest(tenant_id=f.tenant_id, file_id=f.file_id, version=1))
            except grpc.RpcError:
                pass  # the control plane dies mid-call: the check below is what matters
            finally:
                api.close()
        killed = rig.edge if side == "edge" else rig.control
        assert killed is not None
        rig.wait_killed(killed)
        rig.start_edge() if side == "edge" else rig.start_control()
        if operation != "delete" or not changed:
            with httpx.Client(timeout=30) as http:
                http.get(f.url())  # the next access
        deadline = time.monotonic() + RESOLVE_TIMEOUT_S
        while _rows(rig, "SELECT id FROM write_intents WHERE state = 'pending'") and time.monotonic() < deadline:
            time.sleep(0.1)
        return _check_other(rig, f, operation, changed, new, folder), rig
    except BaseException:
        rig.stop()
        raise


def _check_other(rig: Rig, f: OpenFile, operation: str, changed: bool, new: bytes, folder: Path) -> list[str]:
    found = []
    if _rows(rig, "SELECT id FROM write_intents WHERE state = 'pending'"):
        found.append("write intents still pending")
    [(path, version, deleted, sha256)] = _rows(
        rig, "SELECT path, version, deleted_time, sha256 FROM files WHERE id = :id", id=f.file_id)
    operation_name = {"rename": "RenameFile", "delete": "DeleteFile", "relative": "PutRelativeFile",
                      "restore": "RestoreFileVersion"}[operation]
    confirmed = _ok_audits(rig, operation_name, f.tenant_id)
    if operation == "rename":
        moved = (folder / "renamed.docx").exists() and not f.local_path.exists()
        if moved != changed:
            found.append(f"storage: moved={moved}, expected {changed}")
        if path != ("renamed.docx" if moved else "doc.docx"):
            found.append(f"the file row's path {path!r} is not where storage holds the file")
        if confirmed != int(moved):
            found.append(f"{confirmed} RenameFile ok audit records")
    elif operation == "delete":
        gone = not f.local_path.exists()
        if gone != changed:
            found.append(f"storage: gone={gone}, expected {changed}")
        if (deleted is not None) != gone:
            found.append(f"the file row says deleted={deleted is not None}, storage gone={gone}")
        if confirmed != int(gone):
            found.append(f"{confirmed} DeleteFile ok audit records")
        if gone and (folder / version_object_path(f.file_id, 1)).read_bytes() != OLD:
            found.append("the deleted bytes were not kept")
    elif operation == "relative":
        target = folder / "copy.docx"
        exists = target.exists()
        rows = _rows(rig, "SELECT version, sha256, deleted_time FROM files WHERE path = 'copy.docx'")
        if exists != changed:
            found.append(f"storage: target exists={exists}, expected {changed}")
        if exists and (not rows or rows[0][1] != sha(target.read_bytes()) or rows[0][2] is not None):
            found.append(f"the target exists in storage but its row says {rows}")
        if not exists and rows:
            found.append(f"no target in storage but a live row {rows}")
        if confirmed != int(exists):
            found.append(f"{confirmed} PutRelativeFile ok audit records")
    else:  # restore: version 2 holds `new`; restoring version 1 puts OLD back as version 3
        stored = f.local_path.read_bytes()
        if stored != (OLD if changed else new):
            found.append("storage holds unexpected bytes")
        if (version, sha256) != ((3, sha(OLD)) if stored == OLD else (2, sha(new))):
            found.append(f"the file row says version {version} for {'old' if stored == OLD else 'new'} bytes")
        if confirmed != int(stored == OLD):
            found.append(f"{confirmed} RestoreFileVersion ok audit records")
    return found

"""VerifyAuditChain: each walk hashes a whole trail on the event loop that also decides every
tenant's WOPI grants, so a tenant's keys run one verification at a time in a control plane, the
process walks one chain at a time whoever asked, and a place is given back however a call ends.

Real calls over gRPC against a real control plane (`serve`) on PostgreSQL, where the test holds
walks without timing: it locks audit_chain_heads, so that a walk waits at its first read, and
sees it waiting in pg_locks."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import grpc
import psycopg
import pytest
from wopiproxy.control.v1 import audit_service_pb2 as audit_pb
from wopiproxy.control.v1 import audit_service_pb2_grpc as audit_grpc

from tests.security.storage_support import hostile_tenant
from tests.support.api import ControlApi, error_reason
from tests.support.deployment import Deployment

pytestmark = pytest.mark.postgres

Deploy = Callable[..., Deployment]


@pytest.fixture
def deployment(deploy: Deploy, postgres_database_url: str) -> Deployment:
    return deploy("serve", control_args=("--database-url", postgres_database_url))


class HeldWalks:
    """The audit chains' heads locked by the test: a walk gets as far as its first read and waits there."""

    def __init__(self, database_url: str) -> None:
        self._conn = psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://"))
        self._conn.execute("LOCK TABLE audit_chain_heads IN ACCESS EXCLUSIVE MODE")

    def waiting(self) -> int:
        """Reads (a walk's; appends would lock rows instead) waiting for the lock."""
        row = self._conn.execute("SELECT count(*) FROM pg_locks WHERE relation = 'audit_chain_heads'::regclass "
                                 "AND mode = 'AccessShareLock' AND NOT granted").fetchone()
        assert row is not None
        return int(row[0])

    def wait_for(self, walks: int, within_s: float = 10) -> None:
        deadline = time.monotonic() + within_s
        while (found := self.waiting()) != walks:
            assert time.monotonic() < deadline, f"{found} walks wait at the database, not {walks}"
            time.sleep(0.02)

    def release(self) -> None:
        if not self._conn.closed:
            self._conn.rollback()
            self._conn.close()


@pytest.fixture
def hold(postgres_database_url: str) -> Iterator[Callable[[], HeldWalks]]:
    """Takes the lock when called (after the test's setup, whose changes append to the trail)."""
    held: list[HeldWalks] = []

    def take() -> HeldWalks:
        held.append(HeldWalks(postgres_database_url))
        return held[-1]

    yield take
    for walks in held:
        walks.release()


def _verify(api: ControlApi, tenant_id: str = "", timeout: float = 60) -> grpc.Future:
    return audit_grpc.AuditServiceStub(api.channel).VerifyAuditChain.future(
        audit_pb.VerifyAuditChainRequest(tenant_id=tenant_id), metadata=api.metadata, timeout=timeout)


def _refusal(api: ControlApi) -> grpc.RpcError:
    error = _verify(api, timeout=15).exception()
    assert isinstance(error, grpc.RpcError), "the verification was accepted"
    return error


def _refused(error: grpc.RpcError) -> bool:
    return (error.code(), error_reason(error)) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "TENANT_LIMIT_EXCEEDED")


def _completed_soon(api: ControlApi, within_s: float = 10) -> audit_pb.VerifyAuditChainResponse:
    """A verification accepted once the tenant's place is free (giving it back happens as the old
    call winds down in the server), run to its end."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            reply: audit_pb.VerifyAuditChainResponse = _verify(api).result()
            return reply
        except grpc.RpcError as error:
            if not _refused(error) or time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def test_a_tenant_key_cannot_run_two_verifications_at_once(
        deployment: Deployment, hold: Callable[[], HeldWalks]) -> None:
    """Attack: a tenant key starts verifications without end, each hashing its whole trail."""
    tenant = hostile_tenant(deployment)
    walks = hold()
    first = _verify(tenant.api)
    walks.wait_for(1)

    error = _refusal(tenant.api)

    assert _refused(error), (error.code(), error.details())
    assert "1 concurrent audit verifications" in (error.details() or "")
    walks.release()
    assert first.result().ok


def test_a_finished_verification_gives_its_place_back(
        deployment: Deployment, hold: Callable[[], HeldWalks]) -> None:
    tenant = hostile_tenant(deployment)
    walks = hold()
    first = _verify(tenant.api)
    walks.wait_for(1)
    assert _refused(_refusal(tenant.api))

    walks.release()
    assert first.result().ok

    assert _verify(tenant.api).result().ok


def test_a_verification_the_client_cancels_gives_its_place_back(
        deployment: Deployment, hold: Callable[[], HeldWalks]) -> None:
    tenant = hostile_tenant(deployment)
    walks = hold()
    first = _verify(tenant.api)
    walks.wait_for(1)
    assert _refused(_refusal(tenant.api))

    first.cancel()
    walks.release()

    assert _completed_soon(tenant.api).ok


def test_a_verification_waiting_its_turn_gives_its_place_back_at_its_deadline(
        deployment: Deployment, hold: Callable[[], HeldWalks]) -> None:
    """While another tenant's walk holds the process's turn: the waiting call leaves the queue
    when its caller stops waiting, so the tenant may ask again (and is not refused for ever)."""
    walker, waiter = hostile_tenant(deployment), hostile_tenant(deployment)
    walks = hold()
    walking = _verify(walker.api)
    walks.wait_for(1)
    assert _refused(_refusal(walker.api))
    expired = _verify(waiter.api, timeout=1).exception()
    assert isinstance(expired, grpc.RpcError) and expired.code() == grpc.StatusCode.DEADLINE_EXCEEDED

    # Accepted again while the walk still holds the turn: the call waits its turn until its own deadline.
    deadline = time.monotonic() + 10
    while _refused(again := _verify(waiter.api, timeout=1).exception()):
        assert time.monotonic() < deadline, "the expired verification still holds the tenant's place"
        time.sleep(0.05)
    assert again.code() == grpc.StatusCode.DEADLINE_EXCEEDED

    walks.release()
    assert walking.result().ok
    assert _completed_soon(waiter.api).ok


def test_another_tenants_verification_waits_its_turn_and_completes(
        deployment: Deployment, hold: Callable[[], HeldWalks]) -> None:
    """Attack: one tenant's verification must not lock another tenant out of its own."""
    full, other = hostile_tenant(deployment), hostile_tenant(deployment)
    walks = hold()
    walking = _verify(full.api)
    walks.wait_for(1)
    waiting = _verify(other.api)
    assert _refused(_refusal(full.api))

    assert walks.waiting() == 1  # the other walk waits for the process's turn, not at the database
    walks.release()

    assert walking.result().ok
    reply = waiting.result()
    assert reply.ok and reply.checked > 0


def test_the_operators_admin_key_is_not_held_to_the_per_tenant_cap(
        deployment: Deployment, hold: Callable[[], HeldWalks]) -> None:
    """The operator verifies a tenant, or every chain, even while the tenant's own key uses its place."""
    tenant = hostile_tenant(deployment)
    walks = hold()
    walking = _verify(tenant.api)
    walks.wait_for(1)
    assert _refused(_refusal(tenant.api))

    one, every = _verify(tenant.admin, tenant.tenant_id), _verify(tenant.admin)
    walks.release()

    assert walking.result().ok and one.result().ok and every.result().ok

"""UploadSlots: the caps on bodies arriving at once, per token and in all, and that a place is
given back however an upload ends (the end-to-end behaviour: tests/e2e/test_upload_slots.py)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from edge.upload_slots import REFUSAL_LOG_INTERVAL_S, UploadSlots
from shared.errors import TooManyUploads, UploadCapacityReached


def test_a_token_gets_per_token_places_and_the_edge_total_places() -> None:
    slots = UploadSlots(per_token=2, per_tenant=0, total=3)
    with slots.slot("a", "t1"), slots.slot("a", "t1"):
        with pytest.raises(TooManyUploads) as refused:
            with slots.slot("a", "t1"):
                pass
        assert refused.value.retry_after_s >= 1
        with slots.slot("b", "t1"):
            with pytest.raises(UploadCapacityReached):
                with slots.slot("c", "t1"):
                    pass
        assert slots.taken == 2
    assert slots.taken == 0


def test_zero_is_no_cap() -> None:
    slots = UploadSlots(per_token=0, per_tenant=0, total=0)
    held = [slots.slot("a", "t1") for _ in range(50)]
    for cm in held:
        cm.__enter__()
    assert slots.taken == 50


def test_a_place_is_given_back_when_the_upload_fails_or_is_cancelled() -> None:
    slots = UploadSlots(per_token=1, per_tenant=0, total=1)
    with pytest.raises(RuntimeError):
        with slots.slot("a", "t1"):
            raise RuntimeError("storage failed")
    assert slots.taken == 0

    async def upload(started: asyncio.Event) -> None:
        with slots.slot("a", "t1"):
            started.set()
            await asyncio.Event().wait()  # a body that never comes

    async def scenario() -> None:
        started = asyncio.Event()
        task = asyncio.create_task(upload(started))
        await started.wait()
        assert slots.taken == 1
        task.cancel()  # the client went away
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert slots.taken == 0
    with slots.slot("a", "t1"):
        pass


def test_refusals_are_logged_at_most_once_a_minute_per_cap(caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    slots = UploadSlots(per_token=1, per_tenant=0, total=5, clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="edge.upload_slots")
    with slots.slot("a", "t1"):
        for _ in range(3):
            with pytest.raises(TooManyUploads):
                with slots.slot("a", "t1"):
                    pass
        assert len(caplog.records) == 1
        now[0] += REFUSAL_LOG_INTERVAL_S
        with pytest.raises(TooManyUploads):
            with slots.slot("a", "t1"):
                pass
    assert len(caplog.records) == 2
    assert "3 such refusals" in caplog.records[1].getMessage()  # the two held back, and this one


def test_a_tenant_gets_per_tenant_places_whatever_its_tokens() -> None:
    slots = UploadSlots(per_token=4, per_tenant=2, total=10)
    with slots.slot("a", "t1"), slots.slot("b", "t1"):
        with pytest.raises(TooManyUploads) as refused:
            with slots.slot("c", "t1"):  # a fresh token of the same tenant
                pass
        assert "organisation" in refused.value.message
        with slots.slot("d", "t2"):  # another tenant still gets its places
            pass
    with slots.slot("c", "t1"):  # given back
        pass
    assert slots.taken == 0


def test_a_tenant_may_hold_half_the_edge_by_default() -> None:
    slots = UploadSlots(per_token=0, total=6)
    assert slots.per_tenant == 3
    held = [slots.slot(f"k{n}", "t1") for n in range(3)]
    for cm in held:
        cm.__enter__()
    with pytest.raises(TooManyUploads):
        with slots.slot("k9", "t1"):
            pass
    others = [slots.slot(f"o{n}", "t2") for n in range(3)]
    for cm in others:
        cm.__enter__()  # the other half is the other tenants'
    with pytest.raises(UploadCapacityReached):
        with slots.slot("x", "t3"):
            pass
    assert UploadSlots(per_token=0, total=1).per_tenant == 1
    assert UploadSlots(per_token=0, total=0).per_tenant == 0


def test_a_tenant_refusal_is_counted_under_its_own_cap(caplog: pytest.LogCaptureFixture) -> None:
    slots = UploadSlots(per_token=0, per_tenant=1, total=5)
    caplog.set_level(logging.WARNING, logger="edge.upload_slots")
    with slots.slot("a", "t1"):
        with pytest.raises(TooManyUploads):
            with slots.slot("b", "t1"):
                pass
    assert "--max-uploads-per-tenant 1" in caplog.records[0].getMessage()


def test_download_slots_refuse_with_download_errors_and_come_back_once_released() -> None:
    from shared.errors import DownloadCapacityReached, TooManyDownloads

    slots = UploadSlots(per_token=1, total=2, per_tenant=2, kind="downloads")
    release = slots.take("tok", "t-1")
    with pytest.raises(TooManyDownloads):
        slots.take("tok", "t-1")
    other = slots.take("tok-2", "t-1")
    with pytest.raises(DownloadCapacityReached):
        slots.take("tok-3", "t-2")
    release()
    release()  # a second call gives back nothing more
    assert slots.taken == 1
    other()
    assert slots.taken == 0

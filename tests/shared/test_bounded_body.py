"""shared/bounded_body.py: an answer from someone else's server is read decoded, whole and
correct when under the cap, and refused past it without ever holding much more than the cap."""

from __future__ import annotations

import gzip
import os
import tracemalloc
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest

from shared.bounded_body import UnreadableBody, read_capped


async def _answer(body: bytes, headers: dict[str, str], *, chunk: int = 64 << 10) -> httpx.Response:
    """A streamed response whose raw bytes arrive in `chunk`-sized pieces, as from a socket."""

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), chunk):
            yield body[start:start + chunk]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=headers, content=pieces())

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return await client.send(client.build_request("GET", "http://app.example/"), stream=True)


# A body that compresses well and is not uniform: chunks inflate far past one decoding step.
TEXT = b"".join(b"line %07d of a document that repeats itself\n" % n for n in range(200_000))


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate", ""])
async def test_a_body_under_the_cap_is_read_whole_and_decoded(encoding: str) -> None:
    if encoding == "gzip":
        sent, header = gzip.compress(TEXT), "gzip"
    elif encoding == "deflate":
        sent, header = zlib.compress(TEXT), "deflate"
    elif encoding == "raw-deflate":
        squeeze = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        sent, header = squeeze.compress(TEXT) + squeeze.flush(), "deflate"
    else:
        sent, header = TEXT, ""
    answer = await _answer(sent, {"Content-Encoding": header} if header else {})
    assert await read_capped(answer, len(TEXT)) == TEXT


async def test_a_body_one_byte_over_the_cap_once_decoded_is_refused() -> None:
    answer = await _answer(gzip.compress(TEXT), {"Content-Encoding": "gzip"})
    with pytest.raises(UnreadableBody, match="once decoded"):
        await read_capped(answer, len(TEXT) - 1)


async def test_a_compressed_bomb_is_refused_holding_little_more_than_the_cap() -> None:
    """httpx's own decoding inflated each 64 KiB chunk whole: about 64 MiB at once."""
    bomb = gzip.compress(bytes(200 << 20), compresslevel=9)
    answer = await _answer(bomb, {"Content-Encoding": "gzip"})
    tracemalloc.start()
    try:
        with pytest.raises(UnreadableBody, match="once decoded"):
            await read_capped(answer, 4 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < (4 << 20) + (4 << 20), f"{peak >> 20} MiB held for a cap of 4 MiB"


async def test_a_body_that_does_not_decode_as_declared_is_refused() -> None:
    answer = await _answer(os.urandom(1000), {"Content-Encoding": "gzip"})
    with pytest.raises(UnreadableBody, match="does not decode"):
        await read_capped(answer, 1 << 20)


async def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    answer = await _answer(b"x" * 100, {"Content-Length": "100"})
    with pytest.raises(UnreadableBody, match="100 bytes declared"):
        await read_capped(answer, 99)

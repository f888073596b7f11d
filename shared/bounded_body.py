"""Reading an HTTP answer that someone else's server chose (a tenant's editor or app), holding no
more than a cap: the bytes as sent are counted, and so are the bytes once decoded (gzip or
deflate), which are decoded no further than the cap. Why: httpx decodes each network chunk whole,
so 64 KiB of a gzip bomb became 64 MiB in memory before any count could refuse it."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import httpx

STEP = 1 << 20  # decoded at a time: what one network chunk may inflate to before it is counted


class UnreadableBody(ValueError):
    """The answer is over the cap, or does not decode as its Content-Encoding says."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BoundedDecoder:
    """Content-Encoding gzip or deflate (or none), never producing more than asked for."""

    def __init__(self, content_encoding: str) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        self._inflate: zlib._Decompress | None = None
        self._raw_deflate_fallback = False
        if not codings:
            return
        if codings in (["gzip"], ["x-gzip"]):
            self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif codings == ["deflate"]:
            # RFC 9110 says zlib-wrapped; some servers send raw deflate (as httpx also tolerates).
            self._inflate = zlib.decompressobj(zlib.MAX_WBITS)
            self._raw_deflate_fallback = True
        else:
            raise UnreadableBody("unsupported Content-Encoding (gzip and deflate are accepted)")

    def decode(self, data: bytes, room: int) -> Iterator[bytes]:
        """The bytes `data` decodes to, in pieces of at most STEP; stops once more than `room`
        were produced (the caller refuses the body then)."""
        if self._inflate is None:
            yield data
            return
        produced = 0
        while True:
            try:
                piece = self._inflate.decompress(data, STEP)
            except zlib.error:
                if not self._raw_deflate_fallback:
                    raise UnreadableBody("the body does not decode as its Content-Encoding says") from None
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate after all
                self._raw_deflate_fallback = False
                continue
            self._raw_deflate_fallback = False  # only the first bytes tell which deflate it is
            produced += len(piece)
            if piece:
                yield piece
            data = self._inflate.unconsumed_tail
            if produced > room or not data:
                return

    def flush(self) -> bytes:
        """What the decoder still holds once every byte was given (never much: decode leaves no
        input behind)."""
        if self._inflate is None:
            return b""
        try:
            return self._inflate.flush()
        except zlib.error:
            raise UnreadableBody("the body does not decode as its Content-Encoding says") from None


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """The body of a streamed `response`, decoded; UnreadableBody past `limit` bytes (sent or
    decoded) or when it does not decode."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise UnreadableBody(f"too large: {declared} bytes declared, the limit is {limit}")
    decoder = BoundedDecoder(response.headers.get("Content-Encoding", ""))
    parts: list[bytes] = []  # joined once at the end: a growing buffer would copy itself as it grows
    received = decoded = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > limit:
            raise UnreadableBody(f"too large: more than {limit} bytes")
        for piece in decoder.decode(chunk, limit - decoded):
            parts.append(piece)
            decoded += len(piece)
        if decoded > limit:
            raise UnreadableBody(f"too large: more than {limit} bytes once decoded")
    parts.append(decoder.flush())
    if decoded + len(parts[-1]) > limit:
        raise UnreadableBody(f"too large: more than {limit} bytes once decoded")
    return b"".join(parts)

"""Raw HTTP/1.1 over a socket: requests written byte for byte, whole answers read back.

For the tests of what answers before routing (the fast path and the public front), which must
be compared byte for byte with aiohttp's own server.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def without_date(self) -> tuple[int, list[tuple[str, str]], bytes]:
        return self.status, [(k, v) for k, v in self.headers if k != "Date"], self.body


class Conn:
    """One raw HTTP/1.1 connection: write request bytes, read whole answers back."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def answer(self, *, head_only: bool = False) -> Answer:
        raw = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 10)
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = [tuple(line.split(": ", 1)) for line in lines[1:] if line]
        answer = Answer(status, headers, b"")  # type: ignore[arg-type]
        length = answer.header("Content-Length")
        if length is not None and not head_only and status != 304:
            answer.body = await asyncio.wait_for(self.reader.readexactly(int(length)), 10)
        return answer

    async def closed(self) -> bool:
        return await asyncio.wait_for(self.reader.read(1), 10) == b""


def get(path: str, *extra: str, version: str = "1.1") -> bytes:
    lines = [f"GET {path} HTTP/{version}", "Host: news.example", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@asynccontextmanager
async def connect(host: str, port: int) -> AsyncIterator[Conn]:
    reader, writer = await asyncio.open_connection(host, port, limit=2**22)
    try:
        yield Conn(reader, writer)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


# Paths a page asks for again and again: each is a kept variant once it was answered.
HOT_PATHS = (
    "/widget",
    "/widget?lang=en&theme=dark",
    "/widget/frame",
    "/embed.js",
    "/v1/observations",
    "/v1/stations/108",
)

# Requests a page, a scanner or a broken client might send, and whether the answer has a body.
MIXED = [
    (get("/widget"), True),
    (get("/widget", "Accept-Encoding: gzip"), True),
    (get("/widget", "accept-encoding:gzip", "CONNECTION: Keep-Alive"), True),
    (get("/widget?lang=en&theme=dark"), True),
    (get("/v1/observations"), True),
    (get("/v1/stations/108", "Accept-Encoding: br;q=1, gzip;q=0.5"), True),
    (get("/embed.js"), True),
    (get("/widget", 'If-None-Match: "nope", W/"x"'), True),
    (get("/widget?bad=1"), True),
    (get("/nope"), True),
    (get("/widget?lang=en&lang=ko"), True),
    (b"GET /widget HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", True),
    (b"GET /widget HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", True),
    (b"HEAD /widget HTTP/1.1\r\nHost: x\r\n\r\n", False),
    (b"DELETE /v1/observations HTTP/1.1\r\nHost: x\r\n\r\n", True),
    (get("/healthz"), True),
]


async def same_answers_to_mixed_pipelines(port: int, ref_port: int, seed: int, cases: int = 40) -> None:
    """Random runs of ``MIXED`` requests, cut at random byte boundaries, sent to the server on
    ``port`` and to the reference on ``ref_port``: the answers must be the same, in the same order."""
    rng = random.Random(seed)
    for case in range(cases):
        picks = [rng.choice(MIXED) for _ in range(rng.randint(1, 10))]
        data = b"".join(request for request, _ in picks)
        cuts = sorted(rng.sample(range(1, len(data)), min(rng.randint(0, 6), len(data) - 1)))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        got: list[object] = []
        want: list[object] = []
        for target, answers in ((port, got), (ref_port, want)):
            async with connect("127.0.0.1", target) as conn:
                for chunk in chunks:
                    await conn.send(chunk)
                    await asyncio.sleep(0)  # let the server read each piece on its own
                for _, has_body in picks:
                    answers.append((await conn.answer(head_only=not has_body)).without_date())
        assert got == want, (case, picks)

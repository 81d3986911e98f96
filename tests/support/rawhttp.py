"""Raw HTTP/1.1 over a socket: requests written byte for byte, whole answers read back.

For the tests of what answers before routing (the fast path and the public front), which must
be compared byte for byte with aiohttp's own server.
"""

from __future__ import annotations

import asyncio
import contextlib
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

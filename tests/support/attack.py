"""Raw HTTP/1.1 clients for the attack tests: keep-alive request streams and reading answers."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from pathlib import Path


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 answer with a Content-Length body: (status, headers lower-cased, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return status, headers, body


async def keepalive_stream(
    host: str, port: int, targets: list[str], *, timeout: float = 10.0
) -> Counter[int]:
    """Send each target as its own GET on one kept-alive connection, in order; count statuses."""
    statuses: Counter[int] = Counter()
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        for target in targets:
            writer.write(f"GET {target} HTTP/1.1\r\nHost: h1\r\n\r\n".encode("latin-1"))
            status, headers, _ = await asyncio.wait_for(read_answer(reader), timeout)
            statuses[status] += 1
            if headers.get("connection", "").lower() == "close":
                writer.close()
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return statuses


async def spread(host: str, port: int, targets: list[str], *, connections: int = 16) -> Counter[int]:
    """``targets`` over ``connections`` kept-alive connections at once; statuses summed."""
    parts = [targets[i::connections] for i in range(connections)]
    total: Counter[int] = Counter()
    for counts in await asyncio.gather(*(keepalive_stream(host, port, p) for p in parts if p)):
        total.update(counts)
    return total


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def series(metrics_text: str, name: str) -> set[str]:
    """The label sets of one metric's samples in a Prometheus text exposition."""
    return {line.split(" ")[0] for line in metrics_text.splitlines() if line.startswith(name + "{")}

"""Hostile requests: random paths and query strings, each carrying a unique token.

Used by the suite (a bounded sample) and by ``bench/hostile.py`` (10,000 against a running
service). A response must never be a 5xx and must never contain its request's token, raw or
URL-decoded, in its status line, headers or body.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import string
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

ROUTES = (
    "/widget", "/widget/frame", "/embed.js", "/demo", "/v1/observations", "/v1/stations/108",
    "/v1/stations/", "/v1/freshness", "/healthz", "/readyz", "/metrics", "/status", "/openapi.json",
    "/", "/static/", "/favicon.ico", "/widget/", "/v1/", "/v1/stations/108/x",
)  # fmt: skip
PARAMS = ("lang", "theme", "layout", "icons", "stations", "callback", "q", "id", "_")

PAYLOADS = (
    "<script>alert('{t}')</script>", '"><img src=x onerror={t}>', "{t}</script><script>",
    "'{t}'", "../../../etc/passwd?{t}", "..%2f..%2f{t}", "%2e%2e%2f{t}", "{t}%00", "{t}\x00",
    "{t}%0d%0aSet-Cookie:%20x={t}", "{t}\r\nX-Injected: {t}", "%ff%fe{t}", "{{{{{t}}}}}", "${{{t}}}",
    "javascript:{t}", "{t};DROP TABLE", "\u202e{t}", "{t}" + "A" * 3000, "{t}\u0000\u0001", "%{t}",
    "%%{t}%", "{t}%ZZ", "108,{t}", "ko,{t}", "{t}&lang=ko", "{t}#frag", "{t}?x", "//{t}",
    "\\\\{t}", "{t}" + "/" * 50, "ー{t}한글", "{t}%C0%AE%C0%AE",
)  # fmt: skip


def token(rng: random.Random) -> str:
    return "zq" + "".join(rng.choices(string.ascii_lowercase + string.digits, k=10))


def _encode(text: str, rng: random.Random) -> str:
    """Percent-encode some of the time; send raw (possibly invalid) bytes otherwise."""
    mode = rng.random()
    if mode < 0.4:
        return quote(text, safe="")
    if mode < 0.7:
        return quote(text, safe="/?&=%;:@,<>\"'")
    return text


def hostile_target(rng: random.Random) -> tuple[str, str]:
    """One request target (path plus query) and its token."""
    t = token(rng)
    payload = rng.choice(PAYLOADS).format(t=t)
    route = rng.choice(ROUTES)
    kind = rng.randrange(8)
    if kind == 0:
        return f"{route}?{rng.choice(PARAMS)}={_encode(payload, rng)}", t
    if kind == 1:
        return f"{route}?{_encode(payload, rng)}=1", t
    if kind == 2:
        return f"{route}?lang=ko&lang={_encode(payload, rng)}", t
    if kind == 3:
        return f"{route}?stations=108,{_encode(payload, rng)}", t
    if kind == 4:
        return f"{route.rstrip('/')}/{_encode(payload, rng)}", t
    if kind == 5:
        return f"/{_encode(payload, rng)}", t
    if kind == 6:
        return f"/v1/stations/{_encode(payload, rng)}", t
    pairs = "&".join(f"{rng.choice(PARAMS)}={_encode(payload, rng)}" for _ in range(rng.randint(2, 6)))
    return f"{route}?{pairs}", t


@dataclass
class Outcome:
    statuses: Counter[int] = field(default_factory=Counter)
    reflected: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    no_answer: int = 0

    @property
    def total(self) -> int:
        return sum(self.statuses.values()) + self.no_answer


def _reflects(raw: bytes, t: str) -> bool:
    text = raw.decode("latin-1").lower()
    return t in text or t in unquote(text)


async def send_raw(host: str, port: int, target: str, *, timeout: float = 5.0) -> bytes:
    """Send one GET with the target exactly as given; return the whole raw response."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        request = f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
        writer.write(request.encode("utf-8", errors="surrogateescape"))
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def run_hostile(host: str, port: int, count: int, *, seed: int = 1, concurrency: int = 16) -> Outcome:
    """Send ``count`` hostile requests and collect statuses, reflections and 5xx."""
    rng = random.Random(seed)
    targets = [hostile_target(rng) for _ in range(count)]
    outcome = Outcome()
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for item in targets:
        queue.put_nowait(item)

    async def worker() -> None:
        while not queue.empty():
            target, t = queue.get_nowait()
            try:
                raw = await send_raw(host, port, target)
            except (OSError, TimeoutError):
                outcome.no_answer += 1
                continue
            head = raw.split(b"\r\n", 1)[0].split()
            status = int(head[1]) if len(head) > 1 and head[1].isdigit() else 0
            outcome.statuses[status] += 1
            if status >= 500 or status == 0:
                outcome.server_errors.append(target[:200])
            if _reflects(raw, t):
                outcome.reflected.append(target[:200])

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return outcome

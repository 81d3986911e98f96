"""Helpers shared by tests: HTML parsing of the widget, waiting on conditions."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from html.parser import HTMLParser
from typing import Any


class WidgetParser(HTMLParser):
    """Collects the date line, each station's visible text and the attribution."""

    def __init__(self) -> None:
        super().__init__()
        self.date = ""
        self.attribution = ""
        self.stations: list[dict[str, str]] = []
        self._stack: list[tuple[str, str]] = []
        self._current: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        cls = dict(attrs).get("class") or ""
        self._stack.append((tag, cls))
        if "kt-st" in cls.split():
            self._current = {
                "id": dict(attrs).get("data-station") or "",
                "cond": "",
                "name": "",
                "temp": "",
                "class": cls,
            }
            self.stations.append(self._current)

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            t, cls = self._stack.pop()
            if "kt-st" in cls.split():
                self._current = None
            if t == tag:
                break

    def handle_data(self, data: str) -> None:
        classes = {c for _, cls in self._stack for c in cls.split()}
        if "kt-short" in classes or "kt-sr" in classes:
            return  # the same date shortened for narrow strips; text for screen readers only
        if "kt-date" in classes:
            self.date += data
        elif "kt-attr" in classes:
            self.attribution += data
        elif self._current is not None:
            for part, key in (("kt-cond", "cond"), ("kt-name", "name"), ("kt-temp", "temp")):
                if part in classes:
                    self._current[key] += data

    def lines(self) -> list[str]:
        """Each station as the reader sees it: '맑음 서울 32.7℃' (or without a word)."""
        return [" ".join(p for p in (s["cond"], s["name"], s["temp"]) if p) for s in self.stations]


def parse_widget(html: str) -> WidgetParser:
    parser = WidgetParser()
    parser.feed(html)
    parser.close()
    return parser


async def wait_for(
    predicate: Callable[[], Awaitable[bool]], *, timeout: float = 10.0, what: str = "condition"
) -> None:
    """Poll an async predicate until it holds or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def wait_until(predicate: Callable[[], bool], *, timeout: float = 10.0, what: str = "condition") -> None:
    """Blocking twin of wait_for, for subprocess tests."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def poll_sim(stations, store, clock) -> None:
    """One sim poll cycle into the test's Redis; it must succeed."""
    from ticker.poll.poller import Poller
    from ticker.poll.sources.sim import SimSource

    poller = Poller(stations=stations, source=SimSource(), store=store, clock=clock, interval_s=60)
    result = await poller.run_once()
    assert result.outcome == "ok", result


def web_app(settings, stations, store, clock, **kwargs):
    """A web-role app on the test's Redis and clock (no periodic check unless asked)."""
    from ticker.app import create_app

    kwargs.setdefault("snapshot_check_s", 3600)
    return create_app(settings, stations=stations, redis=store.redis, clock=clock, role="web", **kwargs)


def front_door_server(app):
    """aiohttp's TestServer, served as `ticker serve` serves: the public front on the socket,
    the fast-path runner behind it."""
    from aiohttp.test_utils import TestServer
    from yarl import URL

    from ticker.web.fastpath import FastPathRunner
    from ticker.web.front import FrontSite

    class FrontDoorTestServer(TestServer):
        front_site: FrontSite | None = None

        async def _make_runner(self, **kwargs):
            return FastPathRunner(self.app, **kwargs)

        async def start_server(self, loop=None, **kwargs) -> None:
            if self.runner:
                return
            runner = self.runner = await self._make_runner(handler_cancellation=True, **kwargs)
            await runner.setup()
            self.front_site = FrontSite(runner, cap=10_000)
            self.port = await self.front_site.start(self.host, self.port or 0)
            self.scheme = "http"
            self._root = URL(f"http://{self.host}:{self.port}")

        async def close(self) -> None:
            if self.front_site is not None and not self.closed:
                await self.front_site.stop()
            await super().close()

    return FrontDoorTestServer(app, host="127.0.0.1")


@contextlib.asynccontextmanager
async def served(app) -> AsyncIterator[Any]:
    """``app`` served through the front door, as ``ticker serve`` serves it, for one block."""
    server = front_door_server(app)
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()

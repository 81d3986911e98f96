"""Ops test helpers: an app on the real Redis, one poll through the real hook, page parsing."""

from __future__ import annotations

from html.parser import HTMLParser

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import FixedClock
from ticker.app import create_app
from ticker.config import Settings
from ticker.freshness import Cycle
from ticker.models import Station
from ticker.poll.poller import Poller, cycle_hook
from ticker.poll.sources import Source
from ticker.poll.sources.sim import SimSource
from ticker.store import Store
from ticker.web import keys


def ops_app(
    settings: Settings,
    stations: list[Station],
    store: Store,
    clock: FixedClock,
    *,
    role: str = "web",
    registry: CollectorRegistry | None = None,
) -> web.Application:
    return create_app(
        settings,
        stations=stations,
        redis=store.redis,
        clock=clock,
        role=role,
        registry=registry or CollectorRegistry(),
    )


async def poll(app: web.Application, source: Source | None = None) -> Cycle:
    """One poll cycle with the app's cycle hook, then the web snapshot catches up."""
    stations: list[Station] = app[keys.STATIONS]
    poller = Poller(
        stations=stations,
        source=source or SimSource(),
        store=app[keys.STORE],
        clock=app[keys.CLOCK],
        interval_s=app[keys.SETTINGS].effective_poll_interval_s,
        on_cycle=cycle_hook(app[keys.METRICS], app[keys.STORE], stations, app[keys.CLOCK]),
    )
    result = await poller.run_once()
    await app[keys.LIVE].refresh(app[keys.STORE])
    return result


async def has_cycle(store: Store) -> bool:
    """True once a poll cycle has been recorded (a scheduled one finished)."""
    return bool(await store.load_cycles())


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text answer by (name, labels)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def sample(text: str, metric: str, /, **labels: str) -> float | None:
    return samples(text).get((metric, frozenset(labels.items())))


class StatusPage(HTMLParser):
    """The parts of /status a person reads: overall verdict, headline, one state per station."""

    def __init__(self) -> None:
        super().__init__()
        self.overall = ""
        self.summary = ""
        self.states: dict[int, str] = {}
        self.rows: dict[int, list[str]] = {}
        self.problems: list[str] = []
        self.refresh: str | None = None
        self._in: str | None = None
        self._row: int | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "meta" and a.get("http-equiv") == "refresh":
            self.refresh = a.get("content")
        if a.get("id") in ("overall", "summary"):
            self._in = a["id"]
        if tag == "tr" and a.get("data-station"):
            self._row = int(a["data-station"] or 0)
            self.states[self._row] = a.get("data-state") or ""
            self.rows[self._row] = []
        if tag == "td" and self._row is not None:
            self._cell = []
        if tag == "li" and self._in is None:
            self._in = "problem"
            self.problems.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._in in ("overall", "summary"):
            self._in = None
        if tag == "li" and self._in == "problem":
            self._in = None
        if tag == "td" and self._cell is not None and self._row is not None:
            self.rows[self._row].append(" ".join("".join(self._cell).split()))
            self._cell = None
        if tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._in == "overall":
            self.overall += data.strip()
        elif self._in == "summary":
            self.summary += data
        elif self._in == "problem":
            self.problems[-1] += data
        if self._cell is not None:
            self._cell.append(data)


def parse_status(html: str) -> StatusPage:
    page = StatusPage()
    page.feed(html)
    page.close()
    return page

"""The commands besides ``serve``: ``poll --once``, ``check`` and ``doctor``, and what ``serve``
shares with them (the Redis URL in effect, the settings checked before anything starts)."""

from __future__ import annotations

import contextlib
import logging
import sys
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime

from pydantic import SecretStr

from ticker.config import Settings
from ticker.embedded import EmbeddedRedis
from ticker.errors import ConfigError, StoreError
from ticker.freshness import State, assess
from ticker.models import KST, Station
from ticker.poll.doctor import Probe, Verdict, probe_upstreams
from ticker.poll.poller import Poller
from ticker.poll.sources import build_source, new_session
from ticker.poll.sources.kma_warnings import build_warnings_source
from ticker.poll.warnings import WarningsPoller
from ticker.redis_client import connect
from ticker.redis_url import validate_redis_url
from ticker.report import Status, check_line, load_report
from ticker.stations import load_stations
from ticker.store import Store
from ticker.web.policy import check_frame_ancestors
from ticker.wrn import WeatherWarning, covering

logger = logging.getLogger("ticker")


@contextlib.contextmanager
def redis_url(settings: Settings) -> Iterator[str]:
    """The configured Redis URL, or that of the embedded Redis for the duration."""
    if settings.redis_url is not None:
        yield settings.redis_url.get_secret_value()
        return
    embedded = EmbeddedRedis(settings.data_dir)
    try:
        yield embedded.start()
    finally:
        embedded.stop()


def preflight(settings: Settings) -> None:
    """The settings a command relies on, checked before anything starts; ConfigError names one."""
    if settings.redis_url is not None:
        validate_redis_url(settings.redis_url.get_secret_value())
    check_frame_ancestors(settings.frame_ancestors)
    if settings.effective_source == "kma_apihub" and settings.kma_auth_key is None:
        msg = "TICKER_SOURCE=kma_apihub needs TICKER_KMA_AUTH_KEY"
        raise ConfigError(msg)


async def poll_once(settings: Settings, stations: list[Station]) -> int:
    """One poll cycle against the configured source and Redis; print a per-station summary."""
    with redis_url(settings) as url:
        redis = connect(url)
        store = Store(redis)
        try:
            async with new_session() as session:
                source = build_source(settings, session)
                poller = Poller(
                    stations=stations,
                    source=source,
                    store=store,
                    clock=lambda: datetime.now(UTC),
                    interval_s=settings.effective_poll_interval_s,
                    budget_s=settings.kma_cycle_budget_s,
                )
                result = await poller.run_once()
                await source.close()
                # The warnings feed too: the strip shows both, so one run checks both.
                warned = await WarningsPoller(
                    stations=stations,
                    source=build_warnings_source(settings, session),
                    store=store,
                    clock=lambda: datetime.now(UTC),
                    max_age_s=settings.warnings_max_age_s,
                ).run_once()
            now = datetime.now(UTC)
            try:
                snap = await store.load_snapshot()
            except StoreError as err:
                print(f"poll failed: cannot read Redis ({err})", file=sys.stderr)
                return 1
        finally:
            await redis.aclose()
    rows = assess(stations, snap.observations, snap.fetched_at, now)
    table = []
    for row in rows:
        obs = snap.observations.get(row.id)
        temp = "-" if obs is None or obs.temperature_c is None else f"{obs.temperature_c:.1f}℃"
        word = obs.condition.label_ko if obs and obs.condition else "-"
        when = row.observed_at.astimezone(KST).strftime("%m-%d %H:%M") if row.observed_at else "-"
        table.append([str(row.id), row.name, row.state.value, when, word, temp])
    for line in aligned(table, right=(0,)):
        print(line)
    print(warnings_line(stations, snap.warnings) if warned.error_kind is None else "warnings: -")
    bad = [r for r in rows if r.state is not State.FRESH]
    if result.unfinished:
        print(
            f"not finished within the cycle budget of {settings.kma_cycle_budget_s:g}s: "
            + ", ".join(result.unfinished),
            file=sys.stderr,
        )
    if warned.error_kind is not None:
        why = " ".join((warned.message or "").split())
        print(f"warnings failed: {warned.source} {warned.error_kind}: {why}", file=sys.stderr)
    if result.error_kind is not None:
        why = " ".join((result.message or "").split())  # one line, whatever the upstream said
        print(f"poll failed: {result.source} {result.error_kind}: {why}", file=sys.stderr)
        return 1
    if bad:
        names = ", ".join(f"{r.name}({r.state.value})" for r in bad)
        print(f"poll incomplete: {len(bad)} of {len(rows)} stations not fresh: {names}", file=sys.stderr)
        return 1
    if warned.error_kind is not None:
        return 1
    rejected = ", ".join(f"{reason} {n}" for reason, n in sorted(result.rejected.items()))
    note = f"; rows rejected: {rejected}" if rejected else ""
    print(f"poll ok: {len(rows)} stations fresh from {result.source} ({result.written} new{note})")
    return 0


def warnings_line(stations: Sequence[Station], warnings: Sequence[WeatherWarning]) -> str:
    """The warnings in effect on the stations, one line: "warnings: 서울 폭염경보; 대구 호우주의보"."""
    under = [
        f"{s.name} {', '.join(w.label_with_period('ko') for w in found)}"
        for s in stations
        if (found := covering(warnings, s.warning_chain))
    ]
    return "warnings: " + ("; ".join(under) if under else "none in effect")


def display_width(text: str) -> int:
    """Columns a terminal gives ``text``: two for wide characters such as Hangul, none for combining."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def aligned(rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()) -> list[str]:
    """Rows as lines with every column padded to its widest cell, by display width."""
    widths = [max(display_width(row[i]) for row in rows) for i in range(len(rows[0]))] if rows else []
    lines = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            pad = " " * (widths[i] - display_width(cell))
            cells.append(pad + cell if i in right else cell + pad)
        lines.append(" ".join(cells).rstrip())
    return lines


def check_redis_url(settings: Settings) -> str | None:
    """The Redis to check: configured, else an embedded one already running; never start one."""
    if settings.redis_url is not None:
        return settings.redis_url.get_secret_value()
    return EmbeddedRedis(settings.data_dir).running_url()


async def check(
    settings: Settings,
    stations: list[Station],
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Freshness for monitors from Redis alone: one line, exit 0 ok, 1 warning, 2 critical."""
    url = check_redis_url(settings)
    if url is None:
        print(
            "CRITICAL - no Redis: TICKER_REDIS_URL is unset and no embedded Redis "
            f"is running for {settings.data_dir}"
        )
        return Status.CRITICAL.exit_code
    redis = connect(url)
    try:
        report = await load_report(
            Store(redis),
            stations,
            clock(),
            interval_s=settings.effective_poll_interval_s,
            source_names=[settings.effective_source, *settings.effective_word_feeds],
            warnings_source=settings.warnings_source,
            warnings_max_age_s=settings.warnings_max_age_s,
        )
    finally:
        await redis.aclose()
    print(check_line(report))
    return report.status.exit_code


def settings_in_effect(settings: Settings) -> list[str]:
    """``TICKER_X=value`` for every setting; secrets only as set or unset; defaults marked."""
    lines = []
    for name, field in type(settings).model_fields.items():
        value = getattr(settings, name)
        if isinstance(value, SecretStr) or "secret" in str(field.annotation).lower():
            shown = "(unset)" if value is None else "(set)"
        else:
            shown = "(unset)" if value is None else str(value)
        if name == "source":
            shown += f" -> {settings.effective_source}"
        origin = "" if name in settings.model_fields_set else "  (default)"
        lines.append(f"TICKER_{name.upper()}={shown}{origin}")
    return lines


async def _redis_probe(settings: Settings) -> Probe:
    if settings.redis_url is None:
        running = EmbeddedRedis(settings.data_dir).running_url()
        state = "running" if running else "started by 'ticker serve'"
        return Probe(
            Verdict.OK, "redis", f"embedded (TICKER_REDIS_URL unset), {state}, data in {settings.data_dir}"
        )
    redis = connect(settings.redis_url.get_secret_value())
    try:
        await Store(redis).ping()
    except StoreError as err:
        return Probe(Verdict.FAIL, "redis", f"TICKER_REDIS_URL does not answer ({err})")
    finally:
        await redis.aclose()
    return Probe(Verdict.OK, "redis", "TICKER_REDIS_URL answers")


def _source_probe(settings: Settings) -> Probe:
    source = settings.effective_source
    if source == "sim" and settings.source is None:
        return Probe(
            Verdict.FAIL,
            "source",
            "sim: no TICKER_KMA_AUTH_KEY, so the service would serve simulated weather "
            "(set the key, or TICKER_SOURCE=sim to mean it)",
        )
    if source == "sim":
        return Probe(Verdict.OK, "source", "sim (TICKER_SOURCE=sim): simulated weather, labelled as such")
    return Probe(Verdict.OK, "source", f"{source}: real KMA data")


async def doctor(settings: Settings, *, now: datetime | None = None) -> int:
    """One line per check; exit 0 only when everything the settings need works."""
    probes: list[tuple[Probe, bool]] = []
    path = settings.stations_path()
    stations: list[Station] = []
    try:
        stations = load_stations(path)
        probes.append((Probe(Verdict.OK, "stations", f"{path}: {len(stations)} stations"), True))
    except ConfigError as err:
        probes.append((Probe(Verdict.FAIL, "stations", str(err)), True))
    try:
        preflight(settings)
        probes.append((Probe(Verdict.OK, "settings", "valid"), True))
    except ConfigError as err:
        probes.append((Probe(Verdict.FAIL, "settings", str(err)), True))
    probes.append((_source_probe(settings), True))
    try:
        probes.append((await _redis_probe(settings), True))
    except ConfigError as err:
        probes.append((Probe(Verdict.FAIL, "redis", str(err)), True))
    if stations:
        probes += await probe_upstreams(settings, stations[0], now or datetime.now(UTC))
    for probe, _needed in probes:
        print(probe.line())
    print("settings in effect:")
    for line in settings_in_effect(settings):
        print(f"  {line}")
    failed = [p.name for p, needed in probes if needed and p.verdict is Verdict.FAIL]
    if failed:
        print(f"doctor: {len(failed)} problem(s): {', '.join(failed)}", file=sys.stderr)
        return 1
    print("doctor: everything needed works")
    return 0

"""The ops verdict: stations, sources and the poller judged together, read from Redis.

The same report feeds ``/v1/freshness``, ``/status``, ``/metrics`` and ``ticker check``, so the
four can never disagree about a station.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from ticker.errors import StoreError, StoreRefusedError
from ticker.freshness import (
    Cycle,
    State,
    StationFreshness,
    assess,
    from_epoch,
    human_age,
    parse_cycles,
)
from ticker.models import ATTRIBUTION_SIM_EN, KST, SIM_SOURCE, Observation, Station
from ticker.redaction import redact
from ticker.store import EMPTY_SNAPSHOT, Snapshot, Store
from ticker.wrn_health import WarningsHealth, judge_warnings, warnings_problem

CYCLES_SHOWN = 12
REPORT_TIMEOUT_S = 1.0  # every read of a report together; a Redis that hangs is "unreachable"

logger = logging.getLogger(__name__)

RedisState = Literal["ok", "unreachable", "refusing_writes"]


class Status(StrEnum):
    """Overall verdict, in the words of Nagios-style monitors."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def exit_code(self) -> int:
        return {"ok": 0, "warning": 1, "critical": 2}[self.value]


class SourceHealth(BaseModel):
    """One upstream's record: last success, last classified failure and failure counts."""

    name: str
    state: Literal["ok", "failing", "unknown"]
    last_success_at: AwareDatetime | None = None
    last_error_at: AwareDatetime | None = None
    last_error_kind: str | None = None
    last_error: str | None = None
    errors: dict[str, int] = Field(default_factory=dict)


class LeaseHolder(BaseModel):
    """The process that holds the poll lease, from its token (host:pid:random)."""

    host: str
    pid: int | None
    expires_in_s: float = Field(description="until the lease runs out unless renewed")
    epoch: int | None = Field(default=None, description="fencing epoch of the last cycle")

    @classmethod
    def from_token(cls, token: str, pttl_ms: int, epoch: int | None) -> LeaseHolder:
        host, _, rest = token.partition(":")
        pid = rest.partition(":")[0]
        return cls(
            host=host or token,
            pid=int(pid) if pid.isdigit() else None,
            expires_in_s=round(pttl_ms / 1000, 1),
            epoch=epoch,
        )


class PollerHealth(BaseModel):
    alive: bool
    last_cycle_at: AwareDatetime | None = None
    heartbeat_age_s: int | None = None
    max_silence_s: int
    interval_s: float
    holder: LeaseHolder | None = Field(default=None, description="who holds the poll lease")


class FreshnessReport(BaseModel):
    """The body of GET /v1/freshness."""

    generated_at: AwareDatetime
    status: Status
    summary: str
    problems: list[str]
    counts: dict[State, int]
    redis: RedisState = Field(
        description="ok; unreachable (no answer); refusing_writes (answers, but takes no writes)"
    )
    redis_reason: str | None = Field(
        default=None, description="why Redis is not ok: out of memory, read-only replica, ..."
    )
    version: int | None = Field(description="snapshot version in Redis")
    served_version: int | None = Field(default=None, description="version this process serves")
    poller: PollerHealth
    sources: list[SourceHealth]
    stations: list[StationFreshness]
    cycles: list[Cycle]
    warnings: WarningsHealth | None = Field(default=None, description="the weather-warnings feed")
    simulated: bool = Field(default=False, description="true when any stored value is simulated")


class RedisStateLog:
    """Logs Redis's state once when it goes wrong (and why) and once when it is ok again."""

    def __init__(self) -> None:
        self.state: RedisState = "ok"
        self.reason: str | None = None

    def update(self, state: RedisState, reason: str | None) -> None:
        if state == self.state and (state == "ok" or reason == self.reason):
            return
        if state == "ok":
            logger.info("Redis ok again (was %s)", self.state.replace("_", " "))
        elif state == "refusing_writes":
            logger.warning("Redis reachable but refusing writes: %s", reason)
        else:
            logger.warning("Redis unreachable: %s", reason)
        self.state, self.reason = state, reason


def source_health(name: str, raw: Mapping[str, str], tz: Any = KST) -> SourceHealth:
    """A source's Redis hash as a typed record."""
    success = from_epoch(raw.get("last_success"), tz)
    error_at = from_epoch(raw.get("last_error_at"), tz)
    errors = {
        key.removeprefix("errors:"): int(value)
        for key, value in sorted(raw.items())
        if key.startswith("errors:") and value.lstrip("-").isdigit()
    }
    if success is None and error_at is None:
        state: Literal["ok", "failing", "unknown"] = "unknown"
    elif error_at is not None and (success is None or error_at >= success):
        state = "failing"
    else:
        state = "ok"
    return SourceHealth(
        name=name,
        state=state,
        last_success_at=success,
        last_error_at=error_at,
        last_error_kind=raw.get("last_error_kind"),
        last_error=None if raw.get("last_error") is None else redact(raw["last_error"]),
        errors=errors,
    )


def max_silence_s(interval_s: float) -> int:
    """How long the poller may stay quiet before it counts as not polling (its heartbeat TTL)."""
    return int(interval_s * 3 + 30)


def poller_health(
    heartbeat: Mapping[str, Any] | None,
    lease: tuple[str | None, int] | None,
    now: datetime,
    *,
    interval_s: float,
) -> PollerHealth:
    """Whether the poller is polling, judged by its heartbeat; and who holds the lease."""
    limit = max_silence_s(interval_s)
    last = from_epoch(heartbeat.get("started_at"), now.tzinfo) if heartbeat else None
    age = int((now - last).total_seconds()) if last else None
    process = None
    if lease is not None and lease[0]:
        epoch = heartbeat.get("epoch") if heartbeat else None
        process = LeaseHolder.from_token(lease[0], lease[1], epoch if isinstance(epoch, int) else None)
    return PollerHealth(
        alive=age is not None and age <= limit,
        last_cycle_at=last,
        heartbeat_age_s=age,
        max_silence_s=limit,
        interval_s=interval_s,
        holder=process,
    )


def build_report(
    stations: Sequence[Station],
    now: datetime,
    *,
    redis_ok: bool,
    redis_state: RedisState | None = None,
    redis_reason: str | None = None,
    observations: Mapping[int, Observation],
    fetched_at: Mapping[int, float],
    version: int | None,
    heartbeat: Mapping[str, Any] | None,
    lease: tuple[str | None, int] | None,
    cycles: Sequence[Mapping[str, Any]],
    sources: Mapping[str, Mapping[str, str]],
    interval_s: float,
    served_version: int | None = None,
    warnings: WarningsHealth | None = None,
) -> FreshnessReport:
    """Judge every station, source and the poller, and sum it up in one verdict."""
    now = now.astimezone(KST)
    parsed_cycles = parse_cycles(cycles)
    rows = assess(stations, observations, fetched_at, now, cycles=parsed_cycles)
    health = [source_health(name, raw) for name, raw in sources.items()]
    poller = poller_health(heartbeat, lease, now, interval_s=interval_s)
    counts = {state: sum(1 for r in rows if r.state is state) for state in State}
    state: RedisState = redis_state or ("ok" if redis_ok else "unreachable")
    critical, warning = _problems(rows, health, poller, redis_ok=redis_ok)
    if warnings is not None and (problem := warnings_problem(warnings)) and redis_ok:
        critical.append(problem)
    if state == "refusing_writes":
        # Reachable: say what it refuses, never "unreachable".
        critical = [p for p in critical if p != "Redis unreachable"]
        critical.insert(0, f"Redis refusing writes: {redis_reason or 'unknown reason'}")
    status = Status.CRITICAL if critical else Status.WARNING if warning else Status.OK
    problems = critical + warning
    fresh = counts[State.FRESH]
    summary = problems[0] if problems else f"{fresh} of {len(rows)} stations fresh"
    simulated = any(o.source == SIM_SOURCE for o in observations.values())
    return FreshnessReport(
        generated_at=now.replace(microsecond=0),
        status=status,
        summary=summary,
        problems=problems,
        counts=counts,
        redis=state,
        redis_reason=redis_reason if state != "ok" else None,
        version=version,
        served_version=served_version,
        poller=poller,
        sources=health,
        stations=rows,
        cycles=parsed_cycles[:CYCLES_SHOWN],
        warnings=warnings,
        simulated=simulated,
    )


def _problems(
    rows: Sequence[StationFreshness],
    sources: Sequence[SourceHealth],
    poller: PollerHealth,
    *,
    redis_ok: bool,
) -> tuple[list[str], list[str]]:
    critical: list[str] = []
    warning: list[str] = []
    if not redis_ok:
        critical.append("Redis unreachable")
    bad = [r for r in rows if r.state in (State.STALE, State.MISSING)]
    if bad:
        names = ", ".join(f"{r.name} {r.state.value}" for r in bad)
        critical.append(f"{len(bad)} of {len(rows)} stations stale or missing: {names}")
    if redis_ok and not poller.alive:
        if poller.last_cycle_at is None:
            critical.append("poller not polling: no poll cycle recorded")
        else:
            ago = human_age(poller.heartbeat_age_s)
            critical.append(f"poller not polling: last cycle {ago} ago")
    late = [r for r in rows if r.state is State.LATE]
    if late:
        names = ", ".join(r.name for r in late)
        warning.append(f"{len(late)} of {len(rows)} stations late: {names}")
    for source in sources:
        if source.state == "failing":
            warning.append(failing_note(source))
    return critical, warning


def headline(report: FreshnessReport) -> str:
    """A short line for the top of a page: what is wrong, in a few words."""
    parts = [f"{n} {state.value}" for state, n in report.counts.items() if n and state is not State.FRESH]
    if report.redis == "refusing_writes":
        parts.insert(0, f"Redis refusing writes ({report.redis_reason})")
    elif report.redis != "ok":
        parts.insert(0, "Redis unreachable")
    elif not report.poller.alive:
        parts.append("poller not polling")
    parts += [f"{s.name} failing ({s.last_error_kind})" for s in report.sources if s.state == "failing"]
    if report.simulated:
        parts.append(ATTRIBUTION_SIM_EN)
    if not parts:
        return report.summary
    fresh = f"{report.counts[State.FRESH]} of {len(report.stations)} stations fresh"
    return " · ".join([*parts, fresh])


def failing_note(source: SourceHealth) -> str:
    """'kma_apihub failing, last at 07-28 15:05 KST (quota: ...)': what a failing source said."""
    when = source.last_error_at.astimezone(KST).strftime("%m-%d %H:%M") if source.last_error_at else "?"
    why = " ".join((source.last_error or "").split())
    return f"{source.name} failing, last at {when} KST ({source.last_error_kind or '?'}: {why})"


def check_line(report: FreshnessReport) -> str:
    """One line for cron and Nagios-style monitors: verdict, station count, then each problem."""
    fresh = f"{report.counts[State.FRESH]} of {len(report.stations)} stations fresh"
    return f"{report.status.value.upper()} - " + "; ".join([fresh, *report.problems])


async def load_report(
    store: Store,
    stations: Sequence[Station],
    now: datetime,
    *,
    interval_s: float,
    source_names: Iterable[str],
    fallback: Snapshot | None = None,
    served_version: int | None = None,
    warnings_source: str | None = None,
    warnings_max_age_s: float = 1800.0,
    timeout_s: float = REPORT_TIMEOUT_S,
) -> FreshnessReport:
    """Read everything the report needs from Redis; with Redis away, judge ``fallback``.

    Every read together takes at most ``timeout_s``: a Redis that accepts connections but does
    not answer (paused, swapping) is reported as unreachable, not waited for.
    """
    wanted = list(source_names)
    warnings: WarningsHealth | None = None
    state: RedisState = "ok"
    reason: str | None = None
    try:
        async with asyncio.timeout(timeout_s):
            snap = await store.load_snapshot()
            heartbeat = await store.load_heartbeat()
            lease: tuple[str | None, int] | None = await store.lease_holder()
            cycles = await store.load_cycles()
            sources = {name: await store.load_source(name) for name in wanted}
            # Other sources that stored observations (a fallback, a former one), if they keep a record.
            for name in {o.source for o in snap.observations.values()} - set(sources):
                if raw := await store.load_source(name):
                    sources[name] = raw
            if warnings_source is not None:
                raw = await store.load_source(warnings_source)
                if raw:
                    sources[warnings_source] = raw
                ok_at = await store.load_warnings_ok()
                warnings = judge_warnings(warnings_source, raw, ok_at, now, max_age_s=warnings_max_age_s)
            redis_ok = True
            try:
                await store.probe_write()
            except StoreRefusedError as err:
                state, reason = "refusing_writes", err.reason
    except (StoreError, TimeoutError) as err:
        snap = fallback or EMPTY_SNAPSHOT
        heartbeat = lease = None
        cycles, sources, redis_ok = [], {name: {} for name in wanted}, False
        if isinstance(err, StoreRefusedError):
            state, reason = "refusing_writes", err.reason
        else:
            state = "unreachable"
            reason = f"no answer within {timeout_s:g} s" if isinstance(err, TimeoutError) else str(err)
    return build_report(
        stations,
        now,
        redis_ok=redis_ok,
        redis_state=state,
        redis_reason=reason,
        observations=snap.observations,
        fetched_at=snap.fetched_at,
        version=snap.version if redis_ok else None,
        heartbeat=heartbeat,
        lease=lease,
        cycles=cycles,
        sources=sources,
        interval_s=interval_s,
        served_version=served_version,
        warnings=warnings,
    )

"""How the weather-warnings feed is doing: judged from Redis for /status, /metrics and ``ticker check``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from ticker.freshness import from_epoch, human_age
from ticker.redaction import redact


class WarningsHealth(BaseModel):
    """The warnings feed: when it last answered, and whether warnings are shown because of it."""

    source: str
    status: Literal["ok", "unknown", "not_polled"] = Field(
        description="ok: answered within max_age_s; unknown: older or never (no warning is shown); "
        "not_polled: no attempt recorded yet"
    )
    last_success_at: AwareDatetime | None = None
    age_s: int | None = Field(default=None, description="seconds since the last successful answer")
    max_age_s: int
    last_error_kind: str | None = None
    last_error: str | None = None


def judge_warnings(
    source: str, raw: Mapping[str, str], ok_at: float | None, now: datetime, *, max_age_s: float
) -> WarningsHealth:
    """The feed's health from its source record and the time of its last stored answer."""
    last = from_epoch(ok_at, now.tzinfo) if ok_at is not None else None
    age = int((now - last).total_seconds()) if last is not None else None
    if last is None and not raw:
        status: Literal["ok", "unknown", "not_polled"] = "not_polled"
    elif age is None or age > max_age_s:
        status = "unknown"
    else:
        status = "ok"
    return WarningsHealth(
        source=source,
        status=status,
        last_success_at=last,
        age_s=age,
        max_age_s=int(max_age_s),
        last_error_kind=raw.get("last_error_kind"),
        last_error=None if raw.get("last_error") is None else redact(raw["last_error"]),
    )


def warnings_problem(health: WarningsHealth) -> str | None:
    """The critical problem line when warnings cannot be shown, else None."""
    if health.status != "unknown":
        return None
    when = "never" if health.age_s is None else f"not for {human_age(health.age_s)}"
    why = (
        f" ({health.last_error_kind}: {' '.join((health.last_error or '').split())})"
        if health.last_error_kind
        else ""
    )
    return (
        f"weather warnings feed {health.source} answered {when} (limit {human_age(health.max_age_s)}); "
        f"warnings removed from the widget{why}"
    )

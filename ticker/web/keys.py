"""Typed application keys of the web side, in one place."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web

from ticker.config import Settings
from ticker.metrics import Metrics
from ticker.models import Station
from ticker.report import RedisStateLog
from ticker.store import Store

if TYPE_CHECKING:
    from ticker.web.answer import Answer, HotAnswers
    from ticker.web.scripts import PinnedScript
    from ticker.web.snapshot import LiveSnapshot
    from ticker.web.traffic import HotTally

SETTINGS = web.AppKey("settings", Settings)
ROLE: web.AppKey[str] = web.AppKey("role")
STATIONS: web.AppKey[list[Station]] = web.AppKey("stations")
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")
STORE = web.AppKey("store", Store)
METRICS = web.AppKey("metrics", Metrics)
LIVE: web.AppKey[LiveSnapshot] = web.AppKey("live")
HOT_TALLY: web.AppKey[HotTally] = web.AppKey("hot_tally")
HOT_ANSWERS: web.AppKey[HotAnswers] = web.AppKey("hot_answers")
EMBED_SCRIPT: web.AppKey[PinnedScript] = web.AppKey("embed_script")
REDIS_STATE = web.AppKey("redis_state", RedisStateLog)
HOT_MISS: web.AppKey[Callable[[str], Answer | None]] = web.AppKey("hot_miss")
